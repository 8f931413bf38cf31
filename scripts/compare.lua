-- wrk script of scripts/compare: every request carries `Authorization: Bearer <token>`, taking
-- turns through the tokens in the file named by $KEYWARD_COMPARE_TOKENS (none for bare axum).
-- Counts the statuses and prints them when wrk is done, so that a refused request shows.

dofile("scripts/wrk_statuses.lua")

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
end

function request()
    n = n + 1
    if #tokens == 0 then
        return wrk.format("GET", nil, {})
    end
    return wrk.format("GET", nil, { ["Authorization"] = tokens[(n % #tokens) + 1] })
end

function done(summary, latency, requests)
    io.write(statuses_line() .. "\n")
    io.write(string.format("p50_us %d\np99_us %d\nrps %.0f\n",
        latency:percentile(50), latency:percentile(99), summary.requests / (summary.duration / 1e6)))
end
