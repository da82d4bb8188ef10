-- Writes every field of t to $NP_HOOKTEST_OUT, one "key=value" a line.
local function out(line)
	local f = assert(io.open(os.getenv("NP_HOOKTEST_OUT"), "a"))
	f:write(line, "\n")
	f:close()
end

local function dump(t)
	out("event=" .. t.event)
	local keys = {}
	for k in pairs(t) do keys[#keys + 1] = k end
	table.sort(keys)
	for _, k in ipairs(keys) do
		local v = t[k]
		if type(v) == "table" then
			for _, kk in ipairs({ "ip", "port", "self", "peer" }) do
				if v[kk] ~= nil then out(k .. "." .. kk .. "=" .. tostring(v[kk])) end
			end
		else
			out(k .. "=" .. tostring(v))
		end
	end
end

on_up = dump
on_down = dump
on_endpoint_change = dump
on_punch_failed = dump
on_path_change = dump
