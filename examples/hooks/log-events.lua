-- log-events.lua: append every event, with every field of t, to a file.
--
--   NATPUNCH_EVENT_LOG=/var/log/natpunch-events.log natpunch ... --hook examples/hooks/log-events.lua
--
-- One line per event: "2026-01-01T12:00:00Z event=up ifname=np0 peer.ip=... ".
-- The default is under /run/natpunch (root-only, made by the daemon or by
-- systemd's RuntimeDirectory=), never a world-writable directory such as /tmp,
-- where another user could plant a symlink for root to write through.
local path = os.getenv("NATPUNCH_EVENT_LOG") or "/run/natpunch/events.log"

local function flatten(t, prefix, out)
	local keys = {}
	for k in pairs(t) do keys[#keys + 1] = k end
	table.sort(keys)
	for _, k in ipairs(keys) do
		local v = t[k]
		if type(v) == "table" then
			flatten(v, prefix .. k .. ".", out)
		elseif k ~= "event" or prefix ~= "" then
			out[#out + 1] = prefix .. k .. "=" .. tostring(v)
		end
	end
	return out
end

local function log_event(t)
	local fields = flatten(t, "", { "event=" .. t.event })
	local f, err = io.open(path, "a")
	if not f then
		natpunch.log.warn("cannot open", path, err)
		return
	end
	f:write(os.date("!%Y-%m-%dT%H:%M:%SZ"), " ", table.concat(fields, " "), "\n")
	f:close()
end

on_up = log_event
on_down = log_event
on_endpoint_change = log_event
on_punch_failed = log_event
on_path_change = log_event
