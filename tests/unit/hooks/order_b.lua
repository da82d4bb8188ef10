-- Second file: defines the same globals in its own environment.
local natpunch = require "natpunch"

local function out(line)
	local f = assert(io.open(os.getenv("NP_HOOKTEST_OUT"), "a"))
	f:write(line, "\n")
	f:close()
end

function on_up(t)
	out("b begin " .. t.event)
	natpunch.exec{ "/bin/sleep", "0.05" }
	out("b end " .. t.event)
end

function on_down(t)
	out("b down " .. (t.reason or "-") .. " " .. (t.ifname or "?"))
end
