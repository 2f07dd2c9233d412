-- One routing decision, atomically: the head caller of one queue gets the longest-idle ready
-- seat of the first ring that has one. Ring 1 is the caller's city; ring 2 its helping cities
-- (多援一), in order; ring 3 every other city. Rings 2 and 3 open by the city's overflow rule.
-- KEYS[1] queue zset, KEYS[2] ringing zset, KEYS[3] the city's overflow hash
-- ARGV[1] now ms, ARGV[2] ring timeout ms, ARGV[3] key prefix, ARGV[4] skill,
-- ARGV[5] caller city, ARGV[6] EWT s, ARGV[7] all cities (comma list),
-- ARGV[8] default helpers (comma list), ARGV[9] default rule (JSON), ARGV[10] priority step
-- All keys share the {acd} hash tag; seat, call and ready keys are named from ARGV[3].
local skill, city = ARGV[4], ARGV[5]
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #head == 0 then return {'empty'} end
local call_id = head[1]
local now = tonumber(ARGV[1])
local wait_s = (now - (tonumber(head[2]) % tonumber(ARGV[10]))) / 1000

local function split(s)
  local out = {}
  for item in string.gmatch(s or '', '([^,]+)') do table.insert(out, item) end
  return out
end
local function over(value, threshold)
  return threshold ~= nil and threshold ~= cjson.null and value >= threshold
end

local cfg = redis.call('HMGET', KEYS[3], 'enabled', 'helpers', 'rule')
local helpers = cfg[2] and cjson.decode(cfg[2]) or split(ARGV[8])
local rule = cjson.decode(cfg[3] or ARGV[9])
local pool = {{1, city}}
if cfg[1] ~= '0' then
  local waiting = redis.call('ZCARD', KEYS[1])
  local ready = redis.call('ZCARD', key_ready(city, skill))
  local per_ready = ready > 0 and waiting / ready or waiting
  if over(wait_s, rule.wait_s) or over(tonumber(ARGV[6]), rule.ewt_s)
      or over(per_ready, rule.callers_per_ready) then
    local seen = {[city] = true}
    for _, h in ipairs(helpers) do
      if not seen[h] then table.insert(pool, {2, h}); seen[h] = true end
    end
    if over(wait_s, rule.all_cities_wait_s) then
      for _, c in ipairs(split(ARGV[7])) do
        if not seen[c] then table.insert(pool, {3, c}); seen[c] = true end
      end
    end
  end
end

for _, entry in ipairs(pool) do
  local ready_key = key_ready(entry[2], skill)
  local cand = redis.call('ZRANGE', ready_key, 0, 0)
  if #cand > 0 then
    local seat_id = cand[1]
    local seat_key = key_seat(seat_id)
    local seat = redis.call('HMGET', seat_key, 'state', 'city', 'skills', 'endpoint')
    if seat[1] ~= 'ready' then
      -- a stale entry (the seat changed state without leaving the set): drop it, try again
      redis.call('ZREM', ready_key, seat_id)
      return {'retry'}
    end
    for s in string.gmatch(seat[3] or '', '([^,]+)') do
      redis.call('ZREM', key_ready(seat[2], s), seat_id)
    end
    redis.call('HSET', seat_key, 'state', 'ringing', 'call', call_id, 'since', ARGV[1])
    local call_key = key_call(call_id)
    redis.call('HSET', call_key, 'state', 'ringing', 'seat', seat_id, 'seat_city', seat[2],
      'offered_at', ARGV[1])
    if seat[2] ~= city then redis.call('HSET', call_key, 'overflowed', '1') end
    redis.call('ZREM', KEYS[1], call_id)
    redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), call_id)
    local seq = redis.call('INCR', key_seq())
    return {'routed', call_id, seat_id, seat[2], seat[4] or '', tostring(seq), tostring(entry[1])}
  end
end
return {'noseat', call_id}
