-- Claim a callback task and reserve a seat for it, in one step: a task is tried by one
-- controller at a time, and the seat is taken from the ready sets like a routing decision.
-- KEYS[1] the task's running key. ARGV[1] pseudo call id (cb-<task>-<attempt>), ARGV[2] now ms,
-- ARGV[3] key prefix, ARGV[4] claim ttl ms, ARGV[5] city, ARGV[6] task skill,
-- ARGV[7] citizen's number, ARGV[8] virtual arrival ms (0: none), ARGV[9] priority step,
-- ARGV[10] the one seat that must take it ('' for any: a 回访台 seat who clicked "call" rings
-- their own phone, not a colleague's), ARGV[11..] skills whose ready seats may take it, in
-- order. A skill other than 'callback' is used only when no caller who arrived before the
-- task's virtual arrival waits for it: the task keeps the caller's place in that queue. The
-- last two arguments are the fence (acd.queue.scripts), not skills.
local holder = redis.call('GET', KEYS[1])
if holder then return {'claimed', holder} end
local city, pseudo = ARGV[5], ARGV[1]
local virtual = tonumber(ARGV[8])

-- Reserve a ready seat for the task; false when the seat is not ready (a stale entry).
local function take(seat_id)
  local seat_key = key_seat(seat_id)
  local seat = redis.call('HMGET', seat_key, 'state', 'city', 'skills', 'endpoint')
  if seat[1] ~= 'ready' then return false end
  for s in string.gmatch(seat[3] or '', '([^,]+)') do
    redis.call('ZREM', key_ready(seat[2], s), seat_id)
  end
  redis.call('HSET', seat_key, 'state', 'ringing', 'call', pseudo, 'since', ARGV[2])
  redis.call('HSET', key_call(pseudo), 'state', 'ringing', 'seat', seat_id,
    'seat_city', seat[2], 'city', city, 'skill', ARGV[6], 'caller', ARGV[7],
    'arrival', ARGV[2], 'offered_at', ARGV[2], 'kind', 'callback')
  redis.call('SET', KEYS[1], pseudo, 'PX', ARGV[4])
  return {'ok', seat_id, seat[4] or ''}
end

if ARGV[10] ~= '' then
  return take(ARGV[10]) or {'noseat'}
end
for i = 11, #ARGV - 2 do
  local skill = ARGV[i]
  local usable = true
  if skill ~= 'callback' and virtual > 0 then
    local head = redis.call('ZRANGE', key_q(city, skill), 0, 0, 'WITHSCORES')
    if #head > 0 and (tonumber(head[2]) % tonumber(ARGV[9])) < virtual then usable = false end
  end
  local ready_key = key_ready(city, skill)
  while usable do
    local cand = redis.call('ZRANGE', ready_key, 0, 0)
    if #cand == 0 then break end
    local seat_id = cand[1]
    local got = take(seat_id)
    if got then return got end
    redis.call('ZREM', ready_key, seat_id)  -- a stale entry: drop it and look again
  end
end
return {'noseat'}
