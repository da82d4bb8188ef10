-- Allocates until the Lua heap limit stops it; the error is an ordinary Lua
-- error, and the next handler still runs with memory to spare.
function on_up(t)
	local hog = {}
	for i = 1, 1e9 do hog[i] = string.rep("x", 4096) .. i end
end

function on_down(t)
	local f = assert(io.open(os.getenv("NP_HOOKTEST_OUT"), "a"))
	f:write("down ran\n")
	f:close()
end
