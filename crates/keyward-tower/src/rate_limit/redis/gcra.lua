-- GCRA (generic cell rate algorithm) for a batch of checks, decided atomically in Redis, in the
-- order given, exactly as the same checks sent one by one would be.
--
-- Each key holds a budget's theoretical arrival time (TAT): the Redis server time, in
-- microseconds, at which the budget is whole again. Every process reads the same clock (TIME),
-- so they agree; one batch is decided at one instant.
--
-- KEYS[i]          check i's budget key (a key may come more than once: its checks spend in turn)
-- ARGV[1]          Q, the number of distinct quotas in the batch
-- ARGV[2q]         quota q's emission interval: microseconds for one unit to come back
--                  (period / limit), q = 1..Q
-- ARGV[2q + 1]     quota q's limit: units in a whole budget, which is also the largest burst
-- ARGV[1 + 2Q + i] check i's cost and quota, packed: cost * 1024 + (q - 1)
--                  (1 <= cost <= limit, checked by the caller; Q <= 1024)
--
-- Returns one integer a check, in microseconds:
--   > 0  allowed: the time until the budget is whole after spending
--   < 0  refused, nothing spent: minus the time until the cost is available

-- Redis 3.2 and 4 replicate a script that writes after TIME only in this mode; later
-- versions always do, and keep the function for compatibility.
if redis.replicate_commands then
  redis.replicate_commands()
end

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])

local quotas = tonumber(ARGV[1])
local intervals = {}
local limits = {}
for q = 1, quotas do
  intervals[q] = tonumber(ARGV[2 * q])
  limits[q] = tonumber(ARGV[2 * q + 1])
end
local checks = 1 + 2 * quotas

local tats = {}
local spent = {}
local replies = {}
for i, key in ipairs(KEYS) do
  local packed = tonumber(ARGV[checks + i])
  local q = packed % 1024
  local cost = (packed - q) / 1024
  local interval = intervals[q + 1]
  local limit = limits[q + 1]

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
    replies[i] = now - allow_at
  else
    tats[key] = new_tat
    spent[key] = true
    replies[i] = new_tat - now
  end
end

-- A key lives exactly as long as its budget is not whole: a missing key is a whole budget.
for key in pairs(spent) do
  local until_whole = tats[key] - now
  redis.call('SET', key, string.format('%d', tats[key]),
    'PX', string.format('%d', math.ceil(until_whole / 1000)))
end
return replies
