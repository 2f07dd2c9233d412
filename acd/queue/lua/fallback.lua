-- The dialplan's own Queue() (the [acd-wait] fallback) took a caller over, and app_queue
-- rings, connects or misses the seats of that queue. The call stays in the ACD (state
-- 'fallback', or 'talking' once a member answered) so its hang-up is recorded, but it is
-- out of the controller's queue: the controller never routes or Redirects it again.
-- KEYS[1] ringing zset, KEYS[2] wrap-up zset. ARGV[1] op (join|ring|answer|noanswer), ARGV[2] call id,
-- ARGV[3] now ms, ARGV[4] key prefix, ARGV[5] seat id ('' for join).
-- Returns {status, detail}: join -> {'ok', previous state} (a seat that was ringing for it
-- is freed: {'ok', 'ringing', seat}); ring/answer/noanswer -> {'ok', seat state before} or
-- {'err', why}.
local op, call_id, now, seat_id = ARGV[1], ARGV[2], ARGV[3], ARGV[5]
local call_key = key_call(call_id)
local c = redis.call('HMGET', call_key, 'state', 'seat', 'city', 'skill')
if not c[1] then return {'err', 'gone'} end

local function unready(sid, s)
  for skill in string.gmatch(s[3] or '', '([^,]+)') do
    redis.call('ZREM', key_ready(s[2], skill), sid)
  end
end
local function make_ready(sid)
  local seat_key = key_seat(sid)
  local s = redis.call('HMGET', seat_key, 'state', 'city', 'skills', 'idle_since')
  redis.call('HSET', seat_key, 'state', 'ready')
  redis.call('HDEL', seat_key, 'call')
  for skill in string.gmatch(s[3] or '', '([^,]+)') do
    redis.call('ZADD', key_ready(s[2], skill), s[4] or now, sid)
  end
end

if op == 'join' then
  local before = c[1]
  if before == 'waiting' then
    redis.call('ZREM', key_q(c[3], c[4]), call_id)
  elseif before == 'ringing' then
    -- The Redirect to [acd-connect] lost the race with the fallback: free the seat.
    redis.call('ZREM', KEYS[1], call_id)
    local s = redis.call('HMGET', key_seat(c[2]), 'state', 'call')
    if s[1] == 'ringing' and s[2] == call_id then make_ready(c[2]) end
  elseif before ~= 'fallback' then
    return {'err', before}
  end
  redis.call('HSET', call_key, 'state', 'fallback', 'fallback_at', now)
  redis.call('HDEL', call_key, 'seat', 'seat_city', 'offered_at')
  if before == 'ringing' then return {'ok', before, c[2]} end
  return {'ok', before}
end

if c[1] ~= 'fallback' then return {'err', c[1]} end
local seat_key = key_seat(seat_id)
local s = redis.call('HMGET', seat_key, 'state', 'city', 'skills', 'call')
if op == 'ring' then
  -- Reserve a ready seat app_queue rings, so the controller does not offer it a second call.
  if s[1] == 'ready' then
    unready(seat_id, s)
    redis.call('HSET', seat_key, 'state', 'ringing', 'call', call_id, 'since', now)
    redis.call('HSET', call_key, 'fb_seat', seat_id)
  end
  return {'ok', s[1] or 'unknown'}
elseif op == 'noanswer' then
  if s[1] == 'ringing' and s[4] == call_id then make_ready(seat_id) end
  redis.call('HDEL', call_key, 'fb_seat')
  return {'ok', s[1] or 'unknown'}
elseif op == 'answer' then
  redis.call('HSET', call_key, 'state', 'talking', 'answered_at', now, 'seat', seat_id,
    'seat_city', s[2] or c[3])
  redis.call('HDEL', call_key, 'fb_seat')
  if s[1] then
    if s[1] == 'ringing' and s[4] ~= call_id and s[4] then
      -- The seat rang for another call of the controller: that caller goes back in line.
      local other = key_call(s[4])
      local o = redis.call('HMGET', other, 'state', 'city', 'skill', 'score')
      if o[1] == 'ringing' then
        redis.call('ZREM', KEYS[1], s[4])
        redis.call('ZADD', key_q(o[2], o[3]), o[4], s[4])
        redis.call('HSET', other, 'state', 'waiting')
        redis.call('HDEL', other, 'seat', 'seat_city', 'offered_at')
      end
    end
    unready(seat_id, s)
    redis.call('ZREM', KEYS[2], seat_id)
    redis.call('HSET', seat_key, 'state', 'busy', 'call', call_id, 'since', now)
    redis.call('HDEL', seat_key, 'reason', 'wrap_until')
  end
  return {'ok', s[1] or 'unknown'}
end
return {'err', 'op'}
