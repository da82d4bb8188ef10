function on_up(t)
	while true do end
end

function on_endpoint_change(t)
	-- a pcall must not be able to swallow the watchdog
	while true do pcall(function() while true do end end) end
end

function on_down(t)
	local f = assert(io.open(os.getenv("NP_HOOKTEST_OUT"), "a"))
	f:write("down ran\n")
	f:close()
end
