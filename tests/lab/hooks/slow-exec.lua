-- slow-exec.lua (test_hooks_failure): on_up waits on a child that outlives
-- --hook-timeout; the daemon must kill the child and abandon the handler.
function on_up(t)
	natpunch.log.info("np-test: slow-exec starting sleep 300")
	natpunch.exec{ "sleep", "300" }
	natpunch.log.info("np-test: slow-exec was not abandoned")
end
