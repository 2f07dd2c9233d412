-- The seat answered: the call is talking, the seat busy.
-- KEYS[1] ringing zset. ARGV[1] call id, ARGV[2] now ms, ARGV[3] key prefix.
-- ARGV[3]: the key prefix (read by the key functions acd.queue.scripts puts first)
local call_key = key_call(ARGV[1])
local c = redis.call('HMGET', call_key, 'state', 'seat')
if c[1] ~= 'ringing' then return {'not_ringing', c[1] or 'gone'} end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HSET', call_key, 'state', 'talking', 'answered_at', ARGV[2])
redis.call('HSET', key_seat(c[2]), 'state', 'busy', 'since', ARGV[2])
return {'ok', c[2]}
