-- Sleeps inside every handler and logs begin/end: runs must never interleave.
local natpunch = require "natpunch"

local function out(line)
	local f = assert(io.open(os.getenv("NP_HOOKTEST_OUT"), "a"))
	f:write(line, "\n")
	f:close()
end

local function h(t)
	out("a begin " .. t.event .. " " .. (t.reason or "-"))
	natpunch.sleep(0.05)
	out("a end " .. t.event)
end

on_up, on_down, on_endpoint_change, on_punch_failed = h, h, h, h
