-- Put ringing calls back in their queue at their original place; the seat that did not
-- answer is paused (reason ARGV[4]), or goes offline when it logged out (ARGV[5] = seat id).
-- KEYS[1] ringing zset. ARGV[1] now ms, ARGV[2] key prefix, ARGV[3] one call id or '' for
-- every call whose ring deadline passed, ARGV[4] pause reason, ARGV[5] seat logging out or ''.
-- ARGV[2]: the key prefix (read by the key functions acd.queue.scripts puts first)
local calls
if ARGV[3] ~= '' then
  calls = {ARGV[3]}
else
  calls = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
end
local out = {}
for _, call_id in ipairs(calls) do
  local call_key = key_call(call_id)
  local c = redis.call('HMGET', call_key, 'state', 'seat', 'city', 'skill', 'score')
  if c[1] == 'ringing' then
    redis.call('ZREM', KEYS[1], call_id)
    redis.call('ZADD', key_q(c[3], c[4]), c[5], call_id)
    redis.call('HSET', call_key, 'state', 'waiting')
    redis.call('HDEL', call_key, 'seat', 'seat_city', 'offered_at')
    local seat_key = key_seat(c[2])
    local s = redis.call('HMGET', seat_key, 'state', 'call')
    if s[1] == 'ringing' and s[2] == call_id then
      if ARGV[5] == c[2] then
        redis.call('HSET', seat_key, 'state', 'offline', 'since', ARGV[1])
      else
        redis.call('HSET', seat_key, 'state', 'paused', 'reason', ARGV[4], 'since', ARGV[1])
      end
      redis.call('HDEL', seat_key, 'call')
    end
    table.insert(out, call_id)
    table.insert(out, c[2])
  end
end
return out
