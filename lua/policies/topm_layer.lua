-- Top-M in the same layer: the M best experts (options.m, default 2) of the
-- layer that holds the top-1, with that layer's router.
local stats = require("uoe.stats")

return function(forget, retain, options)
    local m = options.m or 2
    local ranked = stats.rank(forget, options.statistic)
    local layer, targets = ranked[1].layer, {}
    for _, record in ipairs(ranked) do
        if #targets == m then
            break
        end
        if record.layer == layer then
            targets[#targets + 1] = {layer = layer, expert = record.expert}
        end
    end
    return targets
end
