-- Routing statistics as uoe.attribute returns them: a list of records
-- {layer, expert, score, selection_share, prob_mean}, one per (MoE layer,
-- expert), with the fields layers, experts, sequences and tokens beside.
-- Layers and experts are the engine's numbers, from 0.
local stats = {}

local statistics = {score = true, selection_share = true, prob_mean = true}

-- Raises an error, at the caller's caller, unless `records` looks like
-- uoe.attribute's result.
function stats.check(records, what)
    what = what or "statistics"
    if type(records) ~= "table" or type(records[1]) ~= "table" then
        error(what .. ": uoe.attribute's records expected, got " .. type(records), 3)
    end
    for i, record in ipairs(records) do
        if math.type(record.layer) ~= "integer" or math.type(record.expert) ~= "integer" or
            type(record.score) ~= "number" then
            error(string.format("%s[%d]: a record {layer, expert, score, ...} expected", what, i), 3)
        end
    end
end

local function check_statistic(statistic)
    if not statistics[statistic] then
        error("unknown statistic '" .. tostring(statistic) ..
            "' (expected score, selection_share or prob_mean)", 3)
    end
end

-- A copy of the records in decreasing order of a statistic (default
-- "score"); ties keep layer, then expert, order.
function stats.rank(records, statistic)
    statistic = statistic or "score"
    check_statistic(statistic)
    local ranked = {}
    for i, record in ipairs(records) do
        ranked[i] = record
    end
    table.sort(ranked, function(a, b)
        if a[statistic] ~= b[statistic] then
            return a[statistic] > b[statistic]
        end
        if a.layer ~= b.layer then
            return a.layer < b.layer
        end
        return a.expert < b.expert
    end)
    return ranked
end

-- The records grouped by layer: a list of {layer = l, records = {...}} in
-- layer order, each layer's records in expert order.
function stats.by_layer(records)
    local layers, index = {}, {}
    for _, record in ipairs(records) do
        local group = index[record.layer]
        if not group then
            group = {layer = record.layer, records = {}}
            index[record.layer] = group
            layers[#layers + 1] = group
        end
        group.records[#group.records + 1] = record
    end
    table.sort(layers, function(a, b) return a.layer < b.layer end)
    return layers
end

-- The record of (layer, expert), or nil.
function stats.find(records, layer, expert)
    for _, record in ipairs(records) do
        if record.layer == layer and record.expert == expert then
            return record
        end
    end
    return nil
end

return stats
