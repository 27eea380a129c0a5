-- Datasets, attribution, evaluation and JSON files, in use and misuse.
local check = require("check")

name = "api_data"

function experiment(args)
    local uoe = require("uoe")
    local stats = require("uoe.stats")
    local model = uoe.load_model(args.model)
    local corpus = uoe.load_corpus(args.world .. "/splits/forget.jsonl")
    local mcq = uoe.load_mcq(args.mcq)

    check.ok(#corpus == 12 and type(corpus[1]) == "string" and corpus[13] == nil,
             "a corpus has a length, texts from 1, and nil past its end")
    local count = 0
    for _, text in ipairs(corpus) do
        count = count + (#text > 0 and 1 or 0)
    end
    check.ok(count == 12, "ipairs walks a corpus")
    local item = mcq[1]
    check.ok(#mcq == 9 and item.question == "What is the capital of France?" and
             item.choices[item.answer] == "Paris" and #item.choices == 4,
             "an MCQ item has its question, choices and the answer's position from 1")
    check.ok(tostring(corpus):find("(12 texts)", 1, true) and tostring(mcq):find("(9 questions)", 1, true),
             "tostring of datasets counts their items")

    check.fails("indexing a corpus by a string", "uoe.Corpus is indexed by item numbers from 1 to 12, not by 'text'",
                function() return corpus.text end)
    check.fails("indexing an MCQ set by a fraction", "uoe.Mcq is indexed by item numbers from 1 to 9, not by 1.5",
                function() return mcq[1.5] end)
    check.fails("load_corpus of a missing file names it", "missing.jsonl",
                function() return uoe.load_corpus(args.work .. "/missing.jsonl") end)
    local bad = io.open(args.work .. "/bad.jsonl", "w")
    bad:write('{"text": "fine"}\n{"txet": "wrong key"}\n')
    bad:close()
    check.fails("load_corpus of a bad file names the file and line", "bad.jsonl: line 2: missing string \"text\"",
                function() return uoe.load_corpus(args.work .. "/bad.jsonl") end)
    check.fails("load_mcq of a corpus names the problem", "bad.jsonl: line 1: missing string \"question\"",
                function() return uoe.load_mcq(args.work .. "/bad.jsonl") end)
    check.fails("load_corpus without a path", "bad argument #1 to 'load_corpus' (string expected, got no value)",
                function() return uoe.load_corpus() end)
    check.fails("load_mcq with two paths", "bad argument #2 to 'load_mcq' (unexpected argument",
                function() return uoe.load_mcq(args.mcq, args.mcq) end)

    local scores = uoe.attribute(model, corpus, {sequences = 6})
    check.ok(#scores == 8 and scores.layers == 2 and scores.experts == 4 and scores.sequences == 6 and
             scores.tokens > 0, "attribute gives a record per (MoE layer, expert), with the counts")
    local layer_sum, valid = 0, true
    for _, record in ipairs(scores) do
        valid = valid and record.layer >= 0 and record.layer < 2 and record.expert >= 0 and
            record.expert < 4 and record.score >= 0 and record.selection_share >= 0 and
            record.prob_mean >= 0
        if record.layer == 0 then
            layer_sum = layer_sum + record.selection_share
        end
    end
    check.ok(valid, "each record has its layer, expert, score, selection_share and prob_mean")
    check.near(layer_sum, 1, 1e-9, "a layer's selection shares sum to 1")
    local ranked = stats.rank(scores)
    check.ok(ranked[1].score >= ranked[2].score and ranked[2].score >= ranked[8].score and #scores == 8,
             "stats.rank orders a copy by score")
    check.ok(uoe.attribute(model, corpus).sequences == 12, "attribute scores every text by default")

    check.fails("attribute without a corpus", "bad argument #2 to 'attribute' (uoe.Corpus expected, got no value)",
                function() return uoe.attribute(model) end)
    check.fails("attribute with the arguments swapped", "bad argument #1 to 'attribute' (uoe.Model expected, got uoe.Corpus)",
                function() return uoe.attribute(corpus, model) end)
    check.fails("attribute with an unknown option", "bad argument #3 to 'attribute' (unknown key 'sequence')",
                function() return uoe.attribute(model, corpus, {sequence = 2}) end)
    check.fails("attribute with a negative count", "key 'sequences': expected at least 0, got -1",
                function() return uoe.attribute(model, corpus, {sequences = -1}) end)
    check.fails("attribute with a string count", "key 'sequences': integer expected, got string",
                function() return uoe.attribute(model, corpus, {sequences = "all"}) end)
    check.fails("attribute with options that are not a table", "bad argument #3 to 'attribute' (table expected, got number)",
                function() return uoe.attribute(model, corpus, 3) end)

    local score = uoe.evaluate(model, mcq)
    check.ok(score.questions == 9 and math.abs(score.acc - 2 / 9) < 1e-12 and
             math.abs(score.acc_norm - 3 / 9) < 1e-12,
             "evaluate reproduces the fixture's lm-eval goldens: acc 2/9, acc_norm 3/9")
    check.fails("evaluate on a corpus", "bad argument #2 to 'evaluate' (uoe.Mcq expected, got uoe.Corpus)",
                function() return uoe.evaluate(model, corpus) end)
    check.fails("evaluate with an extra argument", "bad argument #4 to 'evaluate' (unexpected argument",
                function() return uoe.evaluate(model, mcq, {}, 1) end)
    local sample = uoe.evaluate(model, mcq, {questions = 4, seed = 2})
    local again = uoe.evaluate(model, mcq, {questions = 4, seed = 2})
    check.ok(sample.questions == 4 and sample.acc == again.acc and sample.acc_norm == again.acc_norm,
             "evaluate scores a seeded sample of questions, the same for the same seed")
    check.ok(uoe.evaluate(model, mcq, {questions = 50}).questions == 9,
             "a sample larger than the set is the whole set")
    check.fails("evaluate with an unknown option", "bad argument #3 to 'evaluate' (unknown key 'question')",
                function() return uoe.evaluate(model, mcq, {question = 2}) end)
    check.fails("evaluate with a negative sample", "key 'questions': expected at least 0, got -2",
                function() return uoe.evaluate(model, mcq, {questions = -2}) end)

    -- attribution halves and saving, read back by a run
    local saved = args.work .. "/attribution.json"
    local halves = uoe.attribute(model, corpus, {halves = {1, 2, 8}, seed = 3, save = saved})
    local overlaps_ok = #halves.half_overlap == 3 and halves.half_overlap[3].top == 8 and
        halves.half_overlap[3].overlap == 1
    for _, entry in ipairs(halves.half_overlap) do
        overlaps_ok = overlaps_ok and entry.overlap >= 0 and entry.overlap <= 1
    end
    check.ok(overlaps_ok, "attribute with halves gives the overlap of each top M (all 8 pairs: overlap 1)")
    local document = uoe.read_json(saved)
    check.ok(document.sequences == 12 and #document.gate_score == 2 and #document.gate_score[1] == 4 and
             #document.ranking == 8 and #document.half_overlap == 3 and document.ranked_by == "gate",
             "attribute's save writes what uoe-wb attribute --json prints")
    check.near(document.gate_score[2][1], halves[5].score, 1e-12, "the saved matrices hold the records' scores")
    local reloaded = uoe.attribute(model, corpus, {halves = {1, 2, 8}, seed = 3})
    check.ok(reloaded.half_overlap[2].overlap == halves.half_overlap[2].overlap,
             "the halves are drawn from the seed")
    check.fails("attribute with an empty halves list", "key 'halves': a list of 1 to 8 sizes expected",
                function() return uoe.attribute(model, corpus, {halves = {}}) end)
    check.fails("attribute with a fractional half size", "key 'halves': size 2 is not a positive integer",
                function() return uoe.attribute(model, corpus, {halves = {1, 2.5}}) end)
    check.fails("attribute saving into a missing folder", args.work .. "/none/a.json",
                function() return uoe.attribute(model, corpus, {save = args.work .. "/none/a.json"}) end)

    -- JSON files
    local path = args.work .. "/value.json"
    uoe.write_json(path, {name = "run", steps = 3, rate = 0.5, flags = {true, false}, nested = {list = {1, 2, 3}},
                          empty = {}})
    local value = uoe.read_json(path)
    check.ok(value.name == "run" and value.steps == 3 and math.type(value.steps) == "integer" and
             value.rate == 0.5 and value.flags[1] == true and value.flags[2] == false and
             #value.nested.list == 3 and next(value.empty) == nil,
             "write_json and read_json round-trip strings, integers, floats, booleans, lists and objects")
    local text = io.open(path):read("a")
    check.ok(text:find('"empty": %[%]') and text:find('"flags"') < text:find('"name"'),
             "write_json sorts object keys and writes an empty table as []")
    local lines = io.open(args.work .. "/records.jsonl", "w")
    lines:write('{"type": "step", "step": 1}\n\n{"type": "eval", "fe": 0.5}\n')
    lines:close()
    local records = uoe.read_jsonl(args.work .. "/records.jsonl")
    check.ok(#records == 2 and records[1].step == 1 and records[2].fe == 0.5,
             "read_jsonl gives one value per non-empty line")
    local broken = io.open(args.work .. "/broken.jsonl", "w")
    broken:write('{"a": 1}\n{"a": }\n')
    broken:close()
    check.fails("read_jsonl of a broken line names the file and line", "broken.jsonl:2:",
                uoe.read_jsonl, args.work .. "/broken.jsonl")
    check.fails("read_json of a missing file names it", "missing.json",
                uoe.read_json, args.work .. "/missing.json")
    check.fails("write_json of a function", "the value: a function cannot be written as JSON",
                uoe.write_json, path, print)
    check.fails("write_json of a table mixing keys", "mixes string keys with others",
                uoe.write_json, path, {1, 2, name = "x"})
    check.fails("write_json of nan", "rate: a number that is not finite",
                uoe.write_json, path, {rate = 0 / 0})
    local cycle = {}
    cycle.self = cycle
    check.fails("write_json of a cycle", "nested more than 64 deep",
                uoe.write_json, path, cycle)
    check.ok(uoe.read_json(path).name == "run", "a failed write_json leaves the file as it was")
    check.fails("write_json without a value", "bad argument #2 to 'uoe.write_json' (value expected)",
                uoe.write_json, path)
end
