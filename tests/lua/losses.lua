-- Losses written in Lua (lua/uoe/losses.lua) against the engine's own: the
-- same run with the Lua NPO, SimNPO or GA and with the C method takes the
-- same steps (loss, gradient norm and the next steps' values, so the same
-- gradients) to 1e-5. And a Lua loss's errors.
local check = require("check")

name = "losses"

function experiment(args)
    local uoe = require("uoe")
    local losses = require("uoe.losses")

    local function run(out, method, loss, extra)
        local steps, evals = {}, {}
        local config = {model = uoe.load_model(args.model), world = args.world, out = args.work .. "/" .. out,
                        steps = 3, eval_every = 3, snapshot_every = 3, forget_batch = 3, retain_batch = 2,
                        method = method, lr = 1e-2, quiet = true, loss = loss,
                        on_step = function(s) steps[#steps + 1] = s end,
                        on_eval = function(e) evals[#evals + 1] = e end}
        for key, value in pairs(extra or {}) do
            config[key] = value
        end
        local r = uoe.run(config)
        r:start()
        return steps, evals, r
    end

    local function relative_gap(a, b)
        return math.abs(a - b) / math.max(1, math.abs(a))
    end

    local function same_run(label, method, lua_loss, extra)
        local c_steps, c_evals = run(label .. "-c", method, nil, extra)
        local lua_steps, lua_evals = run(label .. "-lua", method, lua_loss, extra)
        local worst = 0
        for i = 1, 3 do
            for _, key in ipairs({"loss", "forget_term", "retain_term", "anchor_term", "grad_norm"}) do
                worst = math.max(worst, relative_gap(c_steps[i][key], lua_steps[i][key]))
            end
        end
        worst = math.max(worst, relative_gap(c_evals[2].forget_nll, lua_evals[2].forget_nll),
                         relative_gap(c_evals[2].retain_nll, lua_evals[2].retain_nll))
        check.ok(#lua_steps == 3 and worst <= 1e-5,
                 string.format("the Lua %s equals the C %s over 3 steps and the final evaluation " ..
                               "(largest relative gap %.2e <= 1e-5)", label, method, worst))
        check.ok(c_evals[2].forget_nll ~= c_evals[1].forget_nll,
                 "the " .. label .. " runs change the forget probe's NLL, so the comparison covers the gradients")
    end

    same_run("npo", "npo", losses.npo{beta = 0.1}, {beta = 0.1})
    same_run("simnpo", "simnpo", losses.simnpo{beta = 4.5, delta = 0.5}, {beta = 4.5, delta = 0.5})
    same_run("ga", "ga", losses.ga())
    local plain = function(batch)
        local coefficients = {}
        for b = 1, batch.rows do
            coefficients[b] = -1 / batch.tokens
        end
        local total = 0
        for b = 1, batch.rows do
            total = total + batch.nll[b]
        end
        return -total / batch.tokens, coefficients
    end
    local steps = run("plain-function", "ga", plain)
    check.ok(#steps == 3, "a bare function is a loss too")

    local seen
    run("batch", "graddiff", function(batch)
        seen = seen or batch
        return losses.ga().forget(batch)
    end, {steps = 1})
    check.ok(seen.rows == 3 and #seen.nll == 3 and #seen.ref_nll == 3 and #seen.targets == 3 and
             seen.step == 1 and seen.tokens == seen.targets[1] + seen.targets[2] + seen.targets[3] and
             math.abs(seen.nll[1] - seen.ref_nll[1]) < 1e-9,
             "the loss sees rows, step, per-row nll and ref_nll (equal at step 1), targets and tokens")

    local ok, message = pcall(run, "loss-error", "ga", function() error("the loss broke") end)
    check.ok(not ok and message:find("losses.lua:%d+: the loss broke") and message:find("stack traceback:", 1, true),
             "an error in a Lua loss comes out with its file, line and traceback", message)
    check.fails("a loss that returns nothing",
                "returned nil; expected the loss (a number) and a table of 3 row coefficients",
                run, "loss-nil", "ga", function() end)
    check.fails("a loss with too few coefficients", "the second result must be a table of 3 row coefficients",
                run, "loss-short", "ga", function() return 0, {1} end)
    check.fails("a loss with a string coefficient", "coefficient 2 is string, not a number",
                run, "loss-string", "ga", function() return 0, {1, "two", 3} end)
    local model = uoe.load_model(args.model)
    check.fails("a loss that runs the model inside the step",
                "the model is inside a training step (a loss may not run it)",
                run, "loss-model", "ga", function() return model:logits({1}) end, {model = model})
    check.fails("losses.npo with a string beta", "option 'beta': number expected, got string",
                losses.npo, {beta = "high"})
end
