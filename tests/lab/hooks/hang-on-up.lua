-- hang-on-up.lua (test_hooks_privsep): on_up stalls in one C call that the
-- instruction watchdog never interrupts (a backtracking string.find), the
-- stall the hook helper's alarm exists for; on_down records that it ran.
local marker = os.getenv("NP_TEST_MARKER")

local function mark(line)
	if not marker then return end
	local f = assert(io.open(marker, "a"))
	f:write(line, "\n")
	f:close()
end

function on_up(t)
	mark("up " .. tostring(t.reason))
	natpunch.log.info("np-test: on_up hanging")
	string.find(string.rep("a", 100000), ".-.-.-.-b")
	natpunch.log.info("np-test: on_up was not stopped")
end

function on_down(t)
	mark("down " .. tostring(t.reason))
end
