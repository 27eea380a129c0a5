-- How many experts to unlearn: GA with the router anchor on the targets of
-- the Eq. 2 top-1 policy against top-M in one layer and top-M across layers,
-- each policy applied in Lua to one attribution of the forget set.
--   uoe-wb run lua/experiments/topm.lua [sizes=3,6] [steps=N] ...
local helpers = require("uoe.experiment")

name = "topm"
description = "Eq. 2 top-1 against top-M (same layer and across layers) targets"
defaults = helpers.defaults{out = "runs/topm", sizes = "3,6"}

function experiment(args)
    local uoe = require("uoe")
    local policy = require("uoe.policy")
    local scoring = uoe.load_model(args.model)
    local forget = uoe.attribute(scoring, uoe.load_corpus(args.world .. "/splits/forget.jsonl"),
                                 {sequences = args.attribution_sequences})
    local rows = {{name = "top1", policy = "eq2_top1", options = {}}}
    for _, m in ipairs(helpers.list(args.sizes)) do
        rows[#rows + 1] = {name = "top" .. m .. "-layer", policy = "topm_layer", options = {m = m}}
        rows[#rows + 1] = {name = "top" .. m .. "-global", policy = "topm_global", options = {m = m}}
    end
    for _, row in ipairs(rows) do
        local targets = policy.select(row.policy, forget, nil, row.options)
        print(string.format("== %s: %d expert%s", row.name, #targets, #targets == 1 and "" or "s"))
        local model = uoe.load_model(args.model)
        local run = uoe.run(helpers.run_table(args, model, args.out .. "/" .. row.name,
                                              {method = "ga", targets = targets, alpha = 1}))
        run:start()
        for key, value in pairs(run:summary()) do
            row[key] = value
        end
        row.experts = #targets
    end
    local columns = {{"name", "targets"}, {"experts", "experts", "%d"}}
    for _, column in ipairs(helpers.summary_columns) do
        columns[#columns + 1] = column
    end
    helpers.print_table("results (" .. args.out .. ")", columns, rows)
end
