-- Tensors: shape, elements, tables, .npy files, in use and misuse.
local check = require("check")

name = "api_tensor"

function experiment(args)
    local uoe = require("uoe")
    local t = uoe.tensor({{1, 2, 3}, {4, 5, 6}})
    local shape = t:shape()
    check.ok(shape[1] == 2 and shape[2] == 3 and #t == 2 and t:dtype() == "float32",
             "uoe.tensor of nested tables: shape (2, 3), float32, #t is the first dimension")
    check.ok(t:get(2, 3) == 6 and t:get(1, 1) == 1, "tensor:get(i, j) counts from 1")
    local rows = t:totable()
    check.ok(#rows == 2 and #rows[2] == 3 and rows[2][1] == 4, "tensor:totable() gives nested tables")
    check.ok(tostring(t) == "uoe.Tensor float32 (2, 3)", "tostring(tensor) gives type and shape")
    local ints = uoe.tensor({7, 8, 9}, "int32")
    check.ok(ints:dtype() == "int32" and math.type(ints:get(3)) == "integer" and ints:get(3) == 9,
             "an int32 tensor gives integers")

    local path = args.work .. "/t.npy"
    t:save_npy(path)
    local back = uoe.load_npy(path)
    check.ok(back:dtype() == "float32" and back:shape()[2] == 3 and back:get(2, 2) == 5,
             "save_npy and load_npy round-trip a tensor")

    check.fails("get with too few indices", "wrong number of indices: a 2-dimensional tensor takes 2, got 1",
                function() return t:get(1) end)
    check.fails("get out of range", "bad argument #2 to 'get' (index 4 out of range 1 to 3)",
                function() return t:get(1, 4) end)
    check.fails("get with a string index", "bad argument #1 to 'get' (number expected, got string)",
                function() return t:get("one", 1) end)
    check.fails("get on something else", "bad argument #1 to 'get' (uoe.Tensor expected, got table)",
                function() return t.get({}, 1, 1) end)
    check.fails("shape with an argument", "bad argument #1 to 'shape' (unexpected argument",
                function() return t:shape(1) end)
    check.fails("ragged tables", "values[2]: expected a table of 3 entries, got 2",
                function() return uoe.tensor({{1, 2, 3}, {4, 5}}) end)
    check.fails("a string element", "values[2]: number expected, got string",
                function() return uoe.tensor({1, "two"}) end)
    check.fails("a fraction in an int32 tensor", "values[1]: a 32-bit integer expected, got 1.5",
                function() return uoe.tensor({1.5}, "int32") end)
    check.fails("an unknown dtype", "bad argument #2 to 'tensor' (invalid option 'float64')",
                function() return uoe.tensor({1}, "float64") end)
    check.fails("an empty table", "an empty table has no shape",
                function() return uoe.tensor({}) end)
    check.fails("tensor of a number", "bad argument #1 to 'tensor' (table expected, got number)",
                function() return uoe.tensor(3) end)
    check.fails("save_npy where the folder is missing", "no-such-folder/t.npy",
                function() return t:save_npy(args.work .. "/no-such-folder/t.npy") end)
    check.fails("load_npy of a missing file", "missing.npy",
                function() return uoe.load_npy(args.work .. "/missing.npy") end)
end
