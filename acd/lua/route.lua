-- One routing decision, atomically: the head caller of one queue gets the longest-idle ready
-- seat of the first ring (KEYS[3..], in ring order) that has one.
-- KEYS[1] queue zset, KEYS[2] ringing zset, KEYS[3..] ready zsets (own city first)
-- ARGV[1] now ms, ARGV[2] ring timeout ms, ARGV[3] key prefix, ARGV[4] expected head ('' = any)
-- Every key shares the {acd} hash tag; seat/call hashes are named from ARGV[3] with it.
local head = redis.call('ZRANGE', KEYS[1], 0, 0)
if #head == 0 then return {'empty'} end
local call_id = head[1]
if ARGV[4] ~= '' and call_id ~= ARGV[4] then return {'retry'} end
local pfx = ARGV[3]
for i = 3, #KEYS do
  local cand = redis.call('ZRANGE', KEYS[i], 0, 0)
  if #cand > 0 then
    local seat_id = cand[1]
    local seat_key = pfx .. 'seat:' .. seat_id
    local seat = redis.call('HMGET', seat_key, 'state', 'city', 'skills', 'endpoint')
    if seat[1] ~= 'ready' then
      -- a stale entry (the seat changed state without leaving the set): drop it, try again
      redis.call('ZREM', KEYS[i], seat_id)
      return {'retry'}
    end
    for skill in string.gmatch(seat[3] or '', '([^,]+)') do
      redis.call('ZREM', pfx .. 'ready:' .. seat[2] .. ':' .. skill, seat_id)
    end
    redis.call('HSET', seat_key, 'state', 'ringing', 'call', call_id, 'since', ARGV[1])
    redis.call('HSET', pfx .. 'call:' .. call_id, 'state', 'ringing', 'seat', seat_id,
      'seat_city', seat[2], 'offered_at', ARGV[1])
    redis.call('ZREM', KEYS[1], call_id)
    redis.call('ZADD', KEYS[2], tonumber(ARGV[1]) + tonumber(ARGV[2]), call_id)
    local seq = redis.call('INCR', pfx .. 'seq')
    return {'routed', call_id, seat_id, seat[2], seat[4] or '', tostring(seq), tostring(i - 2)}
  end
end
return {'noseat', call_id}
