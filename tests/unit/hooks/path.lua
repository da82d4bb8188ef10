-- Logs where require looks (test_hooks: the daemon's search path).
natpunch.log.info("package.path=" .. package.path)
