local natpunch = require "natpunch"

local function out(line)
	local f = assert(io.open(os.getenv("NP_HOOKTEST_OUT"), "a"))
	f:write(line, "\n")
	f:close()
end

function on_up(t)
	out("up start")
	natpunch.exec{ "/bin/sh", "-c", "sleep 100 & echo $! > \"$1\"; wait", "sh", os.getenv("NP_HOOKTEST_PID") }
	out("up not reached")
end

function on_down(t)
	out("down ran")
end
