-- sleep-on-up.lua (test_hooks_blocking): an on_up that takes 6 s (a 5 s
-- natpunch.sleep, then a 1 s child process). The tunnel must keep carrying
-- traffic meanwhile: both yield to the event loop.
function on_up(t)
	natpunch.log.info("np-test: on_up sleeping")
	natpunch.sleep(5)
	local status = natpunch.exec{ "sleep", "1" }
	natpunch.log.info("np-test: on_up woke, exec status " .. status)
end
