-- wrk script of scripts/compare: every request carries `Authorization: Bearer <token>`, taking
-- turns through the tokens in the file named by $KEYWARD_COMPARE_TOKENS (none for bare axum).
-- Counts the statuses and prints them when wrk is done, so that a refused request shows.

local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    tokens = {}
    local file = os.getenv("KEYWARD_COMPARE_TOKENS")
    if file and file ~= "" then
        for line in io.lines(file) do
            if line ~= "" then
                table.insert(tokens, "Bearer " .. line)
            end
        end
    end
    n = 0
    statuses = {}
end

function request()
    n = n + 1
    if #tokens == 0 then
        return wrk.format("GET", nil, {})
    end
    return wrk.format("GET", nil, { ["Authorization"] = tokens[(n % #tokens) + 1] })
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
    local totals = {}
    for _, thread in ipairs(threads) do
        local counts = thread:get("statuses")
        for status, count in pairs(counts) do
            totals[status] = (totals[status] or 0) + count
        end
    end
    local line = "statuses:"
    for status, count in pairs(totals) do
        line = line .. " " .. status .. "=" .. count
    end
    io.write(line .. "\n")
    io.write(string.format("p50_us %d\np99_us %d\nrps %.0f\n",
        latency:percentile(50), latency:percentile(99), summary.requests / (summary.duration / 1e6)))
end
