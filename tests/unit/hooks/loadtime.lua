-- exec at load time is refused with an error
local natpunch = require "natpunch"
natpunch.exec{ "/bin/true" }
