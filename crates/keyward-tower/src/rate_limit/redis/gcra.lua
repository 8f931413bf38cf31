-- GCRA (generic cell rate algorithm) for a batch of checks, decided atomically in Redis, in the
-- order given, exactly as the same checks sent one by one would be.
--
-- Each key holds a budget's theoretical arrival time (TAT): the Redis server time, in
-- microseconds, at which the budget is whole again. Every process reads the same clock (TIME),
-- so they agree; one batch is decided at one instant.
--
-- KEYS[i]      check i's budget key (a key may come more than once: its checks spend in turn)
-- ARGV[3i-2]   the emission interval: microseconds for one unit to come back (period / limit)
-- ARGV[3i-1]   the limit: units in a whole budget, which is also the largest burst
-- ARGV[3i]     the cost: units check i spends (1 <= cost <= limit, checked by the caller)
--
-- Returns three integers a check, {allowed, until_whole, retry_after}, times in microseconds:
--   1, time until the budget is whole after spending, 0
--   0, time until the budget is whole, time until the cost is available  (nothing spent)

-- Redis 3.2 and 4 replicate a script that writes after TIME only in this mode; later
-- versions always do, and keep the function for compatibility.
if redis.replicate_commands then
  redis.replicate_commands()
end

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])

local tats = {}
local spent = {}
local replies = {}
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[3 * i - 2])
  local limit = tonumber(ARGV[3 * i - 1])
  local cost = tonumber(ARGV[3 * i])

  local tat = tats[key]
  if tat == nil then
    tat = tonumber(redis.call('GET', key)) or now
    if tat < now then
      tat = now
    end
  end

  local new_tat = tat + cost * interval
  local allow_at = new_tat - limit * interval
  if allow_at > now then
    tats[key] = tat
    replies[#replies + 1] = 0
    replies[#replies + 1] = tat - now
    replies[#replies + 1] = allow_at - now
  else
    tats[key] = new_tat
    spent[key] = true
    replies[#replies + 1] = 1
    replies[#replies + 1] = new_tat - now
    replies[#replies + 1] = 0
  end
end

-- A key lives exactly as long as its budget is not whole: a missing key is a whole budget.
for key in pairs(spent) do
  local until_whole = tats[key] - now
  redis.call('SET', key, string.format('%d', tats[key]),
    'PX', string.format('%d', math.ceil(until_whole / 1000)))
end
return replies
