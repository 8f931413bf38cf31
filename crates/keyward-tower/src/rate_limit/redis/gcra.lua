-- GCRA (generic cell rate algorithm) for one lineage's budget, decided atomically in Redis.
--
-- The key holds the theoretical arrival time (TAT): the Redis server time, in microseconds, at
-- which the budget is whole again. Every process reads the same clock (TIME), so they agree.
--
-- KEYS[1]  the budget's key
-- ARGV[1]  the emission interval: microseconds for one unit to come back (period / limit)
-- ARGV[2]  the limit: units in a whole budget, which is also the largest burst
-- ARGV[3]  the cost: units this request spends (1 <= cost <= limit, checked by the caller)
--
-- Returns {allowed, until_whole, retry_after}, times in microseconds:
--   {1, time until the budget is whole after spending, 0}
--   {0, time until the budget is whole, time until the cost is available}  (nothing spent)

-- Redis 3.2 and 4 replicate a script that writes after TIME only in this mode; later
-- versions always do, and keep the function for compatibility.
if redis.replicate_commands then
  redis.replicate_commands()
end

local interval = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])

local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then
  tat = now
end

local new_tat = tat + cost * interval
local allow_at = new_tat - limit * interval
if allow_at > now then
  return {0, tat - now, allow_at - now}
end

-- The key lives exactly as long as the budget is not whole: a missing key is a whole budget.
local until_whole = new_tat - now
redis.call('SET', KEYS[1], string.format('%d', new_tat),
  'PX', string.format('%d', math.ceil(until_whole / 1000)))
return {1, until_whole, 0}
