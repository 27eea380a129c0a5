-- A run far longer than the test waits, evaluated at every step: Ctrl-C
-- stops it, and its run directory keeps what it finished.
name = "long_run"

function experiment(args)
    local uoe = require("uoe")
    local run = uoe.run{model = uoe.load_model(args.model), world = args.world, out = args.out,
                        steps = 100000, eval_every = 1, snapshot_every = 1, forget_batch = 2,
                        retain_batch = 2, method = "graddiff"}
    run:start()
end
