-- A seat's own state change: ready, pause, logout, end of wrap-up.
-- KEYS[1] wrap-up zset. ARGV[1] seat id, ARGV[2] target (ready|paused|offline),
-- ARGV[3] pause reason, ARGV[4] now ms, ARGV[5] key prefix.
-- Ringing and busy seats cannot change here (logout while ringing goes through release.lua).
-- ARGV[5]: the key prefix (read by the key functions acd.queue.scripts puts first)
local seat_key = key_seat(ARGV[1])
local s = redis.call('HMGET', seat_key, 'state', 'city', 'skills')
if not s[1] then return {'err', 'unknown'} end
local from = s[1]
if from == 'ringing' or from == 'busy' then return {'err', from} end
local target = ARGV[2]
local function each_ready(fn)
  for skill in string.gmatch(s[3] or '', '([^,]+)') do
    fn(key_ready(s[2], skill))
  end
end
if target == 'ready' then
  if from ~= 'ready' then
    redis.call('HSET', seat_key, 'state', 'ready', 'since', ARGV[4], 'idle_since', ARGV[4])
    each_ready(function(k) redis.call('ZADD', k, ARGV[4], ARGV[1]) end)
  end
else
  each_ready(function(k) redis.call('ZREM', k, ARGV[1]) end)
  redis.call('HSET', seat_key, 'state', target, 'since', ARGV[4])
  if target == 'paused' then
    redis.call('HSET', seat_key, 'reason', ARGV[3])
  end
end
if target ~= 'paused' then redis.call('HDEL', seat_key, 'reason') end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', seat_key, 'wrap_until')
return {'ok', from}
