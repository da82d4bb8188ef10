-- on_up stalls in one C call; on_down records that it ran.
local function out(line)
	local f = assert(io.open(os.getenv("NP_HOOKTEST_OUT"), "a"))
	f:write(line, "\n")
	f:close()
end

function on_up(t)
	out("up " .. tostring(t.reason))
	string.find(string.rep("a", 100000), ".-.-.-.-b")
	out("up not stopped")
end

function on_down(t)
	out("down " .. tostring(t.reason) .. " " .. tostring(t.ifname))
end
