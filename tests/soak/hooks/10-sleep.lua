-- 10-sleep.lua (tests/soak): while the file named by NP_SOAK_HANG exists,
-- on_up sleeps past --hook-timeout; the helper abandons the handler.
local flag = os.getenv("NP_SOAK_HANG")

local function hanging()
	local f = flag and io.open(flag, "r")
	if f then f:close() end
	return f ~= nil
end

function on_up(t)
	if not hanging() then return end
	natpunch.log.info("np-soak: on_up sleeping past the hook timeout (" .. tostring(t.reason) .. ")")
	natpunch.sleep(60)
	natpunch.log.info("np-soak: the sleeping on_up was not abandoned")
end
