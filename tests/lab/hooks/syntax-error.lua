-- syntax-error.lua (test_hooks_failure): line 4 does not parse.
function on_up(t)
	local x = 1
	x = = 2
end
