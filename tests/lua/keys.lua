-- Prints what the keys became, one "key type value" line each, sorted; and
-- that the script's definitions stay in its own environment.
name = "keys"

function experiment(args)
    local keys = {}
    for key in pairs(args) do
        keys[#keys + 1] = key
    end
    table.sort(keys)
    for _, key in ipairs(keys) do
        print(key, math.type(args[key]) or type(args[key]), tostring(args[key]))
    end
    print("global name", rawget(_G, "name"), "own name", name)
end
