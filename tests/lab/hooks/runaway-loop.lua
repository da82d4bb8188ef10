-- runaway-loop.lua (test_hooks_failure): on_up never ends on its own; the
-- instruction-count watchdog must stop it (and a pcall cannot swallow that).
function on_up(t)
	local n = 0
	while true do
		pcall(function() n = n + 1 end)
	end
end
