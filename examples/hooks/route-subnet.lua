-- route-subnet.lua: reach the peer's LAN through the tunnel.
--
--   natpunch ... --hook examples/hooks/route-subnet.lua
--
-- On up, routes to the remote subnets go via the tun interface; on down they
-- are removed (they vanish with the device anyway). The peer must forward
-- (sysctl net.ipv4.ip_forward=1) and NAT or route back for this to work.
local route = require "natpunch.route"

local remote_subnets = { "192.168.50.0/24" }

function on_up(t)
	assert(route.up(t, remote_subnets))
	natpunch.log.info("routes to", table.concat(remote_subnets, ", "), "via", t.ifname)
end

function on_down(t)
	assert(route.down(t, remote_subnets))
end
