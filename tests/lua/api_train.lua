-- uoe.train_tokenizer and uoe.train in use and misuse, and the shipped
-- lua/experiments/pretrain_default.lua, reduced: through `uoe-wb run` it makes
-- the default model's config.json and tokenizer.json, and the same weights,
-- bit for bit, as `uoe-wb train` with the same settings; Ctrl-C stops it
-- inside the training loop.
local check = require("check")

name = "api_train"

local function read(path)
    local file = io.open(path, "rb")
    if not file then
        return nil
    end
    local content = file:read("a")
    file:close()
    return content
end

local function quote(text)
    return "'" .. text:gsub("'", "'\\''") .. "'"
end

-- Runs a shell command line; returns whether it exited with status 0.
local function shell(command)
    return os.execute(command) == true
end

-- The architecture of tests/fixtures/mcq/model, untied, as a config table.
local function tiny_config()
    return {
        model_type = "qwen2_moe", vocab_size = 400, hidden_size = 32, num_hidden_layers = 2,
        num_attention_heads = 4, num_key_value_heads = 2, intermediate_size = 24,
        moe_intermediate_size = 16, num_experts = 4, num_experts_per_tok = 2,
        shared_expert_intermediate_size = 24, norm_topk_prob = false, decoder_sparse_step = 1,
        mlp_only_layers = {}, tie_word_embeddings = false, rope_theta = 10000.0,
        rms_norm_eps = 1e-6, max_position_embeddings = 64, hidden_act = "silu",
    }
end

local function use(uoe, args)
    local corpus = args.fixtures .. "/tokenizer/corpus.jsonl"
    local tokenizer = args.work .. "/tokenizer/tokenizer.json"
    local made = uoe.train_tokenizer{corpus = corpus, vocab_size = 400, special = {"<|endoftext|>"},
                                     out = tokenizer, quiet = true}
    check.ok(made.out == tokenizer and made.tokens == 400 and made.merges == 143 and
             made.texts == 69 and read(tokenizer) ~= nil,
             "train_tokenizer writes tokenizer.json, its folder made, and says what it holds")

    local records = {}
    local summary, model = uoe.train{
        config = tiny_config(), tokenizer = tokenizer, corpus = {corpus, corpus},
        out = args.work .. "/tiny", steps = 30, batch = 4, seq_len = 32, lr = 1e-2, warmup = 5,
        log_every = 10, seed = 3, quiet = true,
        on_log = function(record) records[#records + 1] = record end,
    }
    local steps = {}
    for _, record in ipairs(records) do
        steps[#steps + 1] = record.step
    end
    check.ok(table.concat(steps, ",") == "1,10,20,30", "on_log sees step 1, every log_every and the last",
             table.concat(steps, ","))
    local last = records[#records]
    check.ok(last.steps == 30 and last.loss == summary.loss and last.learning_rate > 0 and
             last.grad_norm > 0 and last.epoch >= 1 and last.tokens_per_second > 0 and
             last.line:find("^step 30/30  loss %d+%.%d+  lr ") ~= nil,
             "a record has the step's numbers and uoe-wb train's line", last.line)
    check.ok(summary.steps == 30 and summary.documents == 138 and summary.tokens > 0 and
             summary.parameters > 0 and summary.seconds > 0 and summary.out == args.work .. "/tiny",
             "train returns the steps, documents, tokens, parameters, seconds and out")
    check.ok(summary.loss < summary.initial_loss - 0.5, "the training loss fell",
             string.format("%g -> %g", summary.initial_loss, summary.loss))
    local loaded = uoe.load_model(args.work .. "/tiny")
    local ids = loaded:encode("The quick brown fox jumps over the lazy dog.")
    local ours, theirs = model:logits(ids), loaded:logits(ids)
    local same = #ids > 1
    for i = 1, #ids * 400, 97 do
        same = same and ours[i] == theirs[i]
    end
    check.ok(tostring(model):find("^uoe.Model qwen2_moe %(2 layers, 4 experts, top%-2%)") and same,
             "the returned model is the saved one: load_model gives the same logits")

    local again = uoe.train{init = args.work .. "/tiny", tokenizer = args.work .. "/tiny",
                            corpus = corpus, out = args.work .. "/continued", steps = 5, batch = 4,
                            seq_len = 32, lr = 1e-3, warmup = 1, quiet = true}
    check.ok(again.steps == 5 and again.initial_loss < summary.initial_loss - 0.5,
             "init continues a saved model from where it stopped")

    local config_path = args.work .. "/config.json"
    local file = io.open(config_path, "w")
    file:write(read(args.work .. "/tiny/config.json"))
    file:close()
    local from_path = uoe.train{config = config_path, tokenizer = tokenizer, corpus = {corpus, corpus},
                                out = args.work .. "/from-path", steps = 30, batch = 4, seq_len = 32,
                                lr = 1e-2, warmup = 5, seed = 3, quiet = true}
    check.ok(from_path.loss == summary.loss and
             read(args.work .. "/from-path/model.safetensors") == read(args.work .. "/tiny/model.safetensors"),
             "a config.json path trains the same model as its table")
    return corpus, tokenizer
end

local function misuse(uoe, args, corpus, tokenizer)
    local function train(extra)
        local t = {config = tiny_config(), tokenizer = tokenizer, corpus = corpus,
                   out = args.work .. "/misuse", steps = 2, batch = 2, seq_len = 16, quiet = true}
        for key, value in pairs(extra) do
            t[key] = value
        end
        return uoe.train(t)
    end
    check.fails("train with an unknown key", "bad argument #1 to 'train' (unknown key 'stepz')",
                train, {stepz = 2})
    check.fails("train with a string for steps", "key 'steps': integer expected, got string",
                train, {steps = "2"})
    check.fails("train with a string for lr", "key 'lr': number expected, got string",
                train, {lr = "fast"})
    check.fails("train with a fractional batch", "key 'batch': integer expected, got number",
                train, {batch = 1.5})
    check.fails("train with zero steps", "key 'steps': expected at least 1, got 0", train, {steps = 0})
    check.fails("train with a negative weight decay", "key 'weight_decay': expected at least 0",
                train, {weight_decay = -1})
    check.fails("train with a number for on_log", "key 'on_log': function expected, got number",
                train, {on_log = 5})
    check.fails("train with a list holding a number", "key 'corpus': item 2: string expected, got number",
                train, {corpus = {corpus, 3}})
    check.fails("train with a boolean config", "key 'config': string or table expected, got boolean",
                train, {config = true})
    check.fails("train with both config and init", "keys 'config' (a new model) and 'init' (a saved one): exactly one is required",
                train, {init = args.model})
    check.fails("train without a tokenizer", "key 'tokenizer': a tokenizer.json (a string) is required",
                function()
                    return uoe.train{config = tiny_config(), corpus = corpus, out = args.work .. "/x"}
                end)
    check.fails("train without a corpus", "key 'corpus': a JSON Lines file (a string, or a list of them) is required",
                function()
                    return uoe.train{config = tiny_config(), tokenizer = tokenizer, out = args.work .. "/x"}
                end)
    check.fails("train without out", "key 'out': the model directory to write (a string) is required",
                function()
                    return uoe.train{config = tiny_config(), tokenizer = tokenizer, corpus = corpus}
                end)
    check.fails("train without config or init", "exactly one is required", function()
        return uoe.train{tokenizer = tokenizer, corpus = corpus, out = args.work .. "/x"}
    end)
    check.fails("train with a string", "bad argument #1 to 'uoe.train' (table expected, got string)",
                uoe.train, "config.json")
    check.fails("train with two tables", "bad argument #2 to 'uoe.train' (unexpected argument",
                uoe.train, {}, {})
    local bad_config = tiny_config()
    bad_config.hidden_act = print
    check.fails("train with a function in the config", "hidden_act: a function cannot be written as JSON",
                train, {config = bad_config})
    local small = tiny_config()
    small.vocab_size = 300
    check.fails("train with a vocabulary smaller than the tokenizer's",
                "the model's vocabulary (300) is smaller than the tokenizer's (400)", train, {config = small})
    check.fails("train on a missing corpus names the file", "missing.jsonl",
                train, {corpus = args.work .. "/missing.jsonl"})
    check.fails("train with a missing tokenizer names the file", "no-tokenizer.json",
                train, {tokenizer = args.work .. "/no-tokenizer.json"})
    check.fails("an error in on_log stops training with it", "on_log broke",
                train, {out = args.work .. "/broken", on_log = function() error("on_log broke") end})
    check.ok(read(args.work .. "/broken/model.safetensors") == nil, "a stopped training saves no model")

    local function tokenize(extra)
        local t = {corpus = corpus, vocab_size = 300, out = args.work .. "/misuse.json", quiet = true}
        for key, value in pairs(extra) do
            t[key] = value
        end
        return uoe.train_tokenizer(t)
    end
    check.fails("train_tokenizer with an unknown key", "unknown key 'vocab'", tokenize, {vocab = 300})
    check.fails("train_tokenizer with a string vocab_size", "key 'vocab_size': integer expected, got string",
                tokenize, {vocab_size = "300"})
    check.fails("train_tokenizer with a string for special", "key 'special': item 1: string expected, got number",
                tokenize, {special = {1}})
    check.fails("train_tokenizer on a missing corpus names the file", "missing.jsonl",
                tokenize, {corpus = args.work .. "/missing.jsonl"})
    check.fails("train_tokenizer without vocab_size", "key 'vocab_size': the vocabulary to reach (an integer) is required",
                function() return uoe.train_tokenizer{corpus = corpus, out = args.work .. "/x.json"} end)
    check.fails("train_tokenizer without out", "key 'out': the tokenizer.json to write (a string) is required",
                function() return uoe.train_tokenizer{corpus = corpus, vocab_size = 300} end)
end

-- The shipped experiment through `uoe-wb run`, against `uoe-wb train`.
local function pretrain_default(args)
    local out, cli = args.work .. "/pretrain", args.work .. "/pretrain-cli"
    local log = args.work .. "/pretrain.log"
    local ran = shell(string.format("%s run %s steps=10 log_every=5 out=%s >%s 2>&1", quote(args.wb),
                                    quote(args.top .. "/lua/experiments/pretrain_default.lua"),
                                    quote(out), quote(log)))
    local text = read(log) or ""
    check.ok(ran and text:find("tokenizer.json: 2048 tokens, 1791 merges, from 22836 texts", 1, true) and
             text:find("\nstep 5/10  loss ") and text:find("\nstep 10/10  loss ") and
             text:find("\nsaved " .. out .. "\n", 1, true) and text:find("\nwall%-clock time: %d+ s\n"),
             "pretrain_default.lua steps=10 runs to its end, printing the log", text)
    local default = args.top .. "/data/models/default"
    check.ok(read(out .. "/config.json") == read(default .. "/config.json") and
             read(out .. "/tokenizer.json") == read(default .. "/tokenizer.json"),
             "it makes the embedded default model's config.json and tokenizer.json")
    local trained = shell(string.format(
        "%s train --config %s --tokenizer %s --corpus %s --out %s --steps 10 --batch 16 " ..
        "--seq-len 128 --lr 3e-3 --warmup 100 --min-lr-ratio 0.05 --weight-decay 0.1 --seed 1 " ..
        "--log-every 5 >%s 2>&1", quote(args.wb), quote(default .. "/config.json"),
        quote(default .. "/tokenizer.json"), quote(args.top .. "/data/world/corpus/all.jsonl"),
        quote(cli), quote(args.work .. "/pretrain-cli.log")))
    local weights = read(out .. "/model.safetensors")
    check.ok(trained and weights ~= nil and weights == read(cli .. "/model.safetensors"),
             "its model.safetensors is bit-identical to uoe-wb train's with the same settings")

    -- Ctrl-C once the first step is logged: the training loop stops, exit 130
    -- (a loop that missed it would run on until the watchdog's SIGKILL, 137).
    local stopped = args.work .. "/stopped"
    local status = io.popen(string.format([[
        %s run %s steps=100000 log_every=1 out=%s >%s.log 2>%s.err &
        pid=$!
        tries=0
        until grep -q "^step 1/" %s.log || [ $tries -ge 300 ]; do sleep 0.1; tries=$((tries + 1)); done
        kill -INT $pid
        (sleep 30; kill -KILL $pid) >/dev/null 2>&1 &
        watchdog=$!
        wait $pid
        echo $?
        kill $watchdog]], quote(args.wb), quote(args.top .. "/lua/experiments/pretrain_default.lua"),
        quote(stopped), quote(stopped), quote(stopped), quote(stopped))):read("a")
    check.ok(tonumber(status) == 130 and (read(stopped .. ".err") or ""):find("interrupted\n", 1, true) and
             read(stopped .. "/model.safetensors") == nil,
             "Ctrl-C stops the training loop within a step, saving nothing: exit 130",
             "status " .. status .. (read(stopped .. ".err") or ""))
end

function experiment(args)
    local uoe = require("uoe")
    local corpus, tokenizer = use(uoe, args)
    misuse(uoe, args, corpus, tokenizer)
    pretrain_default(args)
end
