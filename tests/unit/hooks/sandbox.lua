-- What the hook state must not offer (issue 10 finding 5), and what still works.
local function out(line)
	local f = assert(io.open(os.getenv("NP_HOOKTEST_OUT"), "a"))
	f:write(line, "\n")
	f:close()
end

function on_up(t)
	out("debug=" .. tostring(debug))
	out("loadlib=" .. tostring(package.loadlib))
	out("cpath=" .. package.cpath)
	out("searchers=" .. #package.searchers)
	out("dump=" .. tostring(string.dump))
	out("reqdebug=" .. tostring((pcall(require, "debug"))))
	local f, err = load("\27Lua\84\0\25\147\r\n\26\n", "bin")
	out("binary=" .. tostring(f) .. " " .. tostring(err))
	out("binfile=" .. tostring((loadfile(os.getenv("NP_HOOKTEST_BIN")))))
	out("text=" .. tostring(load("return 7")()))
	out("env=" .. tostring(load("return x", "c", "t", { x = 8 })()))
	out("path=" .. package.path)
end
