-- A small JSON encoder and a strict decoder, enough for JSON Lines datasets and a manifest.
--
-- Objects keep their key order, so output bytes never depend on the order in which pairs()
-- walks a hash table: build them with json.object("key", value, "key", value, ...). Plain Lua
-- sequences encode as arrays. Strings are written as UTF-8 with only what JSON requires
-- escaped (quote, backslash, control characters), so non-ASCII text stays readable.

local json = {}

local object_mt = { __name = "json.object" }
local array_mt = { __name = "json.array" }

-- json.object(k1, v1, k2, v2, ...): an object whose keys encode in the order given.
function json.object(...)
    local pairs_in_order = table.pack(...)
    assert(pairs_in_order.n % 2 == 0, "json.object takes key, value pairs")
    local object = { keys = {}, values = {} }
    for i = 1, pairs_in_order.n, 2 do
        local key = pairs_in_order[i]
        assert(type(key) == "string", "JSON object keys are strings")
        assert(object.values[key] == nil, "duplicate JSON object key " .. key)
        object.keys[#object.keys + 1] = key
        object.values[key] = pairs_in_order[i + 1]
    end
    return setmetatable(object, object_mt)
end

function json.is_object(value)
    return getmetatable(value) == object_mt
end

-- The decoder marks arrays, so that an empty array and an empty object stay apart.
function json.is_array(value)
    return getmetatable(value) == array_mt
end

local escapes = {
    ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
    ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}

local function encode_string(text)
    local escaped = text:gsub('[%z\1-\31"\\]', function(char)
        return escapes[char] or string.format("\\u%04x", char:byte())
    end)
    return '"' .. escaped .. '"'
end

-- encode(value, indent, depth): indent nil gives one line, as JSON Lines needs; a string
-- such as "  " pretty-prints with that unit of indentation.
local function encode(value, indent, depth)
    local kind = type(value)
    if kind == "string" then
        assert(utf8.len(value), "JSON strings must be valid UTF-8")
        return encode_string(value)
    elseif kind == "boolean" then
        return tostring(value)
    elseif kind == "number" then
        assert(math.type(value) == "integer", "only integers are encoded, to keep bytes exact")
        return string.format("%d", value)
    elseif kind ~= "table" then
        error("cannot encode a " .. kind .. " as JSON")
    end

    local items = {}
    local open, close
    if json.is_object(value) then
        open, close = "{", "}"
        for _, key in ipairs(value.keys) do
            items[#items + 1] = encode_string(key) .. ": " .. encode(value.values[key], indent, depth + 1)
        end
    else
        open, close = "[", "]"
        for i = 1, #value do
            items[i] = encode(value[i], indent, depth + 1)
        end
    end
    if #items == 0 then
        return open .. close
    end
    if not indent then
        return open .. table.concat(items, ", ") .. close
    end
    local inner = "\n" .. indent:rep(depth + 1)
    return open .. inner .. table.concat(items, "," .. inner) .. "\n" .. indent:rep(depth) .. close
end

function json.encode(value, indent)
    return encode(value, indent, 0)
end

-- json.decode(text): the value, or nil and a message naming the byte where parsing stopped.
-- Strict: one value with nothing after it but whitespace, no trailing commas, no duplicate
-- keys, no raw control characters in strings, valid UTF-8. Objects decode to plain tables
-- whose key order is in the field __keys; arrays carry a metatable (json.is_array).
function json.decode(text)
    local pos = 1

    local function fail(message)
        error({ message = string.format("%s at byte %d", message, pos) }, 0)
    end

    local function skip_space()
        pos = text:find("[^ \t\r\n]", pos) or #text + 1
    end

    local function expect(literal)
        if text:sub(pos, pos + #literal - 1) ~= literal then
            fail("expected '" .. literal .. "'")
        end
        pos = pos + #literal
    end

    local simple_escapes = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

    local function parse_string()
        pos = pos + 1 -- the opening quote
        local parts = {}
        while true do
            local run_end = text:find('[%z\1-\31"\\]', pos)
            if not run_end then
                fail("unterminated string")
            end
            parts[#parts + 1] = text:sub(pos, run_end - 1)
            pos = run_end
            local char = text:sub(pos, pos)
            if char == '"' then
                pos = pos + 1
                return table.concat(parts)
            elseif char == "\\" then
                local code = text:sub(pos + 1, pos + 1)
                if simple_escapes[code] then
                    parts[#parts + 1] = simple_escapes[code]
                    pos = pos + 2
                elseif code == "u" then
                    local hex = text:match("^%x%x%x%x", pos + 2)
                    if not hex then
                        fail("bad \\u escape")
                    end
                    local codepoint = tonumber(hex, 16)
                    pos = pos + 6
                    if codepoint >= 0xD800 and codepoint <= 0xDBFF then
                        local low = text:match("^\\u(%x%x%x%x)", pos)
                        low = low and tonumber(low, 16)
                        if not low or low < 0xDC00 or low > 0xDFFF then
                            fail("unpaired surrogate")
                        end
                        codepoint = 0x10000 + ((codepoint - 0xD800) << 10) + (low - 0xDC00)
                        pos = pos + 6
                    elseif codepoint >= 0xDC00 and codepoint <= 0xDFFF then
                        fail("unpaired surrogate")
                    end
                    parts[#parts + 1] = utf8.char(codepoint)
                else
                    fail("bad escape")
                end
            else
                fail("raw control character in string")
            end
        end
    end

    local function parse_number()
        local number = text:match("^-?%d+", pos)
        if not number or number:match("^-?0%d") then
            fail("bad number")
        end
        local fraction = text:match("^%.%d+", pos + #number) or ""
        local exponent = text:match("^[eE][-+]?%d+", pos + #number + #fraction) or ""
        pos = pos + #number + #fraction + #exponent
        if fraction == "" and exponent == "" then
            return math.tointeger(tonumber(number)) or tonumber(number)
        end
        return tonumber(number .. fraction .. exponent)
    end

    local parse_value

    local function parse_array()
        pos = pos + 1
        local array = setmetatable({}, array_mt)
        skip_space()
        if text:sub(pos, pos) == "]" then
            pos = pos + 1
            return array
        end
        while true do
            array[#array + 1] = parse_value()
            skip_space()
            local char = text:sub(pos, pos)
            pos = pos + 1
            if char == "]" then
                return array
            elseif char ~= "," then
                pos = pos - 1
                fail("expected ',' or ']'")
            end
        end
    end

    local function parse_object()
        pos = pos + 1
        local object = { __keys = {} }
        skip_space()
        if text:sub(pos, pos) == "}" then
            pos = pos + 1
            return object
        end
        while true do
            skip_space()
            if text:sub(pos, pos) ~= '"' then
                fail("expected a string key")
            end
            local key = parse_string()
            if key == "__keys" or object[key] ~= nil then
                fail("duplicate or reserved key '" .. key .. "'")
            end
            skip_space()
            expect(":")
            object[key] = parse_value()
            object.__keys[#object.__keys + 1] = key
            skip_space()
            local char = text:sub(pos, pos)
            pos = pos + 1
            if char == "}" then
                return object
            elseif char ~= "," then
                pos = pos - 1
                fail("expected ',' or '}'")
            end
        end
    end

    function parse_value()
        skip_space()
        local char = text:sub(pos, pos)
        if char == "{" then
            return parse_object()
        elseif char == "[" then
            return parse_array()
        elseif char == '"' then
            return parse_string()
        elseif char == "t" then
            expect("true")
            return true
        elseif char == "f" then
            expect("false")
            return false
        elseif char == "n" then
            expect("null")
            return json.null
        elseif char:match("[-%d]") then
            return parse_number()
        end
        fail(char == "" and "unexpected end of input" or "unexpected character")
    end

    local ok, result = pcall(function()
        if not utf8.len(text) then
            fail("invalid UTF-8")
        end
        local value = parse_value()
        skip_space()
        if pos <= #text then
            fail("trailing characters")
        end
        return value
    end)
    if ok then
        return result
    end
    if type(result) == "table" then
        return nil, result.message
    end
    error(result, 0)
end

-- The decoded form of JSON null, distinct from a missing key.
json.null = setmetatable({}, { __name = "json.null" })

return json
