-- uoe.load_model and the model's methods, in use and misuse.
local check = require("check")

name = "api_model"

function experiment(args)
    local uoe = require("uoe")
    local model = uoe.load_model(args.model)

    local info = model:info()
    check.ok(info.family == "qwen2_moe" and info.layers == 2 and info.experts == 4 and
             info.experts_per_token == 2 and info.vocab_size == 400 and #info.moe_layers == 2 and
             info.moe_layers[1] == 0 and info.parameters > 0 and info.dir == args.model,
             "model:info() describes the fixture: qwen2_moe, 2 layers, 4 experts, top-2")
    check.ok(tostring(model):find("uoe.Model qwen2_moe (2 layers, 4 experts, top-2)", 1, true) ~= nil,
             "tostring(model) names the family and the layout")

    local logits = model:logits({1, 2, 3})
    local shape = logits:shape()
    check.ok(shape[1] == 3 and shape[2] == 400 and logits:dtype() == "float32",
             "model:logits(ids) is a float32 tensor (T, V) = (3, 400)")
    local text_logits = model:logits(model:decode({1, 2, 3}))
    check.ok(text_logits:shape()[1] >= 1, "model:logits also takes text, encoded by the model's tokenizer")

    local ids = model:encode("Hello world")
    check.ok(#ids > 0 and model:decode(ids) == "Hello world", "encode and decode round-trip text")

    local out = model:forward({5, 6, 7, 8})
    local experts = out.experts:shape()
    check.ok(type(out.loss) == "number" and out.loss > 0 and experts[1] == 2 and experts[2] == 4 and
             experts[3] == 2 and out.gates:shape()[3] == 2 and out.probs:shape()[3] == 4,
             "model:forward gives the loss and routing taps (M, T, K) experts and gates, (M, T, E) probs")
    local first = out.experts:get(1, 1, 1)
    check.ok(math.type(first) == "integer" and first >= 0 and first < 4 and
             out.logits:get(4, 400) == model:logits({5, 6, 7, 8}):get(4, 400),
             "the routing holds expert numbers, and forward's logits are logits'")
    local probability_sum = 0
    for e = 1, 4 do
        probability_sum = probability_sum + out.probs:get(2, 3, e)
    end
    check.near(probability_sum, 1, 1e-5, "router probabilities of a token sum to 1")
    check.ok(model:forward({5}).loss == nil, "forward of one token has no loss")

    local saved = args.work .. "/saved"
    model:save(saved)
    local again = uoe.load_model(saved)
    check.ok(again:logits({1, 2, 3}):get(3, 17) == logits:get(3, 17),
             "model:save writes a model that loads with the same logits")
    model:save(args.work .. "/saved_bf16", {dtype = "bf16", layout = "fused"})
    check.ok(uoe.load_model(args.work .. "/saved_bf16"):info().layers == 2,
             "model:save takes dtype and layout")

    check.fails("load_model without a directory", "bad argument #1 to 'load_model' (string expected, got no value)",
                function() return uoe.load_model() end)
    check.fails("load_model with a table", "string expected, got table",
                function() return uoe.load_model({}) end)
    check.fails("load_model with two arguments", "bad argument #2 to 'load_model' (unexpected argument",
                function() return uoe.load_model(args.model, 1) end)
    check.fails("load_model of a missing directory names it", "no-such-model/config.json",
                function() return uoe.load_model(args.work .. "/no-such-model") end)
    check.fails("logits without ids", "bad argument #1 to 'logits' (table of token ids or string expected, got no value)",
                function() return model:logits() end)
    check.fails("logits called without a model", "bad argument #1 to 'logits' (uoe.Model expected, got string)",
                function() return model.logits("model", {1}) end)
    check.fails("logits with a non-integer id", "ids[2]: integer expected, got string",
                function() return model:logits({1, "two"}) end)
    check.fails("logits with an id outside the vocabulary", "ids[2]: token id 400 is outside the vocabulary [0, 400)",
                function() return model:logits({1, 400}) end)
    local long = {}
    for i = 1, 65 do
        long[i] = 1
    end
    check.fails("logits past the context", "expected 1 to 64 token ids, got 65",
                function() return model:logits(long) end)
    check.fails("logits with an extra argument", "bad argument #2 to 'logits' (unexpected argument",
                function() return model:logits({1}, {2}) end)
    check.fails("forward with no ids", "expected 1 to 64 token ids, got 0",
                function() return model:forward({}) end)
    check.fails("decode with a string", "bad argument #1 to 'decode' (table expected, got string)",
                function() return model:decode("text") end)
    check.fails("encode with a table", "bad argument #1 to 'encode' (string expected, got table)",
                function() return model:encode({}) end)
    check.fails("info with an argument", "bad argument #1 to 'info' (unexpected argument",
                function() return model:info(1) end)
    check.fails("save with an unknown option", "bad argument #2 to 'save' (unknown key 'colour')",
                function() return model:save(saved, {colour = "red"}) end)
    check.fails("save with an unknown dtype", "key 'dtype': expected f32, bf16 or f16, got 'f64'",
                function() return model:save(saved, {dtype = "f64"}) end)
    check.fails("save with a numeric dtype", "key 'dtype': string expected, got number",
                function() return model:save(saved, {dtype = 32}) end)
    check.fails("save where the parent is missing", "no-such-parent",
                function() return model:save(args.work .. "/no-such-parent/model") end)
end
