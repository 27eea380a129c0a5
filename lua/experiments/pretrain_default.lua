-- The embedded default model, data/models/default/, from the world in
-- data/world/: a byte-level BPE vocabulary, then pretraining from scratch.
-- scripts/make-default-model runs it and keeps its output as OUT/train.log.
--   uoe-wb run lua/experiments/pretrain_default.lua [steps=N] [out=DIR] [log_every=N]
-- A smaller steps= (and another out=) gives a quick trial of the same training.

name = "pretrain_default"
description = "the default model: a BPE vocabulary and pretraining on the world's corpus"
defaults = {
    out = "data/models/default",
    corpus = "data/world/corpus/all.jsonl",
    steps = 5000,
    log_every = 100,
}

-- Qwen1.5-MoE's kind of architecture at a size that trains on two cores:
-- fine-grained routed experts (16, top-4, no top-k renormalisation) and one
-- shared expert behind a sigmoid gate.
local config = {
    model_type = "qwen2_moe",
    vocab_size = 2048,
    hidden_size = 128,
    num_hidden_layers = 4,
    num_attention_heads = 4,
    num_key_value_heads = 4,
    intermediate_size = 256,
    moe_intermediate_size = 64,
    num_experts = 16,
    num_experts_per_tok = 4,
    shared_expert_intermediate_size = 128,
    norm_topk_prob = false,
    decoder_sparse_step = 1,
    mlp_only_layers = {},
    tie_word_embeddings = false,
    rope_theta = 10000.0,
    rms_norm_eps = 1e-6,
    max_position_embeddings = 256,
    hidden_act = "silu",
}

function experiment(args)
    local uoe = require("uoe")
    local start = os.time()
    local tokenizer = args.out .. "/tokenizer.json"
    uoe.train_tokenizer{corpus = args.corpus, vocab_size = config.vocab_size,
                        special = {"<|endoftext|>"}, out = tokenizer}
    uoe.train{config = config, tokenizer = tokenizer, corpus = args.corpus, out = args.out,
              steps = args.steps, batch = 16, seq_len = 128, lr = 3e-3, warmup = 100,
              min_lr_ratio = 0.05, weight_decay = 0.1, seed = 1, log_every = args.log_every}
    print(string.format("wall-clock time: %d s", os.difftime(os.time(), start)))
end
