-- Largest forget/retain ratio: the M experts (options.m, default 1) whose
-- gate score on the forget set is largest against their score on the
-- retain set, (forget + ε) / (retain + ε) with ε = options.epsilon (default
-- 1e-6), with their routers. Needs the retain statistics.
local stats = require("uoe.stats")

return function(forget, retain, options)
    if retain == nil then
        error("forget_retain_ratio needs the retain set's statistics", 2)
    end
    local m, epsilon = options.m or 1, options.epsilon or 1e-6
    local ratios = {}
    for i, record in ipairs(forget) do
        local other = stats.find(retain, record.layer, record.expert)
        ratios[i] = {layer = record.layer, expert = record.expert,
                     score = (record.score + epsilon) / ((other and other.score or 0) + epsilon)}
    end
    local targets = {}
    for i, record in ipairs(stats.rank(ratios, "score")) do
        if i > m then
            break
        end
        targets[i] = {layer = record.layer, expert = record.expert}
    end
    return targets
end
