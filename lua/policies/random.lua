-- Random: one (layer, expert) drawn uniformly from the MoE layers' experts,
-- the same for the same options.seed (default 1), with its router: the
-- control that shows attribution matters. The draw is splitmix64 of the
-- seed, so it leaves math.random alone.
local function splitmix64(x)
    local z = x + 0x9E3779B97F4A7C15
    z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
    z = (z ~ (z >> 27)) * 0x94D049BB133111EB
    return z ~ (z >> 31)
end

return function(forget, retain, options)
    local chosen = forget[splitmix64(options.seed or 1) % #forget + 1]
    return {{layer = chosen.layer, expert = chosen.expert}}
end
