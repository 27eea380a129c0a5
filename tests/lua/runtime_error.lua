-- A script that fails at run time, two calls deep: the error names this
-- file and line, with a traceback through both functions.
name = "runtime_error"

local function inner()
    error("something broke in inner")
end

local function outer()
    inner()
end

function experiment(args)
    outer()
end
