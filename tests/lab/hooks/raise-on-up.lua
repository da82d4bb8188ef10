-- raise-on-up.lua (test_hooks_failure): on_up raises an error two calls deep,
-- so the traceback has something to show.
local function inner(t)
	error("np-test deliberate failure on " .. tostring(t.ifname))
end

local function outer(t)
	inner(t)
end

function on_up(t)
	outer(t)
end
