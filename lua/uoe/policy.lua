-- Attribution policies: a policy is a function(forget, retain, options)
-- that takes routing statistics (uoe.attribute's records on the forget set,
-- and on the retain set when the caller gives them) and returns the
-- (layer, expert) targets to unlearn, a list of {layer = L, expert = E}. The
-- list may say routers = false to leave the targets' routers frozen. The
-- shipped policies live in lua/policies/.
local stats = require("uoe.stats")

local policy = {}

-- A policy by name ("eq2_top1", found as policies.eq2_top1 on the module
-- path) or by the path of a .lua file that returns the function.
function policy.load(name)
    if type(name) ~= "string" then
        error("policy name or path expected, got " .. type(name), 2)
    end
    local chosen
    if name:match("%.lua$") then
        local chunk, message = loadfile(name, "t")
        if not chunk then
            error(message, 2)
        end
        chosen = chunk()
    else
        chosen = require("policies." .. name)
    end
    if type(chosen) ~= "function" then
        error("policy '" .. name .. "' must return a function, got " .. type(chosen), 2)
    end
    return chosen
end

-- Runs a policy (a function or a name for policy.load) and checks what it
-- returns: a non-empty list of distinct targets found in the statistics.
-- Returns a fresh list of {layer, expert}, with routers when the policy set it.
function policy.select(chosen, forget, retain, options)
    if type(chosen) == "string" then
        chosen = policy.load(chosen)
    end
    stats.check(forget, "forget")
    if retain ~= nil then
        stats.check(retain, "retain")
    end
    local targets = chosen(forget, retain, options or {})
    if type(targets) ~= "table" or #targets == 0 then
        error("the policy returned " .. (type(targets) == "table" and "no targets" or type(targets)) ..
            "; expected a list of {layer = L, expert = E}", 2)
    end
    local selected, seen = {routers = targets.routers}, {}
    for i, target in ipairs(targets) do
        local layer, expert
        if type(target) == "table" then
            layer, expert = target.layer, target.expert
        end
        if not stats.find(forget, layer, expert) then
            error(string.format("the policy's target %d (layer %s, expert %s) is not an expert of the "
                .. "statistics", i, tostring(layer), tostring(expert)), 2)
        end
        local key = layer .. ":" .. expert
        if seen[key] then
            error(string.format("the policy's target %d repeats layer %d, expert %d", i, layer, expert), 2)
        end
        seen[key] = true
        selected[i] = {layer = layer, expert = expert}
    end
    return selected
end

return policy
