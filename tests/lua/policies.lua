-- Attribution policies (lua/policies/) on the fixture's routing statistics:
-- the shipped ones choose what the engine's named sets choose, a policy's
-- targets drive a run, and a policy's mistakes are reported.
local check = require("check")

name = "policies"

function experiment(args)
    local uoe = require("uoe")
    local policy = require("uoe.policy")
    local stats = require("uoe.stats")
    local model = uoe.load_model(args.model)
    local forget = uoe.attribute(model, uoe.load_corpus(args.world .. "/splits/forget.jsonl"))
    local retain = uoe.attribute(model, uoe.load_corpus(args.world .. "/splits/retain.jsonl"))

    local function run_config(out, extra)
        local config = {model = uoe.load_model(args.model), world = args.world, out = args.work .. "/" .. out,
                        steps = 0, quiet = true, probe_sequences = 2, eval_questions = 2}
        for key, value in pairs(extra) do
            config[key] = value
        end
        return config
    end
    -- the engine's choice for a named set: a run of no steps
    local function engine_targets(set)
        local r = uoe.run(run_config("set-" .. set:gsub(":", "-"), {set = set}))
        r:start()
        return r:targets()
    end
    local function same(a, b)
        if #a ~= #b then
            return false
        end
        for i = 1, #a do
            if a[i].layer ~= b[i].layer or a[i].expert ~= b[i].expert then
                return false
            end
        end
        return true
    end

    for _, case in ipairs({{"eq2_top1", {}, "uoe"}, {"topm_layer", {m = 2}, "top2-layer"},
                           {"topm_global", {m = 3}, "top3-global"}, {"esft", {threshold = 0.6}, "esft:0.6"}}) do
        local targets = policy.select(case[1], forget, nil, case[2])
        check.ok(same(targets, engine_targets(case[3])),
                 string.format("policy %s chooses what the engine's set %s chooses (%d targets)",
                               case[1], case[3], #targets))
    end
    check.ok(policy.select("esft", forget).routers == false, "esft leaves the routers frozen")

    local drawn, differs = policy.select("random", forget, nil, {seed = 3}), false
    check.ok(same(drawn, policy.select("random", forget, nil, {seed = 3})) and #drawn == 1,
             "random draws the same expert for the same seed")
    for seed = 4, 40 do
        differs = differs or not same(drawn, policy.select("random", forget, nil, {seed = seed}))
    end
    check.ok(differs, "random draws other experts for other seeds")

    local best, best_ratio = nil, -1
    for _, record in ipairs(forget) do
        local ratio = (record.score + 1e-6) / (stats.find(retain, record.layer, record.expert).score + 1e-6)
        if ratio > best_ratio then
            best, best_ratio = record, ratio
        end
    end
    local ratio_targets = policy.select("forget_retain_ratio", forget, retain)
    check.ok(#ratio_targets == 1 and ratio_targets[1].layer == best.layer and ratio_targets[1].expert == best.expert,
             "forget_retain_ratio takes the expert with the largest forget/retain score ratio")
    check.fails("forget_retain_ratio without retain statistics", "forget_retain_ratio needs the retain set's statistics",
                policy.select, "forget_retain_ratio", forget)

    local targets = policy.select("topm_global", forget, nil, {m = 2})
    local driven = uoe.run(run_config("policy-run", {targets = targets, steps = 1}))
    driven:start()
    check.ok(same(driven:targets(), targets) and driven:state() == "finished",
             "a policy's targets drive a run")

    local path = args.work .. "/my_policy.lua"
    local file = assert(io.open(path, "w"))
    file:write("return function(forget) return {{layer = forget[2].layer, expert = forget[2].expert}} end\n")
    file:close()
    local mine = policy.select(policy.load(path), forget)
    check.ok(mine[1].layer == forget[2].layer and mine[1].expert == forget[2].expert,
             "policy.load reads a policy from a file path")

    check.fails("an unknown policy name", "module 'policies.no_such_policy' not found",
                policy.load, "no_such_policy")
    local not_function = args.work .. "/not_function.lua"
    file = assert(io.open(not_function, "w"))
    file:write("return 42\n")
    file:close()
    check.fails("a policy file that returns no function", "must return a function, got number",
                policy.load, not_function)
    check.fails("a policy that returns nothing", "the policy returned no targets",
                policy.select, function() return {} end, forget)
    check.fails("a policy that returns a string", "the policy returned string",
                policy.select, function() return "0:1" end, forget)
    check.fails("a policy's target outside the model", "the policy's target 1 (layer 5, expert 0) is not an expert of the statistics",
                policy.select, function() return {{layer = 5, expert = 0}} end, forget)
    check.fails("a policy's repeated target", "the policy's target 2 repeats layer 0, expert 1",
                policy.select, function() return {{layer = 0, expert = 1}, {layer = 0, expert = 1}} end, forget)
    check.fails("statistics that are not uoe.attribute's", "forget: uoe.attribute's records expected, got string",
                policy.select, "eq2_top1", "scores")
    check.fails("ranking by an unknown statistic", "unknown statistic 'gate' (expected score, selection_share or prob_mean)",
                stats.rank, forget, "gate")
end
