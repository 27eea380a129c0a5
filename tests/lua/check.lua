-- Checks for the Lua API tests. Each prints one line, "ok - ..." or
-- "not ok - ..." (with "# " lines of detail), which tests/test_lua.sh
-- numbers into its TAP stream.
local check = {}

function check.ok(condition, description, detail)
    print((condition and "ok - " or "not ok - ") .. description)
    if not condition and detail ~= nil then
        print("# " .. tostring(detail):gsub("\n", "\n# "))
    end
    return condition
end

function check.near(actual, expected, tolerance, description)
    local close = type(actual) == "number" and math.abs(actual - expected) <= tolerance
    return check.ok(close, description, string.format("got %s, expected %s", tostring(actual),
                                                      tostring(expected)))
end

-- fn(...) must raise an error whose message holds `expected`.
function check.fails(description, expected, fn, ...)
    local ok, message = pcall(fn, ...)
    message = tostring(message)
    return check.ok(not ok and message:find(expected, 1, true) ~= nil,
                    description .. ": " .. expected, ok and "no error was raised" or message)
end

return check
