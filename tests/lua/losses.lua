-- Losses and schedules written in Lua (lua/uoe/losses.lua) against the
-- engine's own: the same run with the Lua NPO, SimNPO, GA or RMU (on the
-- named rmu term), a Lua loss weighing the anchor, a Lua retain loss with
-- weight 1 on every token, or a constant Lua schedule, and with the C
-- method takes the same steps (loss, gradient norm and the next steps'
-- values, so the same gradients) to 1e-5. TRACE's token weights, the
-- schedules' values per step, and the errors of Lua losses and schedules.
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

    -- c_extra and lua_extra: keys of only the C run, only the Lua run.
    local function same_run(label, method, lua_loss, extra, c_extra, lua_extra)
        local function merged(more)
            local all = {}
            for _, keys in ipairs({extra or {}, more or {}}) do
                for key, value in pairs(keys) do
                    all[key] = value
                end
            end
            return all
        end
        local c_steps, c_evals = run(label .. "-c", method, nil, merged(c_extra))
        local lua_steps, lua_evals = run(label .. "-lua", method, lua_loss, merged(lua_extra))
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
    same_run("rmu", "rmu", losses.rmu(), {rmu_coeff = 6.5, retain_weight = 2})

    -- The anchor through the named term: a weight replaces alpha.
    local ga_anchor = function(batch)
        local value, coefficients = losses.ga().forget(batch)
        return value, coefficients, {anchor = 3}
    end
    same_run("ga with the anchor weighed", "ga", ga_anchor, {}, {alpha = 3}, {alpha = 0.5})

    -- A retain loss with weight 1 on every token is the engine's retain term.
    local retain_calls = 0
    local plain_retain = {retain = function(batch)
        retain_calls = retain_calls + 1
        local total, coefficients = 0, {}
        for b = 1, batch.rows do
            coefficients[b] = {}
            for t = 1, batch.targets[b] do
                total = total + batch.nll[b][t]
                coefficients[b][t] = batch.retain_weight / batch.tokens
            end
        end
        return batch.retain_weight * total / batch.tokens, coefficients
    end}
    same_run("plain retain", "graddiff", plain_retain, {retain_weight = 1.5})
    check.ok(retain_calls == 3, "the retain loss replaced the engine's retain term at each of the 3 steps")

    -- Schedules: constant functions are the constant settings.
    same_run("schedules", "ga", nil, {}, {lr = 1e-2, alpha = 2},
             {lr = function() return 1e-2 end, alpha = function() return 2 end})
    local lrs, alphas = {}, {}
    local steps = run("schedule-values", "ga", nil, {
        lr = function(step) lrs[#lrs + 1] = step return 1e-3 * step end,
        alpha = function(step) alphas[#alphas + 1] = step return step - 1 end})
    check.ok(#lrs == 3 and lrs[3] == 3 and #alphas == 3 and alphas[1] == 1,
             "the schedule functions are called once per step with the step, from 1")
    check.ok(math.abs(steps[3].learning_rate - 3e-3) < 1e-9 and steps[1].anchor_alpha == 0 and
             steps[3].anchor_alpha == 2 and steps[1].anchor_term == 0 and steps[3].anchor_term > 0,
             "each step takes its learning rate and alpha from the functions")
    check.fails("a learning-rate function that returns a string",
                "lr (defined at", run, "schedule-string", "ga", nil, {lr = function() return "fast" end})
    check.fails("a learning-rate function that returns a string, named",
                "returned string for step 1; expected a number", run, "schedule-string2", "ga", nil,
                {lr = function() return "fast" end})
    check.fails("an alpha function that returns a negative number",
                "the router anchor alpha of step 2 is -1; it must be a finite number >= 0",
                run, "schedule-negative", "ga", nil, {alpha = function(step) return step == 2 and -1 or 0 end})
    local ok, message = pcall(run, "schedule-error", "ga", nil, {lr = function() error("no rate") end})
    check.ok(not ok and message:find("losses.lua:%d+: no rate") and message:find("stack traceback:", 1, true),
             "an error in a schedule comes out with its file, line and traceback", message)

    -- TRACE: the weights restore the forget share of target-selecting tokens.
    local w_hit, w_miss = losses.trace_weights(10, 100, 0.4, 10)
    check.ok(math.abs((10 * w_hit) / (10 * w_hit + 90 * w_miss) - 0.4) < 1e-12 and
             math.abs((10 * w_hit + 90 * w_miss) / 100 - 1) < 1e-12,
             "trace weights give target-selecting tokens the forget share (0.4) with mean weight 1")
    w_hit, w_miss = losses.trace_weights(1, 100, 0.9, 10)
    check.ok(w_hit / w_miss <= 10 / ((1 - 0.9) / (1 - 0.01)) + 1e-9 and
             math.abs((w_hit + 99 * w_miss) / 100 - 1) < 1e-12,
             "trace weights cap the ratio at max_weight and keep the mean weight 1")
    check.ok(select(1, losses.trace_weights(0, 50, 0.3, 10)) == 1,
             "a batch where no token selects the target keeps weight 1")
    local trace, seen_trace = losses.trace(), nil
    local trace_steps = run("trace", "graddiff", {retain = function(batch)
        seen_trace = seen_trace or batch
        return trace.retain(batch)
    end}, {set = "uoe"})
    local hits, rows_ok = 0, seen_trace.rows == 2
    for b = 1, seen_trace.rows do
        rows_ok = rows_ok and #seen_trace.nll[b] == seen_trace.targets[b] and #seen_trace.hits[b] == seen_trace.targets[b]
        for t = 1, seen_trace.targets[b] do
            hits = hits + (seen_trace.hits[b][t] and 1 or 0)
        end
    end
    check.ok(rows_ok and hits > 0 and hits < seen_trace.tokens and seen_trace.forget_rate > 0 and
             seen_trace.forget_rate <= 1 and seen_trace.retain_weight == 1,
             "a retain loss sees per-token nll and target hits (some, not all), the forget rate and lambda",
             string.format("hits %d of %d, forget rate %s", hits, seen_trace.tokens, tostring(seen_trace.forget_rate)))
    check.ok(#trace_steps == 3 and trace_steps[3].retain_term > 0, "a graddiff run with the TRACE retain loss runs")
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
    check.fails("a loss that returns nothing", "the loss (first result) is nil, not a number",
                run, "loss-nil", "ga", function() end)
    check.fails("a loss with too few coefficients",
                "the second result must be nil or a table of 3 row coefficients",
                run, "loss-short", "ga", function() return 0, {1} end)
    check.fails("a loss with an unknown term weight", "unknown term weight 'anchr' (the terms are anchor and rmu)",
                run, "loss-weight-name", "ga", function() return 0, nil, {anchr = 1} end)
    check.fails("a loss with an infinite term weight", "the weight on 'rmu' is inf, not finite",
                run, "loss-weight-inf", "ga", function() return 0, nil, {rmu = math.huge} end)
    check.fails("a retain loss with a short row", "row 1 of the coefficients must be a table of",
                run, "retain-short", "graddiff", {retain = function(batch) return 0, {{}, {}} end})
    check.fails("a loss with a string coefficient", "coefficient 2 is string, not a number",
                run, "loss-string", "ga", function() return 0, {1, "two", 3} end)
    local model = uoe.load_model(args.model)
    check.fails("a loss that runs the model inside the step",
                "the model is inside a training step (a loss may not run it)",
                run, "loss-model", "ga", function() return model:logits({1}) end, {model = model})
    check.fails("losses.npo with a string beta", "option 'beta': number expected, got string",
                losses.npo, {beta = "high"})
end
