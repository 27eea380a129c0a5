-- Eq. 2 top-1 (UOE): the expert with the highest gate score on the forget
-- set, with its router. options.statistic ranks by another statistic.
local stats = require("uoe.stats")

return function(forget, retain, options)
    local best = stats.rank(forget, options.statistic)[1]
    return {{layer = best.layer, expert = best.expert}}
end
