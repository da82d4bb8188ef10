-- A slow endpoint_change handler, for the event flood test.
local function out(line)
	local f = assert(io.open(os.getenv("NP_HOOKTEST_OUT"), "a"))
	f:write(line, "\n")
	f:close()
end

function on_up(t) out("up " .. tostring(t.reason)) end
function on_down(t) out("down " .. tostring(t.reason)) end
function on_punch_failed(t) out("punch_failed " .. t.attempts) end

function on_endpoint_change(t)
	natpunch.sleep(0.05)
	out("ec " .. t.peer.port)
end
