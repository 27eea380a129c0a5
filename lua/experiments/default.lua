-- The default experiment, what bare `uoe-wb` runs: on the embedded default
-- model and world, UOE (gradient ascent on the Eq. 2 top-1 expert, with the
-- router anchor) against gradient ascent on all parameters.
--   uoe-wb run lua/experiments/default.lua [steps=N] [out=DIR] ...
local helpers = require("uoe.experiment")

name = "default"
description = "UOE against GA on all parameters, on the default model and world"
defaults = helpers.defaults{out = "runs/default"}

function experiment(args)
    local uoe = require("uoe")
    local rows = {
        {name = "uoe", method = "ga", set = "uoe", alpha = 1},
        {name = "ga-all", method = "ga", set = "all", alpha = 0},
    }
    for _, row in ipairs(rows) do
        print("== " .. row.name)
        local model = uoe.load_model(args.model)
        local run = uoe.run(helpers.run_table(args, model, args.out .. "/" .. row.name,
                                              {method = row.method, set = row.set, alpha = row.alpha}))
        run:start()
        for key, value in pairs(run:summary()) do
            row[key] = value
        end
    end
    local columns = {{"name", "run"}}
    for _, column in ipairs(helpers.summary_columns) do
        columns[#columns + 1] = column
    end
    helpers.print_table("results (" .. args.out .. ")", columns, rows)
end
