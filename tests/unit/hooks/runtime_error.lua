local function helper(t)
	error("boom in " .. t.event)
end

function on_up(t)
	helper(t)
end

function on_down(t)
	local f = assert(io.open(os.getenv("NP_HOOKTEST_OUT"), "a"))
	f:write("down ran\n")
	f:close()
end
