-- hook-dir fixture: files run in lexical order after the --hook files
function on_up(t)
	local f = assert(io.open(os.getenv("NP_HOOKTEST_OUT"), "a"))
	f:write("20-second\n")
	f:close()
end
