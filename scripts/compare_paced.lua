-- wrk script of scripts/compare with KEYWARD_COMPARE_PACED=1: the requests of scripts/compare.lua,
-- but each connection waits a millisecond (wrk's smallest delay) after an answer before it sends
-- the next request. 64 connections then offer about 45 000 requests a second, well under what
-- any variant over the memory store serves, so the latency is measured at one offered load for
-- all of them instead of at each one's saturation.

dofile("scripts/compare.lua")

function delay()
    return 1
end
