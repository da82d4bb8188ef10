-- 20-stall.lua (tests/soak): while the file named by NP_SOAK_HANG exists,
-- on_up stalls in one C call (a backtracking string.find) that the
-- instruction watchdog never interrupts: the stall alarm kills the hook
-- worker after --hook-timeout and the helper starts a new one.
local flag = os.getenv("NP_SOAK_HANG")

local function hanging()
	local f = flag and io.open(flag, "r")
	if f then f:close() end
	return f ~= nil
end

function on_up(t)
	if not hanging() then return end
	natpunch.log.info("np-soak: on_up stalling (" .. tostring(t.reason) .. ")")
	string.find(string.rep("a", 100000), ".-.-.-.-b")
	natpunch.log.info("np-soak: the stalled on_up was not stopped")
end
