-- firewall.lua: filter what reaches this host through the tunnel.
--
--   natpunch ... --hook examples/hooks/firewall.lua
--
-- On up, natpunch.firewall creates the nftables table inet natpunch_<ifname>:
-- on the tunnel interface only SSH, HTTP and DNS (plus ICMP and replies) get
-- in. On down the table goes away. Needs CAP_NET_ADMIN (the daemon has it).
local fw = require "natpunch.firewall"

function on_up(t)
	assert(fw.up(t, { allow_tcp = { 22, 80 }, allow_udp = { 53 } }))
end

function on_down(t)
	assert(fw.down(t))
end
