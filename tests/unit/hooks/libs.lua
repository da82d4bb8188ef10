-- Checks the shipped helper library without running nft or ip.
local fw = require "natpunch.firewall"
local route = require "natpunch.route"

local function out(line)
	local f = assert(io.open(os.getenv("NP_HOOKTEST_OUT"), "a"))
	f:write(line, "\n")
	f:close()
end

function on_up(t)
	out("table=" .. fw.table_name(t))
	local script = assert(fw.script(t, { allow_tcp = { 22, 8080 }, allow_udp = { 53 } }))
	out("tcp=" .. tostring(script:find('iifname "np-t0" tcp dport { 22, 8080 } accept', 1, true) ~= nil))
	out("drop=" .. tostring(script:find('iifname "np-t0" drop', 1, true) ~= nil))
	out("badport=" .. tostring(select(2, fw.script(t, { allow_tcp = { "22; flush ruleset" } }))))
	out("badif=" .. tostring(select(2, fw.up({ ifname = 'x" ; flush ruleset' }))))
	out("v4=" .. tostring(route.valid_prefix("192.168.50.0/24")))
	out("v6=" .. tostring(route.valid_prefix("fd00:50::/64")))
	out("evil=" .. tostring(route.valid_prefix("1.2.3.0/24 via 6.6.6.6")))
	out("badroute=" .. tostring(select(2, route.up(t, { "10.0.0.0/8", "-6.6.6.6/8" }))))
end
