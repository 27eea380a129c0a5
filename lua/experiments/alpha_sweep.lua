-- The router anchor's weight: GA+UOE at each alpha of a list (the paper
-- sweeps 0, 100 and 1000; 1 is the default), each run in OUT/alpha=<a>.
--   uoe-wb run lua/experiments/alpha_sweep.lua [alphas=0,1,100,1000] [steps=N] ...
local helpers = require("uoe.experiment")

name = "alpha_sweep"
description = "GA+UOE with the router anchor at each alpha of a list"
defaults = helpers.defaults{out = "runs/alpha_sweep", alphas = "0,1,100,1000"}

function experiment(args)
    local uoe = require("uoe")
    local rows = {}
    for _, alpha in ipairs(helpers.list(args.alphas)) do
        if type(alpha) ~= "number" or alpha < 0 then
            error("alphas: expected numbers of at least 0 separated by commas, got '" ..
                  args.alphas .. "'")
        end
        print(string.format("== alpha %g", alpha))
        local model = uoe.load_model(args.model)
        local run = uoe.run(helpers.run_table(args, model, string.format("%s/alpha=%g", args.out, alpha),
                                              {method = "ga", set = "uoe", alpha = alpha}))
        run:start()
        local row = run:summary()
        row.alpha = alpha
        rows[#rows + 1] = row
    end
    local columns = {{"alpha", "alpha", "%g"}}
    for _, column in ipairs(helpers.summary_columns) do
        columns[#columns + 1] = column
    end
    helpers.print_table("results (" .. args.out .. ")", columns, rows)
end
