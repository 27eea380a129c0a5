/* uoe-wb info: architecture, parameter counts and MoE layout of a model. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "checkpoint.h"
#include "cli.h"
#include "error.h"
#include "model.h"

static const char info_usage[] =
    "Usage: uoe-wb info MODEL_DIR [--json]\n"
    "Prints the architecture, parameter counts and MoE layout of a Hugging Face\n"
    "model directory (config.json and safetensors weights).\n"
    "  --json   print one JSON object instead of text\n";

/* Parameter groups, in the order they are reported. */
typedef enum {
    GROUP_EMBEDDING, GROUP_ATTENTION, GROUP_NORMS, GROUP_ROUTERS, GROUP_ROUTED_EXPERTS,
    GROUP_SHARED_EXPERTS, GROUP_DENSE_MLP, GROUP_COUNT
} ParamGroup;

static const char *const group_names[GROUP_COUNT] = {
    "embedding", "attention", "norms", "routers", "routed_experts", "shared_experts", "dense_mlp",
};

static ParamGroup group_of(ParamKind kind)
{
    switch (kind) {
    case PARAM_EMBED: case PARAM_LM_HEAD: return GROUP_EMBEDDING;
    case PARAM_ATTN_NORM: case PARAM_MLP_NORM: case PARAM_FINAL_NORM:
    case PARAM_Q_NORM: case PARAM_K_NORM: return GROUP_NORMS;
    case PARAM_ROUTER: return GROUP_ROUTERS;
    case PARAM_EXPERT_GATE_UP: case PARAM_EXPERT_DOWN: return GROUP_ROUTED_EXPERTS;
    case PARAM_SHARED_GATE_UP: case PARAM_SHARED_DOWN: case PARAM_SHARED_EXPERT_GATE:
        return GROUP_SHARED_EXPERTS;
    case PARAM_DENSE_GATE_UP: case PARAM_DENSE_DOWN: return GROUP_DENSE_MLP;
    default: return GROUP_ATTENTION;
    }
}

static json_t *describe(const Model *model, const char *dir, const CheckpointInfo *info)
{
    const ModelConfig *c = &model->config;
    size_t groups[GROUP_COUNT] = {0};
    for (int i = 0; i < model->num_params; i++)
        groups[group_of(model->params[i].kind)] += model->params[i].numel;
    size_t total = model_param_count(model);
    size_t one_expert = (size_t)3 * c->expert_intermediate * c->hidden_size;
    size_t uoe_set = one_expert + (size_t)c->num_experts * c->hidden_size;

    json_t *params = json_object();
    json_object_set_new(params, "total", json_integer((json_int_t)total));
    for (int g = 0; g < GROUP_COUNT; g++)
        json_object_set_new(params, group_names[g], json_integer((json_int_t)groups[g]));
    json_object_set_new(params, "one_expert", json_integer((json_int_t)one_expert));
    json_object_set_new(params, "uoe_trainable", json_integer((json_int_t)uoe_set));
    json_object_set_new(params, "uoe_fraction", json_real((double)uoe_set / (double)total));

    json_t *layers = json_array();
    for (int l = 0; l < c->num_layers; l++)
        json_array_append_new(layers, json_string(c->layer_is_moe[l] ? "moe" : "dense"));

    static const char *const qk_norm_names[] = {"none", "per_head", "full_width"};
    return json_pack("{s:s, s:s, s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:s, s:b, s:i, s:i, s:i,"
                     " s:i, s:b, s:i, s:b, s:i, s:b, s:f, s:f, s:i, s:o, s:o}",
                     "model", dir, "family", model_family_name(c->family),
                     "dtype", dtype_name(info->dtype),
                     "expert_layout", info->expert_layout == EXPERT_LAYOUT_FUSED ? "fused" : "per_expert",
                     "vocab_size", c->vocab_size, "hidden_size", c->hidden_size,
                     "num_layers", c->num_layers, "num_heads", c->num_heads,
                     "num_kv_heads", c->num_kv_heads, "head_dim", c->head_dim,
                     "qk_norm", qk_norm_names[c->qk_norm], "attention_bias", c->attention_bias,
                     "num_experts", c->num_experts, "experts_per_token", c->experts_per_token,
                     "expert_intermediate", c->expert_intermediate,
                     "shared_intermediate", c->shared_intermediate,
                     "shared_expert_gate", c->shared_expert_gate,
                     "dense_intermediate", c->dense_intermediate,
                     "norm_topk_prob", c->norm_topk_prob,
                     "num_moe_layers", model_config_num_moe_layers(c),
                     "tie_word_embeddings", c->tie_word_embeddings,
                     "rope_theta", (double)c->rope_theta, "rms_norm_eps", (double)c->rms_norm_eps,
                     "max_position_embeddings", c->max_position_embeddings,
                     "layers", layers, "parameters", params);
}

static void print_count(const char *label, size_t count, size_t total)
{
    printf("  %-16s %14zu  %6.2f%%\n", label, count, 100.0 * (double)count / (double)total);
}

static void print_text(const json_t *d)
{
    json_t *p = json_object_get(d, "parameters");
    size_t total = (size_t)json_integer_value(json_object_get(p, "total"));
#define S(key) json_string_value(json_object_get(d, key))
#define I(key) (int)json_integer_value(json_object_get(d, key))
#define B(key) (json_is_true(json_object_get(d, key)) ? "yes" : "no")
    printf("model        %s\n", S("model"));
    printf("family       %s\n", S("family"));
    printf("weights      %s, %s expert layout\n", S("dtype"), S("expert_layout"));
    printf("vocabulary   %d\n", I("vocab_size"));
    printf("hidden       %d\n", I("hidden_size"));
    printf("layers       %d (%d MoE)\n", I("num_layers"), I("num_moe_layers"));
    printf("attention    %d heads, %d KV heads, head dim %d, q/k/v bias %s, q/k norm %s\n",
           I("num_heads"), I("num_kv_heads"), I("head_dim"), B("attention_bias"), S("qk_norm"));
    printf("experts      %d routed, top-%d, width %d, top-k renormalised %s\n", I("num_experts"),
           I("experts_per_token"), I("expert_intermediate"), B("norm_topk_prob"));
    if (I("shared_intermediate") > 0)
        printf("shared       width %d, sigmoid gate %s\n", I("shared_intermediate"),
               B("shared_expert_gate"));
    if (I("num_moe_layers") < I("num_layers"))
        printf("dense MLP    width %d\n", I("dense_intermediate"));
    printf("rope theta   %g\n", json_real_value(json_object_get(d, "rope_theta")));
    printf("rms eps      %g\n", json_real_value(json_object_get(d, "rms_norm_eps")));
    printf("embeddings   %s\n", json_is_true(json_object_get(d, "tie_word_embeddings")) ? "tied" : "separate LM head");
    printf("layout       ");
    size_t i;
    json_t *kind;
    json_array_foreach(json_object_get(d, "layers"), i, kind)
        printf("%s%zu:%s", i ? " " : "", i, json_string_value(kind));
    printf("\nparameters   %zu\n", total);
    for (int g = 0; g < GROUP_COUNT; g++)
        print_count(group_names[g], (size_t)json_integer_value(json_object_get(p, group_names[g])), total);
    print_count("one expert", (size_t)json_integer_value(json_object_get(p, "one_expert")), total);
    print_count("UOE trainable", (size_t)json_integer_value(json_object_get(p, "uoe_trainable")), total);
#undef S
#undef I
#undef B
}

int cmd_info(int argc, char **argv)
{
    static const struct option options[] = {
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool as_json = false;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'j': as_json = true; break;
        case 'h': fputs(info_usage, stdout); return 0;
        default: fputs(info_usage, stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fputs(info_usage, stderr);
        return EXIT_USAGE;
    }
    Model model;
    CheckpointInfo info;
    if (checkpoint_inspect(&model, argv[optind], &info) < 0)
        return cli_report_error();
    json_t *description = describe(&model, argv[optind], &info);
    if (as_json) {
        char *text = json_dumps(description, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(text);
        free(text);
    } else {
        print_text(description);
    }
    json_decref(description);
    model_free(&model);
    return 0;
}
