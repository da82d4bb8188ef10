--- natpunch.route: routes through the tunnel interface.
--
--   local route = require "natpunch.route"
--   local nets = {"192.168.50.0/24", "fd00:50::/64"}
--   function on_up(t)   assert(route.up(t, nets)) end
--   function on_down(t) assert(route.down(t, nets)) end
--
-- route.up runs `ip route replace PREFIX dev IFNAME [metric N]` for each
-- prefix, route.down runs `ip route del PREFIX dev IFNAME`; a route that is
-- already gone (for example with the tun device) is not an error. Every
-- prefix is checked to be an IPv4 or IPv6 CIDR before anything runs. Both
-- return true, or nil and a message. No shell is involved.
--
-- Traffic *from* a routed subnet arrives from the peer with inner source
-- addresses in that subnet, which natpunch drops unless they are in
-- --allowed-ips (default: only the peer's tunnel address). So the side that
-- routes a peer's subnet also starts natpunch with, for example,
-- --allowed-ips 10.9.0.2/32,192.168.50.0/24.
local natpunch = require "natpunch"

local M = {}

M.ip = "ip"

local function ipv4(addr)
	local parts = { addr:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$") }
	if #parts ~= 4 then return false end
	for _, p in ipairs(parts) do
		if #p > 3 or tonumber(p) > 255 then return false end
	end
	return true
end

local function ipv6(addr)
	if not addr:match("^[%x:]+$") or #addr > 39 then return false end
	local _, doubles = addr:gsub("::", "")
	if doubles > 1 or addr:find(":::", 1, true) then return false end
	local groups = 0
	for g in addr:gmatch("[^:]+") do
		if #g > 4 then return false end
		groups = groups + 1
	end
	if doubles == 1 then return groups <= 7 end
	return groups == 8 and not addr:match("^:") and not addr:match(":$")
end

--- true when s is "ADDRESS/LEN" with an IPv4 or IPv6 address.
function M.valid_prefix(s)
	if type(s) ~= "string" then return false end
	local addr, len = s:match("^([%x%.:]+)/(%d+)$")
	if not addr then return false end
	len = tonumber(len)
	if ipv4(addr) then return len <= 32 end
	if ipv6(addr) then return len <= 128 end
	return false
end

local function check(t, prefixes)
	local ifname = type(t) == "table" and t.ifname
	if type(ifname) ~= "string" or not ifname:match("^[%w_.%-]+$") or #ifname > 15 then
		return nil, "natpunch.route: bad or missing t.ifname: " .. tostring(ifname)
	end
	if type(prefixes) == "string" then prefixes = { prefixes } end
	if type(prefixes) ~= "table" then
		return nil, "natpunch.route: prefixes must be a list of CIDR strings"
	end
	for i, p in ipairs(prefixes) do
		if not M.valid_prefix(p) then
			return nil, ("natpunch.route: prefixes[%d] is not an IPv4/IPv6 CIDR: %s"):format(i, tostring(p))
		end
	end
	return ifname, prefixes
end

function M.up(t, prefixes, opts)
	local ifname, list = check(t, prefixes)
	if not ifname then return nil, list end
	local metric = opts and opts.metric and math.tointeger(tonumber(opts.metric))
	if opts and opts.metric and (not metric or metric < 0) then
		return nil, "natpunch.route: bad metric: " .. tostring(opts.metric)
	end
	for _, p in ipairs(list) do
		local argv = { M.ip, "route", "replace", p, "dev", ifname }
		if metric then
			argv[#argv + 1] = "metric"
			argv[#argv + 1] = tostring(metric)
		end
		local status, _, stderr = natpunch.exec(argv)
		if status ~= 0 then
			return nil, ("natpunch.route: ip route replace %s failed (status %d): %s"):format(p, status, stderr)
		end
	end
	return true
end

function M.down(t, prefixes)
	local ifname, list = check(t, prefixes)
	if not ifname then return nil, list end
	local failed
	for _, p in ipairs(list) do
		local status, _, stderr = natpunch.exec{ M.ip, "route", "del", p, "dev", ifname }
		if status ~= 0 and not (stderr:find("No such process", 1, true)
			or stderr:find("Cannot find device", 1, true)) then
			failed = ("natpunch.route: ip route del %s failed (status %d): %s"):format(p, status, stderr)
		end
	end
	if failed then return nil, failed end
	return true
end

return M
