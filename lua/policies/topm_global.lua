-- Top-M across layers: the M best (layer, expert) pairs (options.m, default
-- 2), with their layers' routers.
local stats = require("uoe.stats")

return function(forget, retain, options)
    local m = options.m or 2
    local targets = {}
    for i, record in ipairs(stats.rank(forget, options.statistic)) do
        if i > m then
            break
        end
        targets[i] = {layer = record.layer, expert = record.expert}
    end
    return targets
end
