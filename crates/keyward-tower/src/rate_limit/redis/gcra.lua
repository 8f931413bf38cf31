-- GCRA (generic cell rate algorithm) for a batch of checks, decided atomically in Redis, in the
-- order given, exactly as the same checks sent one by one would be.
--
-- Each key holds a budget's theoretical arrival time (TAT): the Redis server time, in
-- microseconds, at which the budget is whole again. Every process reads the same clock (TIME),
-- so they agree; one batch is decided at one instant.
--
-- KEYS[i]          check i's budget key (a key may come more than once: its checks spend in turn)
-- ARGV[1]          Q, the number of distinct quotas in the batch
-- ARGV[3q - 1]     quota q's emission interval: microseconds for one unit to come back
--                  (period / limit), q = 1..Q
-- ARGV[3q]         quota q's limit: units in a whole budget, which is also the largest burst
-- ARGV[3q + 1]     quota q's lease: units a check that asks for a lease takes beyond its cost
-- ARGV[1 + 3Q + i] check i's cost, whether it asks for a lease, and its quota, packed:
--                  (cost * 2 + asks) * 1024 + (q - 1)
--                  (1 <= cost, cost + lease <= limit, checked by the caller; Q <= 1024)
--
-- A check that asks for a lease spends its cost and the lease together when the budget has
-- both, else its cost alone, as any other check.
--
-- Returns one integer a check:
--   > 0  allowed: (the time until the budget is whole after spending, in microseconds) * 2
--        + 1 when the lease was spent too
--   < 0  refused, nothing spent: minus the time until the cost is available, in microseconds

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
local leases = {}
for q = 1, quotas do
  intervals[q] = tonumber(ARGV[3 * q - 1])
  limits[q] = tonumber(ARGV[3 * q])
  leases[q] = tonumber(ARGV[3 * q + 1])
end
local checks = 1 + 3 * quotas

local tats = {}
local spent = {}
local replies = {}
for i, key in ipairs(KEYS) do
  local packed = tonumber(ARGV[checks + i])
  local q = packed % 1024
  local asked = (packed - q) / 1024
  local asks = asked % 2
  local cost = (asked - asks) / 2
  local interval = intervals[q + 1]
  local limit = limits[q + 1]

  local tat = tats[key]
  if tat == nil then
    tat = tonumber(redis.call('GET', key)) or now
    if tat < now then
      tat = now
    end
  end

  local leased = 0
  if asks == 1 and tat + (cost + leases[q + 1] - limit) * interval <= now then
    leased = 1
    cost = cost + leases[q + 1]
  end
  local new_tat = tat + cost * interval
  local allow_at = new_tat - limit * interval
  if allow_at > now then
    tats[key] = tat
    replies[i] = now - allow_at
  else
    tats[key] = new_tat
    spent[key] = true
    replies[i] = (new_tat - now) * 2 + leased
  end
end

-- A key lives exactly as long as its budget is not whole: a missing key is a whole budget.
for key in pairs(spent) do
  local until_whole = tats[key] - now
  redis.call('SET', key, string.format('%d', tats[key]),
    'PX', string.format('%d', math.ceil(until_whole / 1000)))
end
return replies
