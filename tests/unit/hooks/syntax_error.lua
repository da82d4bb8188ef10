-- line 2 below is broken on purpose
function on_up(t) local x = = 1 end
