-- A caller joins its city's queue for a skill (a script, not a MULTI, so that it is fenced
-- like every other ACD write: a deposed controller replaying a stale HotlineRoute must not
-- put a call that is already talking back in the queue). Returns its 0-based rank.
-- KEYS[1] queue zset. ARGV[1] call id, ARGV[2] key prefix, ARGV[3] city, ARGV[4] skill,
-- ARGV[5] priority, ARGV[6] arrival ms, ARGV[7] score, ARGV[8] channel, ARGV[9] caller number.
-- ARGV[2]: the key prefix (read by the key functions acd.queue.scripts puts first)
local call_id = ARGV[1]
redis.call('HSET', key_call(call_id), 'state', 'waiting', 'city', ARGV[3], 'skill', ARGV[4],
  'priority', ARGV[5], 'arrival', ARGV[6], 'score', ARGV[7], 'channel', ARGV[8],
  'caller', ARGV[9])
redis.call('ZADD', KEYS[1], ARGV[7], call_id)
redis.call('SADD', key_active(ARGV[3]), call_id)
return redis.call('ZRANK', KEYS[1], call_id)
