-- Seats whose wrap-up time is over become ready (idle since the end of their wrap-up).
-- KEYS[1] wrap-up zset. ARGV[1] now ms, ARGV[2] key prefix.
-- ARGV[2]: the key prefix (read by the key functions acd.queue.scripts puts first)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, seat_id in ipairs(due) do
  redis.call('ZREM', KEYS[1], seat_id)
  local seat_key = key_seat(seat_id)
  local s = redis.call('HMGET', seat_key, 'state', 'city', 'skills', 'wrap_until')
  if s[1] == 'wrapup' then
    redis.call('HSET', seat_key, 'state', 'ready', 'since', s[4], 'idle_since', s[4])
    redis.call('HDEL', seat_key, 'wrap_until')
    for skill in string.gmatch(s[3] or '', '([^,]+)') do
      redis.call('ZADD', key_ready(s[2], skill), s[4], seat_id)
    end
  end
end
return due
