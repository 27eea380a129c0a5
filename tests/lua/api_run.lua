-- uoe.run and the run object: callbacks, start, step, pause and stop, explicit
-- targets, errors inside callbacks, and every misuse of the config table.
local check = require("check")

name = "api_run"

function experiment(args)
    local uoe = require("uoe")
    local function config(out, extra)
        local c = {model = uoe.load_model(args.model), world = args.world, out = args.work .. "/" .. out,
                   steps = 4, eval_every = 2, snapshot_every = 2, forget_batch = 2, retain_batch = 2,
                   method = "graddiff", quiet = true}
        for key, value in pairs(extra or {}) do
            c[key] = value
        end
        return c
    end

    local seen = {step = {}, eval = {}, snapshot = {}, log = 0}
    local run = uoe.run(config("full", {
        on_step = function(s, r)
            seen.step[#seen.step + 1] = s.step
            seen.run, seen.loss = r, s.loss
        end,
        on_eval = function(e) seen.eval[#seen.eval + 1] = e.step end,
        on_snapshot = function(s) seen.snapshot[#seen.snapshot + 1] = s.step end,
        on_log = function(line) seen.log = seen.log + (type(line) == "string" and 1 or 0) end,
    }))
    check.ok(run:state() == "ready", "a new run is ready")
    check.ok(run:start() == "finished" and run:state() == "finished", "run:start() runs to the end")
    check.ok(table.concat(seen.step, ",") == "1,2,3,4" and table.concat(seen.eval, ",") == "0,2,4" and
             table.concat(seen.snapshot, ",") == "0,2,4" and seen.log >= 1 and seen.run == run and
             type(seen.loss) == "number",
             "on_step, on_eval, on_snapshot and on_log see every event, with the run")
    local summary = run:summary()
    check.ok(summary.step == 4 and summary.steps == 4 and summary.selected_step == 4 and
             summary.first.step == 0 and summary.last.step == 4 and type(summary.fe) == "number" and
             summary.stopped == nil and summary.tunable_fraction > 0 and summary.out == args.work .. "/full",
             "run:summary() gives the steps, the evaluations and the tunable fraction")
    local targets = run:targets()
    check.ok(#targets == 1 and targets[1].layer == summary.target_layer and
             targets[1].expert == summary.target_expert, "run:targets() gives the UOE target")
    check.fails("stepping a finished run", "the run has finished; it takes no more steps",
                function() return run:step() end)
    check.fails("starting a finished run", "the run has finished; it takes no more steps",
                function() return run:start() end)

    local stepwise = uoe.run(config("stepwise"))
    local remaining = 0
    while stepwise:step() do
        remaining = remaining + 1
    end
    check.ok(remaining == 3 and stepwise:state() == "finished" and stepwise:summary().step == 4,
             "run:step() takes one step at a time, true while steps remain")

    local paused = uoe.run(config("paused", {on_eval = function(e, r)
        if e.step == 2 then
            r:pause()
        end
    end}))
    check.ok(paused:start() == "paused" and paused:state() == "paused" and paused:summary().step == 2,
             "run:pause() from a callback makes start() return after that step")
    check.ok(paused:start() == "finished" and paused:summary().step == 4, "start() resumes a paused run")

    local stopped = uoe.run(config("stopped", {on_step = function(s, r)
        if s.step == 1 then
            r:stop()
        end
    end}))
    check.ok(stopped:start() == "stopped" and stopped:summary().step == 1 and
             stopped:summary().stopped == "stopped by the script after step 1 of 4",
             "run:stop() from a callback ends the run after that step, saying so in the summary")
    local between = uoe.run(config("stopped_between"))
    between:step()
    between:stop()
    check.ok(between:state() == "stopped" and between:summary().step == 1,
             "run:stop() between steps ends the run")
    local never = uoe.run(config("never"))
    never:stop()
    check.ok(never:state() == "stopped" and io.open(args.work .. "/never/config.json") == nil,
             "a run stopped before it starts writes nothing")
    check.fails("stepping a stopped run", "the run has stopped; it takes no more steps",
                function() return never:step() end)

    local explicit = uoe.run(config("explicit", {targets = {{layer = 1, expert = 2}, {0, 3}},
                                                 routers = false, steps = 1}))
    explicit:start()
    targets = explicit:targets()
    check.ok(#targets == 2 and targets[1].layer == 1 and targets[1].expert == 2 and
             targets[2].layer == 0 and targets[2].expert == 3,
             "explicit targets ({layer, expert} or {l, e}) are the run's trainable experts, in order")

    local failing = uoe.run(config("callback_error", {on_step = function(s)
        if s.step == 2 then
            error("callback failed at step 2")
        end
    end}))
    local ok, message = pcall(failing.start, failing)
    check.ok(not ok and message:find("api_run.lua:%d+: callback failed at step 2") and
             message:find("stack traceback:", 1, true),
             "an error in a callback comes out of start() with the callback's file, line and traceback",
             message)
    check.ok(failing:state() == "paused" and failing:summary().step == 2 and failing:start() == "finished",
             "after a callback's error the run is paused at that step, and can go on")

    check.fails("stepping a run from its own callback",
                "the run is inside a step: its callbacks may pause or stop it, not step it",
                function() return uoe.run(config("reentrant", {on_step = function(s, r) r:step() end})):start() end)

    local shared = uoe.load_model(args.model)
    local first = uoe.run(config("shared_a", {model = shared}))
    first:step()
    local second = uoe.run(config("shared_b", {model = shared}))
    check.fails("two unfinished runs on one model", "the model is being unlearned by another run; stop that run first",
                function() return second:step() end)
    first:stop()
    check.ok(second:step() and second:state() == "paused", "once the first run stops, the second may start")
    second:stop()

    local bad_target = uoe.run(config("bad_target", {targets = {{layer = 0, expert = 9}}}))
    check.fails("an explicit target out of range fails at the start", "target 1: expert 9 is out of range (experts 0 to 3)",
                function() return bad_target:start() end)
    check.ok(bad_target:state() == "failed", "a run that cannot begin has failed")
    check.fails("a missing world fails at the start, naming the file", "no-world/splits/forget.jsonl",
                function() return uoe.run(config("no_world", {world = args.work .. "/no-world"})):start() end)
    check.fails("a run directory that holds a run is refused", "already holds a run",
                function() return uoe.run(config("full")):start() end)

    local model = uoe.load_model(args.model)
    local function with(extra)
        local c = {model = model, world = args.world, out = args.work .. "/misuse"}
        for key, value in pairs(extra) do
            c[key] = value
        end
        return c
    end
    local misuse = {
        {"an unknown key", {stepz = 3}, "bad argument #1 to 'run' (unknown key 'stepz')"},
        {"a key that is not a string", {[1] = 3}, "keys must be strings, got a number key"},
        {"a string for a whole number", {steps = "many"}, "key 'steps': integer expected, got string"},
        {"a fraction for a whole number", {steps = 2.5}, "key 'steps': integer expected, got number"},
        {"a negative step count", {steps = -1}, "key 'steps': expected at least 0, got -1"},
        {"a zero batch", {forget_batch = 0}, "key 'forget_batch': expected at least 1, got 0"},
        {"a string for a number", {lr = "fast"}, "key 'lr': number expected, got string"},
        {"a negative alpha", {alpha = -1}, "key 'alpha': expected at least 0"},
        {"an unknown method", {method = "forget-it"}, "key 'method': unknown method 'forget-it'"},
        {"an unknown trainable set", {set = "top9-sideways"}, "key 'set': unknown trainable set 'top9-sideways'"},
        {"an unknown statistic", {rank_by = "vibes"}, "key 'rank_by':"},
        {"an unknown selection rule", {select = "best"}, "key 'select': expected final or best-ut, got 'best'"},
        {"an unknown anchor scale", {anchor_scale = 2}, "key 'anchor_scale': string expected, got number"},
        {"a string for a boolean", {prefix_cache = "no"}, "key 'prefix_cache': boolean expected, got string"},
        {"a path for the model", {model = "data/models/default"}, "key 'model': uoe.Model expected, got string"},
        {"a boolean for the run directory", {out = false}, "key 'out': string expected, got boolean"},
        {"a number for a callback", {on_step = 1}, "key 'on_step': function expected, got number"},
        {"a number for the loss", {loss = 5}, "key 'loss': function or table expected, got number"},
        {"a loss table without forget or retain", {loss = {name = "x"}},
         "key 'loss': loss.forget or loss.retain: function expected, got nil and nil"},
        {"a loss table with a number for retain", {loss = {retain = 1}},
         "key 'loss': loss.forget or loss.retain: function expected, got nil and number"},
        {"a Lua retain loss with ga", {loss = {retain = function() end}, method = "ga"},
         "loss.retain replaces a token-NLL retain term; ga has none"},
        {"a Lua retain loss with rmu", {loss = {retain = function() end}, method = "rmu"},
         "loss.retain replaces a token-NLL retain term; rmu has none"},
        {"a table for alpha", {alpha = {}}, "key 'alpha': number expected, got table"},
        {"both set and targets", {set = "uoe", targets = {{0, 1}}}, "keys 'set' and 'targets': give one or the other"},
        {"no targets", {targets = {}}, "key 'targets': expected a list of at least one {layer, expert}"},
        {"a target without an expert", {targets = {{layer = 0}}}, "targets[1].expert: a layer and an expert number expected, got nil"},
        {"a target that is a string", {targets = {"0:1"}}, "targets[1]: {layer = L, expert = E} expected, got string"},
        {"routers without targets", {routers = false}, "key 'routers': only with 'targets'"},
        {"no data", {world = false}, "key 'world': string expected, got boolean"},
    }
    for _, case in ipairs(misuse) do
        check.fails("uoe.run with " .. case[1], case[3], function() return uoe.run(with(case[2])) end)
    end
    check.fails("uoe.run without a run directory", "key 'out': the run directory (a string) is required",
                function() return uoe.run{model = model, world = args.world} end)
    check.fails("uoe.run without data", "the data: give 'world', or all of 'forget', 'retain', 'forget_mcq' and 'utility_mcq'",
                function() return uoe.run{model = model, out = args.work .. "/misuse"} end)
    check.fails("uoe.run without a table", "bad argument #1 to 'run' (table expected, got no value)",
                function() return uoe.run() end)
    check.fails("uoe.run with two tables", "bad argument #2 to 'run' (unexpected argument",
                function() return uoe.run(with({}), {}) end)
    check.fails("run:state() with an argument", "bad argument #1 to 'state' (unexpected argument",
                function() return run:state(1) end)
    check.fails("start called on a table", "bad argument #1 to 'start' (uoe.Run expected, got table)",
                function() return run.start({}) end)
    check.fails("targets before the start", "the run has not begun: its targets are chosen when it starts",
                function() return uoe.run(with({})):targets() end)
end
