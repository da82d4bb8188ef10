-- marker.lua (test_hooks_failure): appends "EVENT REASON" to the file named
-- by NP_TEST_MARKER, to show that handlers after failing ones still run.
local path = assert(os.getenv("NP_TEST_MARKER"), "NP_TEST_MARKER is not set")

local function mark(t)
	local f = assert(io.open(path, "a"))
	f:write(t.event, " ", tostring(t.reason), "\n")
	f:close()
end

on_up = mark
on_down = mark
