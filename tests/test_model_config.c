/* config.json reading: the key aliases of each family and of transformers 4
 * and 5, the layer-kind rules, and one clear error for each kind of bad input. */
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "model_config.h"
#include "tap.h"
#include "test_util.h"

/* A valid Qwen2-MoE config written the transformers 4 way. Cases add keys to
 * QWEN2_BASE, or give their own layer, head and top-k counts after QWEN2_COMMON. */
#define QWEN2_COMMON                                                                        \
    "\"model_type\": \"qwen2_moe\", \"vocab_size\": 50, \"hidden_size\": 16, "              \
    "\"num_attention_heads\": 4, \"intermediate_size\": 24, \"moe_intermediate_size\": 8, " \
    "\"num_experts\": 6, \"shared_expert_intermediate_size\": 12, \"rms_norm_eps\": 1e-6"
#define QWEN2_SHAPE(layers, kv_heads, top_k)                                                \
    ", \"num_hidden_layers\": " #layers ", \"num_key_value_heads\": " #kv_heads                \
    ", \"num_experts_per_tok\": " #top_k
#define QWEN2_BASE QWEN2_COMMON QWEN2_SHAPE(4, 2, 2)

static int load_text(ModelConfig *config, const char *text)
{
    char path[PATH_MAX];
    temp_path(path, sizeof path, "config.json");
    write_bytes(path, text, strlen(text));
    error_clear();
    return model_config_load(config, path);
}

static void check_aliases(void)
{
    ModelConfig c;
    int rc = load_text(&c, "{" QWEN2_BASE ", \"rope_theta\": 1000000.0}");
    tap_ok(rc == 0 && c.rope_theta == 1e6f && c.num_experts == 6 && c.head_dim == 4 &&
           c.attention_bias && c.shared_intermediate == 12 && c.shared_expert_gate,
           "transformers 4 Qwen2-MoE: top-level rope_theta, implicit q/k/v bias, gated shared expert");
    rc = load_text(&c, "{" QWEN2_BASE ", \"rope_parameters\": {\"rope_theta\": 500.0, \"rope_type\": \"default\"}, "
                       "\"qkv_bias\": false}");
    tap_ok(rc == 0 && c.rope_theta == 500.0f && !c.attention_bias,
           "transformers 5: rope_parameters.rope_theta and qkv_bias");
    rc = load_text(&c, "{\"model_type\": \"mixtral\", \"vocab_size\": 50, \"hidden_size\": 16, "
                       "\"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"intermediate_size\": 8, "
                       "\"num_local_experts\": 4, \"num_experts_per_tok\": 2, \"head_dim\": null}");
    tap_ok(rc == 0 && c.num_experts == 4 && c.head_dim == 4 && c.num_kv_heads == 4 &&
           c.norm_topk_prob && c.expert_intermediate == 8 && c.rope_theta == 1e6f &&
           c.rms_norm_eps == 1e-5f,
           "Mixtral: num_local_experts, head_dim null, family defaults, always renormalised");
    rc = load_text(&c, "{\"model_type\": \"qwen3_moe\", \"vocab_size\": 50, \"hidden_size\": 16, "
                       "\"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"head_dim\": 8, "
                       "\"intermediate_size\": 8, \"moe_intermediate_size\": 4, \"num_experts\": 4, "
                       "\"num_experts_per_tok\": 2, \"norm_topk_prob\": true}");
    tap_ok(rc == 0 && c.head_dim == 8 && c.qk_norm == QK_NORM_PER_HEAD && c.norm_topk_prob,
           "Qwen3-MoE: num_experts (as real checkpoints write it), explicit head_dim, per-head q/k norm");
}

static void check_layer_kinds(void)
{
    ModelConfig c;
    int rc = load_text(&c, "{" QWEN2_BASE ", \"decoder_sparse_step\": 2, \"mlp_only_layers\": [3]}");
    tap_ok(rc == 0 && !c.layer_is_moe[0] && c.layer_is_moe[1] && !c.layer_is_moe[2] &&
           !c.layer_is_moe[3] && model_config_num_moe_layers(&c) == 1,
           "decoder_sparse_step 2 and mlp_only_layers [3] leave only layer 1 sparse");
    rc = load_text(&c, "{" QWEN2_BASE ", \"first_k_dense_replace\": 1}");
    tap_ok(rc == 0 && !c.layer_is_moe[0] && c.layer_is_moe[1] && c.layer_is_moe[3],
           "first_k_dense_replace 1 makes layer 0 dense");
}

static const struct {
    const char *what;
    const char *text;
    const char *expected;
} bad_configs[] = {
    {"invalid JSON", "{" QWEN2_BASE ",\n \"vocab_size\" 50}", "line 2"},
    {"a top-level array", "[1, 2]", "expected a JSON object"},
    {"a missing key", "{\"model_type\": \"qwen2_moe\", \"hidden_size\": 16}", "\"vocab_size\""},
    {"an unsupported model_type", "{\"model_type\": \"llama\"}", "model_type \"llama\" is not supported"},
    {"a string where an integer belongs", "{" QWEN2_COMMON QWEN2_SHAPE("4", 2, 2) "}",
     "\"num_hidden_layers\": expected an integer"},
    {"a duplicated key", "{" QWEN2_BASE ", \"vocab_size\": 51}", "duplicate"},
    {"too many experts per token", "{" QWEN2_COMMON QWEN2_SHAPE(4, 2, 7) "}",
     "num_experts_per_tok (7) exceeds"},
    {"heads not divisible by KV heads", "{" QWEN2_COMMON QWEN2_SHAPE(4, 3, 2) "}",
     "not a multiple of num_key_value_heads"},
    {"a layer index past the model", "{" QWEN2_BASE ", \"mlp_only_layers\": [4]}",
     "\"mlp_only_layers\": entry 0"},
    {"a scaled rope", "{" QWEN2_BASE ", \"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4}}",
     "rope type yarn is not supported"},
    {"sliding-window attention", "{" QWEN2_BASE ", \"use_sliding_window\": true}",
     "sliding-window attention is not supported"},
    {"an activation other than SiLU", "{" QWEN2_BASE ", \"hidden_act\": \"gelu\"}",
     "only \"silu\" is supported"},
    {"OLMoE's q/k/v clipping", "{\"model_type\": \"olmoe\", \"clip_qkv\": 8.0}",
     "clipping q/k/v is not supported"},
    {"zero layers", "{" QWEN2_COMMON QWEN2_SHAPE(0, 2, 2) "}", "outside 1.."},
    /* Found by fuzzing (tests/fuzz/regressions/model_config): heads x head_dim overflowed an
     * int, and a rope_theta past the float range became infinity. */
    {"heads x head_dim past the int range",
     "{\"model_type\": \"olmoe\", \"vocab_size\": 64, \"hidden_size\": 16, "
     "\"num_hidden_layers\": 1, \"num_attention_heads\": 65536, \"head_dim\": 65536, "
     "\"intermediate_size\": 8, \"num_experts\": 4, \"num_experts_per_tok\": 2}",
     "heads x head_dim (4294967296) == hidden_size (16)"},
    {"a rope_theta past the float range", "{" QWEN2_BASE ", \"rope_theta\": 1e39}",
     "\"rope_theta\": 1e+39 is out of range for a float"},
};

static void check_bad_configs(void)
{
    for (size_t i = 0; i < sizeof bad_configs / sizeof bad_configs[0]; i++) {
        ModelConfig c;
        int rc = load_text(&c, bad_configs[i].text);
        bool named = strstr(error_message(), "config.json") && strstr(error_message(), bad_configs[i].expected);
        if (!tap_ok(rc == -1 && named, "%s is refused with a message naming the file and the problem",
                    bad_configs[i].what))
            tap_diag("got %d: %s", rc, error_message());
    }
    ModelConfig c;
    char path[PATH_MAX];
    int rc = model_config_load(&c, temp_path(path, sizeof path, "absent.json"));
    tap_ok(rc == -1 && strstr(error_message(), "absent.json"), "a missing file is refused naming it");
}

int main(void)
{
    make_temp_dir();
    check_aliases();
    check_layer_kinds();
    check_bad_configs();
    remove_temp_dir();
    return tap_done();
}
