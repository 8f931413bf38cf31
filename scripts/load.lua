-- wrk script of scripts/load: a mix of valid keys, one rate-limited key, garbage tokens and
-- well-formed tokens that no store holds, read from the file named by $KEYWARD_LOAD_TOKENS.
-- Counts each status per wrk thread and prints the totals when wrk is done.

dofile("scripts/wrk_statuses.lua")

function init(args)
    valid, limited, unknown = {}, {}, {}
    for line in io.lines(os.getenv("KEYWARD_LOAD_TOKENS")) do
        local kind, token = line:match("^(%S+) (%S+)$")
        if kind == "valid" then
            table.insert(valid, token)
        elseif kind == "limited" then
            table.insert(limited, token)
        elseif kind == "unknown" then
            table.insert(unknown, token)
        end
    end
    n = 0
    math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16))
end

local function garbage()
    local chars = {}
    for i = 1, 40 do
        chars[i] = string.char(math.random(97, 122))
    end
    return "kw_live_" .. table.concat(chars)
end

-- 60% valid keys, 10% the rate-limited key, 15% garbage, 15% unknown well-formed tokens.
function request()
    n = n + 1
    local roll = n % 20
    local token
    if roll < 12 then
        token = valid[(n % #valid) + 1]
    elseif roll < 14 then
        token = limited[1]
    elseif roll < 17 then
        token = garbage()
    else
        token = unknown[math.random(#unknown)]
    end
    return wrk.format("GET", "/v1/ping", { ["Authorization"] = "Bearer " .. token })
end

function done(summary, latency, requests)
    io.write(statuses_line() .. "\n")
    io.write(string.format("requests/s: %.0f\n", summary.requests / (summary.duration / 1e6)))
    io.write(string.format("latency p50: %.3f ms, p99: %.3f ms, max: %.3f ms\n",
        latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
    io.write(string.format("socket errors: connect %d, read %d, write %d, timeout %d\n",
        summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
