--- natpunch.firewall: one nftables table per tunnel interface.
--
--   local fw = require "natpunch.firewall"
--   function on_up(t)   assert(fw.up(t, {allow_tcp = {22, 80}, allow_udp = {53}})) end
--   function on_down(t) assert(fw.down(t)) end
--
-- fw.up creates table `inet natpunch_<ifname>` (ifname reduced to
-- [A-Za-z0-9_]) holding one input chain, hook priority 0, policy accept. For
-- packets arriving on the tunnel interface it accepts established/related,
-- ICMP and ICMPv6 (unless opts.allow_icmp == false), the listed TCP and UDP
-- ports, and drops the rest; other interfaces are untouched. Running fw.up
-- again replaces the table atomically (one `nft -f -` transaction), so there
-- is always exactly one table. fw.down deletes it; a missing table is fine.
-- Both return true, or nil and a message. nft runs through natpunch.exec with
-- an argv list; the script goes to its stdin. No shell is involved.
local natpunch = require "natpunch"

local M = {}

M.nft = "nft"   -- program to run; tests may point it elsewhere

local function check_ifname(t)
	local ifname = type(t) == "table" and t.ifname
	if type(ifname) ~= "string" or #ifname == 0 or #ifname > 15
		or not ifname:match("^[%w_.%-]+$") then
		return nil, "natpunch.firewall: bad or missing t.ifname: " .. tostring(ifname)
	end
	return ifname
end

--- The table name used for t.ifname.
function M.table_name(t)
	local ifname, err = check_ifname(t)
	if not ifname then return nil, err end
	return "natpunch_" .. ifname:gsub("[^%w_]", "_")
end

local function port_set(list, what)
	if list == nil then return nil end
	if type(list) ~= "table" then
		return nil, "natpunch.firewall: " .. what .. " must be a list of ports"
	end
	local out = {}
	for i, p in ipairs(list) do
		local n = math.tointeger(tonumber(p))
		if not n or n < 1 or n > 65535 then
			return nil, ("natpunch.firewall: %s[%d] is not a port: %s"):format(what, i, tostring(p))
		end
		out[#out + 1] = tostring(n)
	end
	if #out == 0 then return nil end
	return "{ " .. table.concat(out, ", ") .. " }"
end

--- The nft script fw.up feeds to `nft -f -` (exposed for tests and dry runs).
function M.script(t, opts)
	opts = opts or {}
	local ifname, err = check_ifname(t)
	if not ifname then return nil, err end
	local name = M.table_name(t)
	local tcp, e1 = port_set(opts.allow_tcp, "allow_tcp")
	if e1 then return nil, e1 end
	local udp, e2 = port_set(opts.allow_udp, "allow_udp")
	if e2 then return nil, e2 end
	local on = ('iifname "%s"'):format(ifname)
	local lines = {
		("table inet %s {}"):format(name),
		("delete table inet %s"):format(name),
		("table inet %s {"):format(name),
		"\tchain input {",
		"\t\ttype filter hook input priority 0; policy accept;",
		("\t\t%s ct state established,related accept"):format(on),
	}
	if opts.allow_icmp ~= false then
		lines[#lines + 1] = ("\t\t%s meta l4proto icmp accept"):format(on)
		lines[#lines + 1] = ("\t\t%s meta l4proto ipv6-icmp accept"):format(on)
	end
	if tcp then lines[#lines + 1] = ("\t\t%s tcp dport %s accept"):format(on, tcp) end
	if udp then lines[#lines + 1] = ("\t\t%s udp dport %s accept"):format(on, udp) end
	lines[#lines + 1] = ("\t\t%s drop"):format(on)
	lines[#lines + 1] = "\t}"
	lines[#lines + 1] = "}"
	return table.concat(lines, "\n") .. "\n"
end

function M.up(t, opts)
	local script, err = M.script(t, opts)
	if not script then return nil, err end
	local status, _, stderr = natpunch.exec{M.nft, "-f", "-", stdin = script}
	if status ~= 0 then
		return nil, ("natpunch.firewall: nft failed (status %d): %s"):format(status, stderr)
	end
	return true
end

function M.down(t)
	local name, err = M.table_name(t)
	if not name then return nil, err end
	local status, _, stderr = natpunch.exec{M.nft, "delete", "table", "inet", name}
	if status ~= 0 and not stderr:find("No such file", 1, true) then
		return nil, ("natpunch.firewall: nft failed (status %d): %s"):format(status, stderr)
	end
	return true
end

return M
