-- ESFT: in each MoE layer, experts in decreasing gate score until their
-- share of the layer's score reaches options.threshold (default 0.15), as
-- `--set esft:<p>` chooses them. ESFT trains experts only: no routers.
local stats = require("uoe.stats")

return function(forget, retain, options)
    local threshold = options.threshold or 0.15
    local targets = {routers = false}
    for _, group in ipairs(stats.by_layer(forget)) do
        local total = 0
        for _, record in ipairs(group.records) do
            total = total + record.score
        end
        local cumulative = 0
        for _, record in ipairs(stats.rank(group.records, "score")) do
            if total <= 0 or cumulative >= threshold * total then
                break
            end
            targets[#targets + 1] = {layer = record.layer, expert = record.expert}
            cumulative = cumulative + record.score
        end
    end
    return targets
end
