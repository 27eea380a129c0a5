#!/usr/bin/env python3
"""The PyTorch twin of bench_engine.c: the same model, batch and steps, run by
transformers' Qwen2MoeForCausalLM in eager mode on the CPU, printing the same
lines so that scripts/bench-compare can match them row by row.

    .venv/bin/python bench/bench_torch.py [--iters N] [--quick]

Rows:
    forward     the forward pass with the loss, under torch.no_grad()
    train_full  forward + backward with every parameter requiring grad
    train_uoe   forward + backward with grad on the router and the experts of
                the second-to-last layer (layer 6 of 8). transformers keeps a
                layer's experts as fused stacks (mlp.experts.gate_up_proj and
                down_proj), so the whole stack gets gradients, not one expert.

GFLOP/s use the formulas of bench_engine.c; for train_uoe they count the work
the UOE set needs (one expert's weight gradients), not the larger work
PyTorch does on the whole stack.
"""

import argparse
import math
import os
import statistics
import time

import torch
import transformers
from transformers import Qwen2MoeConfig, Qwen2MoeForCausalLM

WEIGHT_SEED = 1234
TOKEN_SEED = 5678
WEIGHT_STD = 0.02
SGEMM_SIZE = 1024
SGEMM_REPEATS = 5

# The same shapes as reference_config() and quick_config() in bench_engine.c.
CONFIGS = {
    "reference": dict(layers=8, hidden=512, heads=8, kv_heads=8, head_dim=64, experts=32,
                      top_k=4, expert_width=256, shared_width=256, vocab=8192, batch=8, seq=256),
    "quick": dict(layers=4, hidden=64, heads=4, kv_heads=4, head_dim=16, experts=8, top_k=2,
                  expert_width=32, shared_width=32, vocab=512, batch=2, seq=32),
}


def hf_config(shape):
    return Qwen2MoeConfig(
        num_hidden_layers=shape["layers"],
        hidden_size=shape["hidden"],
        num_attention_heads=shape["heads"],
        num_key_value_heads=shape["kv_heads"],
        head_dim=shape["head_dim"],
        num_experts=shape["experts"],
        num_experts_per_tok=shape["top_k"],
        moe_intermediate_size=shape["expert_width"],
        shared_expert_intermediate_size=shape["shared_width"],
        intermediate_size=shape["expert_width"],  # no dense layers: unused
        vocab_size=shape["vocab"],
        decoder_sparse_step=1,
        norm_topk_prob=False,
        qkv_bias=True,
        tie_word_embeddings=False,
        rope_theta=1e6,
        rms_norm_eps=1e-6,
        initializer_range=WEIGHT_STD,
        router_aux_loss_coef=0.0,
        output_router_logits=False,
        use_cache=False,
        attn_implementation="eager",
    )


# ---- FLOP counts: the formulas of bench_engine.c, which documents them ----

def attention_core_flops(s):
    return 4.0 * s["heads"] * s["head_dim"] * (s["seq"] + 1) / 2.0


def layer_forward_flops(s):
    hidden = s["hidden"]
    heads_width, kv_width = s["heads"] * s["head_dim"], s["kv_heads"] * s["head_dim"]
    projections = 2.0 * hidden * (heads_width + 2.0 * kv_width) + 2.0 * heads_width * hidden
    router = 2.0 * hidden * s["experts"]
    routed = s["top_k"] * 3.0 * 2.0 * hidden * s["expert_width"]
    shared = 3.0 * 2.0 * hidden * s["shared_width"] + 2.0 * hidden
    return projections + attention_core_flops(s) + router + routed + shared


def forward_flops_per_token(s):
    return s["layers"] * layer_forward_flops(s) + 2.0 * s["hidden"] * s["vocab"]


def uoe_step_flops(s, layer, expert_rows):
    hidden = s["hidden"]
    per_token = forward_flops_per_token(s) + 2.0 * hidden * s["vocab"]
    per_token += (s["layers"] - 1 - layer) * (layer_forward_flops(s) + attention_core_flops(s))
    per_token += 2.0 * hidden * s["experts"] + 2.0 * hidden * s["top_k"]
    tokens = s["batch"] * s["seq"]
    return tokens * per_token + expert_rows * 4.0 * 2.0 * hidden * s["expert_width"]


# ---- timing ----

def sgemm_gflops():
    """Best of a few 1024^3 products: the BLAS ceiling PyTorch reaches here."""
    generator = torch.Generator().manual_seed(WEIGHT_SEED)
    a = torch.rand(SGEMM_SIZE, SGEMM_SIZE, generator=generator) - 0.5
    b = torch.rand(SGEMM_SIZE, SGEMM_SIZE, generator=generator) - 0.5
    torch.mm(a, b)
    best = math.inf
    for _ in range(SGEMM_REPEATS):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2.0 * SGEMM_SIZE**3 / best * 1e-9


def time_steps(step, iters):
    """Median seconds of `iters` steps after one warm-up step."""
    step()
    seconds = []
    for _ in range(iters):
        start = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def thread_count():
    """OpenMP's default: OMP_NUM_THREADS when set, else the CPUs this process may use."""
    setting = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    if setting:
        return int(setting)
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def most_selected_expert(model, ids, layer, num_experts):
    """The expert that `layer` selects most often on the batch (the lower index
    on ties), and how many slots it gets, from one forward pass; also returns
    that pass's loss."""
    selected = []
    router = model.model.layers[layer].mlp.gate
    # the router returns (logits, top-k weights, top-k indices)
    hook = router.register_forward_hook(lambda module, inputs, output: selected.append(output[2]))
    with torch.no_grad():
        loss = model(input_ids=ids, labels=ids).loss.item()
    hook.remove()
    counts = torch.bincount(selected[0].reshape(-1), minlength=num_experts)
    expert = int(torch.argmax(counts))  # first maximum: the lower index
    return expert, int(counts[expert]), loss


def set_trainable(model, predicate):
    for name, param in model.named_parameters():
        param.requires_grad_(predicate(name))
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def uoe_parameter_names(model, layer, expert):
    """Names of the UOE set in transformers' layout, and whether the experts
    are fused stacks (so that the whole stack of the layer gets gradients)."""
    prefix = f"model.layers.{layer}.mlp."
    names = {prefix + "gate.weight"}
    experts = model.model.layers[layer].mlp.experts
    fused = hasattr(experts, "gate_up_proj")
    if fused:
        names |= {prefix + "experts.gate_up_proj", prefix + "experts.down_proj"}
    else:
        names |= {prefix + f"experts.{expert}.{n}" for n, _ in experts[expert].named_parameters()}
    return names, fused


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iters", type=int, default=5,
                        help="timed steps per row after one warm-up step (default 5)")
    parser.add_argument("--quick", action="store_true",
                        help="a tiny model instead of the reference one (smoke test)")
    args = parser.parse_args()
    if args.iters < 1:
        parser.error("--iters needs a positive count")

    name = "quick" if args.quick else "reference"
    shape = CONFIGS[name]
    threads = thread_count()
    torch.set_num_threads(threads)
    tokens = shape["batch"] * shape["seq"]
    uoe_layer = shape["layers"] - 2

    print(f"bench pytorch (torch {torch.__version__}, transformers {transformers.__version__})")
    print(f"config name={name} family=qwen2_moe layers={shape['layers']} hidden={shape['hidden']} "
          f"heads={shape['heads']} kv_heads={shape['kv_heads']} head_dim={shape['head_dim']} "
          f"experts={shape['experts']} top_k={shape['top_k']} "
          f"expert_width={shape['expert_width']} shared_width={shape['shared_width']} "
          f"vocab={shape['vocab']} batch={shape['batch']} seq={shape['seq']}")
    print(f"threads torch={torch.get_num_threads()}")
    if hasattr(os, "getloadavg"):
        # other processes on the machine take cores from both benchmarks
        print(f"load avg1={os.getloadavg()[0]:.2f}")
    print(f"sgemm n={SGEMM_SIZE} gflops={sgemm_gflops():.2f}", flush=True)

    torch.manual_seed(WEIGHT_SEED)
    model = Qwen2MoeForCausalLM(hf_config(shape)).float()
    ids = torch.randint(0, shape["vocab"], (shape["batch"], shape["seq"]),
                        generator=torch.Generator().manual_seed(TOKEN_SEED))
    print(f"params total={sum(p.numel() for p in model.parameters())}")
    print(f"experts_implementation={model.config._experts_implementation}")
    model.eval()
    expert, expert_rows, loss = most_selected_expert(model, ids, uoe_layer, shape["experts"])
    print(f"loss first_step={loss:.4f} (ln V = {math.log(shape['vocab']):.4f})")
    print(f"uoe layer={uoe_layer} expert={expert} rows={expert_rows} of {tokens * shape['top_k']}",
          flush=True)

    def forward_step():
        with torch.no_grad():
            model(input_ids=ids, labels=ids)

    def train_step():
        model.zero_grad(set_to_none=True)
        model(input_ids=ids, labels=ids).loss.backward()

    uoe_names, fused = uoe_parameter_names(model, uoe_layer, expert)
    rows = [
        ("forward", "forward", forward_step, lambda: set_trainable(model, lambda n: False),
         tokens * forward_flops_per_token(shape)),
        ("train_full", "forward+backward full", train_step,
         lambda: set_trainable(model, lambda n: True), tokens * 3.0 * forward_flops_per_token(shape)),
        ("train_uoe", "forward+backward UOE", train_step,
         lambda: set_trainable(model, lambda n: n in uoe_names),
         uoe_step_flops(shape, uoe_layer, expert_rows)),
    ]
    results = []
    for row_name, label, step, make_trainable, flops in rows:
        trainable = make_trainable()
        model.train(row_name != "forward")
        seconds = time_steps(step, args.iters)
        print(f"row {row_name} tokens_per_s={tokens / seconds:.1f} gflops={flops / seconds * 1e-9:.2f} "
              f"seconds={seconds:.4f} trainable={trainable}", flush=True)
        results.append((label, seconds, flops, trainable))

    print(f"\n{'step':<24} {'tokens/s':>12} {'GFLOP/s':>10} {'median s':>10} {'trainable':>12}")
    for label, seconds, flops, trainable in results:
        print(f"{label:<24} {tokens / seconds:12.1f} {flops / seconds * 1e-9:10.2f} {seconds:10.4f} "
              f"{trainable:12d}")
    scope = (f"the whole expert stack of layer {uoe_layer} (fused tensors) and its router"
             if fused else f"expert {expert} of layer {uoe_layer} and its router")
    print(f"\nforward+backward UOE: PyTorch computes gradients for {scope}.\n"
          "GFLOP/s count FLOPs from the shapes with the formulas of bench/bench_engine.c; for UOE\n"
          f"they count the work one expert's training needs (expert {expert}: {expert_rows} rows), "
          "not what PyTorch executes.\n"
          f"Median of {args.iters} steps after 1 warm-up.")


if __name__ == "__main__":
    main()
