-- fw-allow-5201.lua (test_hooks_firewall): the shipped natpunch.firewall
-- module; only TCP 5201 (iperf3), ICMP and replies get in through the tunnel.
local fw = require "natpunch.firewall"

function on_up(t)
	assert(fw.up(t, { allow_tcp = { 5201 } }))
	natpunch.log.info("np-test: firewall up on", t.ifname)
end

function on_down(t)
	assert(fw.down(t))
	natpunch.log.info("np-test: firewall down on", t.ifname, "(" .. tostring(t.reason) .. ")")
end
