-- The paper's experiments, in kind, on the embedded default model, and
-- docs/results.md rendered from them (lua/uoe/results.lua):
--   - the method matrix: GA, GradDiff, NPO and RMU on all parameters and
--     with UOE, RMU with a random expert, and Table 1's routers-only and
--     experts-only rows, each over the same learning-rate grid and budget;
--   - the anchor's alpha sweep for GA+UOE, and top-1 against top-3 and top-6;
--   - the stability of attribution (two disjoint halves, Table 8);
--   - the time of a UOE step with and without the frozen-prefix cache, and
--     of a full-parameter step.
--   uoe-wb run lua/experiments/paper_table.lua [out=runs/paper] [steps=N]
--       [lrs=1e-4,1e-3,1e-2] [eval_questions=N] [batch=N] [probe_sequences=N]
--       [full_questions=N] [attribution_sequences=N] [timing_steps=N] [results=FILE]
-- A run whose summary.json exists is kept, so an interrupted reproduction
-- goes on where it stopped; remove the out folder to start afresh. With
-- fewer steps, another grid or fewer questions (a quick trial of the
-- pipeline, full_questions sampling the "full" evaluations) the page goes
-- to OUT/results.md unless results= names a file.
local uoe = require("uoe")
local results = require("uoe.results")

name = "paper_table"
description = "the method matrix, sweeps, attribution stability and step times of docs/results.md"
defaults = {
    model = "data/models/default",
    world = "data/world",
    out = "runs/paper",
    steps = 60,
    lrs = "1e-4,1e-3,1e-2",
    eval_questions = 200,
    batch = 8,
    probe_sequences = 32,
    fe_target = 0.35,
    full_questions = 0,
    attribution_sequences = 0,
    timing_steps = 80,
    results = "docs/results.md",
}

-- The protocol of docs/results.md: a run that differs writes elsewhere.
local full_protocol = {steps = 60, lrs = "1e-4,1e-3,1e-2", eval_questions = 200, batch = 8,
                       probe_sequences = 32, fe_target = 0.35,
                       full_questions = 0, attribution_sequences = 0, timing_steps = 80}

-- Every row: `steps` steps of `batch` forget (and retain) sequences, evaluated
-- every 10 steps on seeded samples; the state reported is the best UT with
-- FE <= fe_target, and its weights are saved for the full evaluation.
local function common_keys(args)
    return {world = args.world, steps = args.steps, forget_batch = args.batch,
            retain_batch = args.batch, probe_sequences = args.probe_sequences,
            eval_every = 10, snapshot_every = 10, eval_questions = args.eval_questions,
            select = "best-ut", fe_target = args.fe_target, seed = 1, quiet = true,
            save_model = true, attribution = args.out .. "/attribution.json"}
end

local rmu_keys = {rmu_coeff = 20, retain_weight = 100}

local function exists(path)
    local file = io.open(path, "rb")
    if file then
        file:close()
    end
    return file ~= nil
end

local function remove_tree(path)
    assert(os.execute("rm -rf '" .. path:gsub("'", "'\\''") .. "'"), "cannot remove " .. path)
end

local function merged(...)
    local all = {}
    for _, keys in ipairs({...}) do
        for key, value in pairs(keys) do
            all[key] = value
        end
    end
    return all
end

-- One unlearning run into OUT/NAME, unless it finished before. A run that a
-- non-finite value stopped keeps its summary and counts as a result.
local function run(args, name, keys)
    local dir = args.out .. "/" .. name
    if exists(dir .. "/summary.json") then
        return
    end
    remove_tree(dir)
    print(string.format("[%d s] %s", os.time() - args.started, name))
    local config = merged(keys, {model = uoe.load_model(args.model), out = dir})
    uoe.run(config):start()
end

-- One row of the matrix over the learning-rate grid.
local function row(args, name, keys)
    for _, lr in ipairs(args.grid) do
        run(args, name .. "@lr=" .. lr, merged(common_keys(args), keys, {lr = tonumber(lr)}))
    end
end

-- FE and UT on the whole question sets (or seeded samples of full_questions
-- when > 0), as `uoe-wb eval --json` writes them.
local function evaluate(args, model_dir, fe_file, ut_file)
    if exists(ut_file) then
        return
    end
    local model = uoe.load_model(model_dir)
    for _, output in ipairs({{fe_file, "forget_mcq.jsonl"}, {ut_file, "utility_mcq.jsonl"}}) do
        local file, path = output[1], args.world .. "/splits/" .. output[2]
        local score = uoe.evaluate(model, uoe.load_mcq(path), {questions = args.full_questions})
        uoe.write_json(file, {file = path, questions = score.questions, acc = score.acc,
                              acc_norm = score.acc_norm})
    end
end

-- 80 GA steps over the first 64 forget texts, without evaluation, so that
-- most steps find their documents' frozen prefix cached; always afresh.
local function time_steps(args)
    local texts = args.out .. "/forget-64.jsonl"
    local input = assert(io.open(args.world .. "/splits/forget.jsonl", "rb"))
    local output = assert(io.open(texts, "wb"))
    local count = 0
    for line in input:lines() do
        if count == 64 then
            break
        end
        output:write(line, "\n")
        count = count + 1
    end
    input:close()
    output:close()
    local timing = {world = args.world, forget = texts, steps = args.timing_steps, eval_every = 1000,
                    snapshot_every = 1000, eval_questions = 20, lr = 1e-3, seed = 1, quiet = true,
                    method = "ga"}
    for _, entry in ipairs({{"time-uoe-cached", {set = "uoe"}},
                            {"time-uoe-uncached", {set = "uoe", prefix_cache = false}},
                            {"time-all", {set = "all", alpha = 0}}}) do
        remove_tree(args.out .. "/" .. entry[1])
        run(args, entry[1], merged(timing, entry[2]))
    end
end

local function reproduce(args)
    os.execute("mkdir -p '" .. args.out:gsub("'", "'\\''") .. "'")
    -- attribution is scored once on the whole forget set and shared by every run
    if not exists(args.out .. "/attribution.json") then
        local model = uoe.load_model(args.model)
        local forget = uoe.load_corpus(args.world .. "/splits/forget.jsonl")
        local K = model:info().experts_per_token
        uoe.attribute(model, forget, {sequences = args.attribution_sequences, halves = {1, K, 16}, seed = 1,
                                      save = args.out .. "/attribution.json"})
    end

    row(args, "ga-all", {method = "ga", set = "all", alpha = 0})
    row(args, "ga-uoe", {method = "ga", set = "uoe", alpha = 1})
    row(args, "graddiff-all", {method = "graddiff", set = "all", alpha = 0})
    row(args, "graddiff-uoe", {method = "graddiff", set = "uoe", alpha = 1})
    row(args, "npo-all", {method = "npo", set = "all", alpha = 0})
    row(args, "npo-uoe", {method = "npo", set = "uoe", alpha = 1})
    row(args, "rmu-all", merged({method = "rmu", set = "all", alpha = 0}, rmu_keys))
    row(args, "rmu-uoe", merged({method = "rmu", set = "uoe", alpha = 1}, rmu_keys))
    row(args, "rmu-random", merged({method = "rmu", set = "random", alpha = 1}, rmu_keys))
    row(args, "ga-routers", {method = "ga", set = "routers", alpha = 0})
    row(args, "ga-experts", {method = "ga", set = "experts", alpha = 0})

    -- the sweeps use GA+UOE's chosen learning rate
    local ga_uoe = results.best_row_run(args.out, "ga-uoe", args.grid)
    local sweep = merged(common_keys(args), {lr = tonumber(ga_uoe.lr), method = "ga", set = "uoe"})
    for _, alpha in ipairs({0, 100, 1000}) do
        run(args, "alpha-" .. alpha, merged(sweep, {alpha = alpha}))
    end
    for _, set in ipairs({"top3-layer", "top6-layer", "top3-global", "top6-global"}) do
        run(args, set, merged(sweep, {set = set, alpha = 1}))
    end

    -- the full question sets at each row's reported state (the weights each run saved)
    for _, entry in ipairs(results.rows) do
        local best = results.best_row_run(args.out, entry[1], args.grid)
        print(string.format("[%d s] full evaluation of %s", os.time() - args.started, best.dir))
        evaluate(args, best.dir .. "/model", best.dir .. "/full-fe.json", best.dir .. "/full-ut.json")
    end
    evaluate(args, args.model, args.out .. "/pretrained-fe.json", args.out .. "/pretrained-ut.json")
    time_steps(args)
end

function experiment(args)
    args.grid = {}
    for lr in tostring(args.lrs):gmatch("[^,%s]+") do
        if not tonumber(lr) then
            error("lrs: expected learning rates separated by commas, got '" .. args.lrs .. "'")
        end
        args.grid[#args.grid + 1] = lr
    end
    local full = true
    for key, value in pairs(full_protocol) do
        full = full and args[key] == value
    end
    if not full and args.results == defaults.results then
        args.results = args.out .. "/results.md"
    end
    args.started = os.time()
    -- every invocation adds its wall time, so a resumed reproduction reports the whole
    local ok, message = pcall(reproduce, args)
    local wall = assert(io.open(args.out .. "/wall-seconds", "a"))
    wall:write(os.time() - args.started, "\n")
    wall:close()
    if not ok then
        error(message, 0)
    end
    print(string.format("[%d s] writing %s", os.time() - args.started, args.results))
    local page = results.report(args.out, {fe_target = args.fe_target, steps = args.steps,
                                           batch = args.batch, eval_questions = args.eval_questions,
                                           probe_sequences = args.probe_sequences, grid = args.grid,
                                           threads = os.getenv("OMP_NUM_THREADS") or "all"})
    local temporary = args.results .. ".tmp"
    local file = assert(io.open(temporary, "wb"))
    file:write(page)
    file:close()
    assert(os.rename(temporary, args.results))
end
