-- Shared by the wrk scripts (scripts/load.lua, scripts/compare.lua): counts each response status
-- per wrk thread; `statuses_line()` sums the threads' counts into `statuses: 200=N 401=M …`.
-- wrk runs from the repository's root, where the scripts `dofile` this file.

local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

statuses = {}

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end

function statuses_line()
    local totals = {}
    for _, thread in ipairs(threads) do
        for status, count in pairs(thread:get("statuses")) do
            totals[status] = (totals[status] or 0) + count
        end
    end
    local codes = {}
    for status in pairs(totals) do
        table.insert(codes, status)
    end
    table.sort(codes)
    local line = "statuses:"
    for _, status in ipairs(codes) do
        line = line .. string.format(" %d=%d", status, totals[status])
    end
    return line
end
