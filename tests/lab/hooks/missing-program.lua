-- missing-program.lua (test_hooks_failure): on_up runs a program that does
-- not exist. natpunch.exec returns status 127 and a "command not found"
-- message on stderr; the hook turns that into an error.
function on_up(t)
	local status, _, stderr = natpunch.exec{ "np-test-no-such-program", "--flag" }
	if status ~= 0 then
		error(("np-test: exec failed with status %d: %s"):format(status, (stderr:gsub("%s+$", ""))))
	end
end
