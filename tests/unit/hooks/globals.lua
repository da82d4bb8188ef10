-- Globals of a hook file stay in its own environment; writing to _G does
-- not make a handler for the other files. print() goes to the log.
local count = 1

rawset(_G, "on_endpoint_change", function(t)
	local f = assert(io.open(os.getenv("NP_HOOKTEST_OUT"), "a"))
	f:write("leaked\n")
	f:close()
end)

function on_up(t)
	print("hello from print", count)
	local f = assert(io.open(os.getenv("NP_HOOKTEST_OUT"), "a"))
	f:write("globals up ", count, "\n")
	f:close()
	assert(os.execute == nil and io.popen == nil and os.exit == nil)
end
