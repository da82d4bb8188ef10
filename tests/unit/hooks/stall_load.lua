-- The watchdog-bypass file of the security review: one C call (pattern
-- backtracking) that never reaches the instruction-count hook.
string.find(string.rep("a", 100000), ".-.-.-.-b")
