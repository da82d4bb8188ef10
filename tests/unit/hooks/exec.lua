-- Exercises natpunch.exec; results go to $NP_HOOKTEST_OUT.
local natpunch = require "natpunch"

local function out(...)
	local f = assert(io.open(os.getenv("NP_HOOKTEST_OUT"), "a"))
	f:write(table.concat({ ... }, "|"), "\n")
	f:close()
end

function on_up(t)
	local st, o, e = natpunch.exec{ "/bin/echo", "hello", "world; rm -rf /" }
	out("echo", st, o, e)
	st, o, e = natpunch.exec{ "/bin/sh", "-c", "echo to-err >&2; exit 3" }
	out("sh", st, o, e)
	st, o, e = natpunch.exec{ "natpunch-no-such-program-xyz", "arg" }
	out("missing", st, o, e)
	st, o, e = natpunch.exec{ "cat", stdin = "fed through stdin" }
	out("cat", st, o, e)
	st, o, e = natpunch.exec{ "/bin/sh", "-c", "kill -TERM $$" }
	out("signal", st, o, e)
	st, o = natpunch.exec{ "head", "-c", "100000", "/dev/zero" }
	out("big", st, #o)
	natpunch.log.info("exec hook", "done", 42)
end

-- stdin the child never reads must not SIGPIPE the daemon
function on_endpoint_change(t)
	local st = natpunch.exec{ "/bin/true", stdin = string.rep("x", 1 << 20) }
	local f = assert(io.open(os.getenv("NP_HOOKTEST_OUT"), "a"))
	f:write("nosigpipe|", st, "\n")
	f:close()
end
