local natpunch = require "natpunch"

function on_up(t)
	natpunch.sleep(0.5)
	local f = assert(io.open(os.getenv("NP_HOOKTEST_OUT"), "a"))
	f:write("slept\n")
	f:close()
end
