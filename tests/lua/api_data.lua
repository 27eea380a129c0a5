-- Datasets, attribution and evaluation, in use and misuse.
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
    check.fails("evaluate with an extra argument", "bad argument #3 to 'evaluate' (unexpected argument",
                function() return uoe.evaluate(model, mcq, {}) end)
end
