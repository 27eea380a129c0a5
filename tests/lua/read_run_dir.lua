-- Reads a run directory as a reader of its files would, with the stand-alone
-- interpreter: lua5.4 tests/lua/read_run_dir.lua LUA_DIR RUN_DIR
-- config.json and summary.json must parse as JSON objects, and metrics.jsonl
-- must end with a newline and hold one whole JSON object per line. Prints
-- "lines N" and "stopped REASON"; exits 1 with a message on the first problem.
package.path = arg[1] .. "/?.lua;" .. package.path
local json = require("world.json")
local run_dir = arg[2]

local function fail(message)
    io.stderr:write(run_dir .. ": " .. message .. "\n")
    os.exit(1)
end

local function read(name)
    local file = io.open(run_dir .. "/" .. name, "rb")
    if not file then
        fail(name .. ": cannot open")
    end
    local text = file:read("a")
    file:close()
    return text
end

local function decode_object(text, where)
    local ok, value = pcall(json.decode, text)
    if not ok or type(value) ~= "table" then
        fail(where .. ": not a JSON object: " .. tostring(type(value) == "table" and value.message or value))
    end
    return value
end

local config = decode_object(read("config.json"), "config.json")
if config.seed == nil or config.experiment == nil then
    fail("config.json: no seed or experiment")
end
local metrics = read("metrics.jsonl")
if metrics:sub(-1) ~= "\n" then
    fail("metrics.jsonl: the last line is not whole")
end
local lines = 0
for line in metrics:gmatch("([^\n]*)\n") do
    lines = lines + 1
    if decode_object(line, "metrics.jsonl line " .. lines).type == nil then
        fail("metrics.jsonl line " .. lines .. ": no type")
    end
end
local summary = decode_object(read("summary.json"), "summary.json")
print("lines " .. lines)
print("stopped " .. tostring(summary.stopped))
