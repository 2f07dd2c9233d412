-- The caller's side of a call ended (hang-up or finished). Returns the outcome and the seat.
-- waiting, or in the dialplan's fallback Queue() -> abandoned; ringing -> abandoned while
-- ringing, the seat back to ready keeping its idle time; talking -> completed, the seat in
-- wrap-up until now + ARGV[4] ms.
-- KEYS[1] ringing zset, KEYS[2] wrap-up zset. ARGV[1] call id, ARGV[2] now ms, ARGV[3] prefix,
-- ARGV[4] wrap-up ms.
-- ARGV[3]: the key prefix (read by the key functions acd.queue.scripts puts first)
local call_key = key_call(ARGV[1])
local c = redis.call('HMGET', call_key, 'state', 'seat', 'city', 'skill')
if not c[1] then return {'unknown', ''} end
local outcome = 'completed'
if c[1] == 'waiting' then
  redis.call('ZREM', key_q(c[3], c[4]), ARGV[1])
  outcome = 'abandoned'
elseif c[1] == 'fallback' then
  -- In the dialplan's Queue(): a seat app_queue was ringing for it is free again.
  outcome = 'abandoned'
  local fb = redis.call('HGET', call_key, 'fb_seat')
  if fb then
    local seat_key = key_seat(fb)
    local s = redis.call('HMGET', seat_key, 'state', 'call', 'city', 'skills', 'idle_since')
    if s[1] == 'ringing' and s[2] == ARGV[1] then
      redis.call('HSET', seat_key, 'state', 'ready')
      redis.call('HDEL', seat_key, 'call')
      for skill in string.gmatch(s[4] or '', '([^,]+)') do
        redis.call('ZADD', key_ready(s[3], skill), s[5], fb)
      end
    end
  end
elseif c[1] == 'ringing' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  outcome = 'abandoned_ringing'
  local seat_key = key_seat(c[2])
  local s = redis.call('HMGET', seat_key, 'state', 'call', 'city', 'skills', 'idle_since')
  if s[1] == 'ringing' and s[2] == ARGV[1] then
    redis.call('HSET', seat_key, 'state', 'ready')
    redis.call('HDEL', seat_key, 'call')
    for skill in string.gmatch(s[4] or '', '([^,]+)') do
      redis.call('ZADD', key_ready(s[3], skill), s[5], c[2])
    end
  end
elseif c[1] == 'talking' then
  local seat_key = key_seat(c[2])
  local s = redis.call('HMGET', seat_key, 'state', 'call')
  if s[1] == 'busy' and s[2] == ARGV[1] then
    local until_ms = tonumber(ARGV[2]) + tonumber(ARGV[4])
    redis.call('HSET', seat_key, 'state', 'wrapup', 'since', ARGV[2], 'wrap_until', until_ms)
    redis.call('HDEL', seat_key, 'call')
    redis.call('ZADD', KEYS[2], until_ms, c[2])
  end
end
redis.call('DEL', call_key)
redis.call('SREM', key_active(c[3]), ARGV[1])
return {outcome, c[2] or ''}
