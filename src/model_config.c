/* config.json of the supported families, with their key aliases:
 * transformers v5 writes rope_parameters.rope_theta where v4 wrote rope_theta,
 * and the routed expert count appears as num_local_experts or num_experts. */
#include "model_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "error.h"
#include "json_util.h"

#define KEYS(...) ((const char *const[]){__VA_ARGS__, NULL})

static const struct {
    const char *model_type;
    ModelFamily family;
    float default_rope_theta;
    float default_rms_norm_eps;
} families[] = {
    {"mixtral", FAMILY_MIXTRAL, 1e6f, 1e-5f},
    {"qwen2_moe", FAMILY_QWEN2_MOE, 1e4f, 1e-6f},
    {"olmoe", FAMILY_OLMOE, 1e4f, 1e-5f},
    {"qwen3_moe", FAMILY_QWEN3_MOE, 1e4f, 1e-6f},
};

const char *model_family_name(ModelFamily family)
{
    for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
        if (families[i].family == family)
            return families[i].model_type;
    return "unknown";
}

int model_config_num_moe_layers(const ModelConfig *c)
{
    int count = 0;
    for (int l = 0; l < c->num_layers; l++)
        count += c->layer_is_moe[l];
    return count;
}

static int read_rope_theta(const json_t *root, const char *path, float *theta)
{
    json_t *params = json_object_get(root, "rope_parameters");
    if (!params || json_is_null(params))
        params = json_object_get(root, "rope_scaling"); /* v4 name of the same block */
    if (params && json_is_object(params)) {
        json_t *type = json_member_any(params, KEYS("rope_type", "type"));
        if (type && (!json_is_string(type) || strcmp(json_string_value(type), "default") != 0))
            return error_set("%s: rope type %s is not supported (only \"default\")", path,
                             json_is_string(type) ? json_string_value(type) : "(not a string)");
        if (json_read_float(params, path, KEYS("rope_theta"), false, theta) < 0)
            return -1;
    }
    return json_read_float(root, path, KEYS("rope_theta"), false, theta);
}

/* A layer is MoE unless listed in mlp_only_layers, below first_k_dense_replace,
 * or off the decoder_sparse_step grid. */
static int read_layer_kinds(ModelConfig *c, const json_t *root, const char *path)
{
    int sparse_step = 1, first_dense = 0;
    if (json_read_int(root, path, KEYS("decoder_sparse_step"), false, &sparse_step) < 0 ||
        json_read_int(root, path, KEYS("first_k_dense_replace"), false, &first_dense) < 0)
        return -1;
    if (sparse_step < 1)
        return error_set("%s: key \"decoder_sparse_step\": must be at least 1", path);
    for (int l = 0; l < c->num_layers; l++)
        c->layer_is_moe[l] = c->num_experts > 0 && l >= first_dense && (l + 1) % sparse_step == 0;
    json_t *dense = json_object_get(root, "mlp_only_layers");
    if (!dense || json_is_null(dense))
        return 0;
    if (!json_is_array(dense))
        return error_set("%s: key \"mlp_only_layers\": expected an array of layer indices", path);
    size_t i;
    json_t *item;
    json_array_foreach(dense, i, item) {
        json_int_t l = json_is_integer(item) ? json_integer_value(item) : -1;
        if (l < 0 || l >= c->num_layers)
            return error_set("%s: key \"mlp_only_layers\": entry %zu is not a layer index below %d",
                             path, i, c->num_layers);
        c->layer_is_moe[l] = false;
    }
    return 0;
}

/* Options these families can set that the engine does not compute: refuse
 * them rather than compute something else. */
static int reject_unsupported(const json_t *root, const char *path)
{
    json_t *act = json_object_get(root, "hidden_act");
    if (act && (!json_is_string(act) || strcmp(json_string_value(act), "silu") != 0))
        return error_set("%s: key \"hidden_act\": only \"silu\" is supported", path);
    json_t *clip = json_object_get(root, "clip_qkv");
    if (clip && !json_is_null(clip))
        return error_set("%s: key \"clip_qkv\": clipping q/k/v is not supported", path);
    json_t *sliding = json_object_get(root, "use_sliding_window");
    if (sliding && json_is_true(sliding))
        return error_set("%s: key \"use_sliding_window\": sliding-window attention is not supported", path);
    json_t *window = json_object_get(root, "sliding_window");
    json_t *model_type = json_object_get(root, "model_type");
    if (window && json_is_integer(window) && json_integer_value(window) > 0 && !sliding &&
        strcmp(json_string_value(model_type), "mixtral") == 0)
        return error_set("%s: key \"sliding_window\": sliding-window attention is not supported", path);
    return 0;
}

static int read_family_options(ModelConfig *c, const json_t *root, const char *path)
{
    switch (c->family) {
    case FAMILY_MIXTRAL:
        c->expert_intermediate = c->dense_intermediate;
        c->norm_topk_prob = true;
        return 0;
    case FAMILY_OLMOE:
        c->expert_intermediate = c->dense_intermediate;
        c->qk_norm = QK_NORM_FULL_WIDTH;
        return json_read_bool(root, path, KEYS("attention_bias"), false, &c->attention_bias) < 0 ||
                       json_read_bool(root, path, KEYS("norm_topk_prob"), false, &c->norm_topk_prob) < 0
                   ? -1 : 0;
    case FAMILY_QWEN2_MOE:
        c->attention_bias = true; /* v4 configs leave it implicit */
        if (json_read_bool(root, path, KEYS("qkv_bias", "attention_bias"), false, &c->attention_bias) < 0 ||
            json_read_int(root, path, KEYS("shared_expert_intermediate_size"), false, &c->shared_intermediate) < 0)
            return -1;
        c->shared_expert_gate = c->shared_intermediate > 0;
        break;
    case FAMILY_QWEN3_MOE:
        c->qk_norm = QK_NORM_PER_HEAD;
        if (json_read_bool(root, path, KEYS("attention_bias"), false, &c->attention_bias) < 0)
            return -1;
        break;
    }
    return json_read_int(root, path, KEYS("moe_intermediate_size"), true, &c->expert_intermediate) < 0 ||
                   json_read_bool(root, path, KEYS("norm_topk_prob"), false, &c->norm_topk_prob) < 0
               ? -1 : 0;
}

static int parse_config(ModelConfig *c, const json_t *root, const char *path)
{
    json_t *type = json_object_get(root, "model_type");
    if (!type || !json_is_string(type))
        return error_set("%s: missing required key \"model_type\"", path);
    size_t f = 0;
    while (f < sizeof families / sizeof families[0] &&
           strcmp(families[f].model_type, json_string_value(type)) != 0)
        f++;
    if (f == sizeof families / sizeof families[0])
        return error_set("%s: model_type \"%s\" is not supported (mixtral, qwen2_moe, olmoe, qwen3_moe)",
                         path, json_string_value(type));
    memset(c, 0, sizeof *c);
    c->family = families[f].family;
    c->rope_theta = families[f].default_rope_theta;
    c->rms_norm_eps = families[f].default_rms_norm_eps;
    c->max_position_embeddings = 4096;
    if (reject_unsupported(root, path) < 0 ||
        json_read_int(root, path, KEYS("vocab_size"), true, &c->vocab_size) < 0 ||
        json_read_int(root, path, KEYS("hidden_size"), true, &c->hidden_size) < 0 ||
        json_read_int(root, path, KEYS("num_hidden_layers"), true, &c->num_layers) < 0 ||
        json_read_int(root, path, KEYS("num_attention_heads"), true, &c->num_heads) < 0 ||
        json_read_int(root, path, KEYS("intermediate_size"), true, &c->dense_intermediate) < 0 ||
        json_read_int(root, path, KEYS("num_local_experts", "num_experts"), true, &c->num_experts) < 0 ||
        json_read_int(root, path, KEYS("num_experts_per_tok"), true, &c->experts_per_token) < 0 ||
        json_read_int(root, path, KEYS("max_position_embeddings"), false, &c->max_position_embeddings) < 0 ||
        json_read_float(root, path, KEYS("rms_norm_eps"), false, &c->rms_norm_eps) < 0 ||
        json_read_bool(root, path, KEYS("tie_word_embeddings"), false, &c->tie_word_embeddings) < 0 ||
        read_rope_theta(root, path, &c->rope_theta) < 0)
        return -1;
    c->num_kv_heads = c->num_heads;
    if (json_read_int(root, path, KEYS("num_key_value_heads"), false, &c->num_kv_heads) < 0)
        return -1;
    c->head_dim = c->num_heads > 0 ? c->hidden_size / c->num_heads : 0;
    if (json_read_int(root, path, KEYS("head_dim"), false, &c->head_dim) < 0)
        return -1;
    if (c->num_layers < 1 || c->num_layers > MODEL_MAX_LAYERS)
        return error_set("%s: key \"num_hidden_layers\": %d is outside 1..%d", path, c->num_layers,
                         MODEL_MAX_LAYERS);
    if (read_family_options(c, root, path) < 0 || read_layer_kinds(c, root, path) < 0)
        return -1;
    if (model_config_validate(c) < 0)
        return error_prefix("%s", path);
    return 0;
}

int model_config_validate(const ModelConfig *c)
{
    struct { const char *key; int value; } positive[] = {
        {"vocab_size", c->vocab_size}, {"hidden_size", c->hidden_size},
        {"num_attention_heads", c->num_heads}, {"num_key_value_heads", c->num_kv_heads},
        {"head_dim", c->head_dim}, {"num_experts", c->num_experts},
        {"num_experts_per_tok", c->experts_per_token},
        {"moe_intermediate_size", c->expert_intermediate},
    };
    for (size_t i = 0; i < sizeof positive / sizeof positive[0]; i++)
        if (positive[i].value < 1)
            return error_set("key \"%s\": must be positive, not %d", positive[i].key, positive[i].value);
    if (c->num_heads % c->num_kv_heads != 0)
        return error_set("num_attention_heads (%d) is not a multiple of num_key_value_heads (%d)",
                         c->num_heads, c->num_kv_heads);
    if (c->head_dim % 2 != 0)
        return error_set("head_dim (%d) must be even for rotary embeddings", c->head_dim);
    if (c->experts_per_token > c->num_experts)
        return error_set("num_experts_per_tok (%d) exceeds the number of experts (%d)",
                         c->experts_per_token, c->num_experts);
    /* in 64 bits: both factors can be up to INT_MAX */
    long long qk_width = (long long)c->num_heads * c->head_dim;
    if (c->qk_norm == QK_NORM_FULL_WIDTH && qk_width != c->hidden_size)
        return error_set("full-width q/k norm needs heads x head_dim (%lld) == hidden_size (%d)",
                         qk_width, c->hidden_size);
    for (int l = 0; l < c->num_layers; l++)
        if (!c->layer_is_moe[l] && c->dense_intermediate < 1)
            return error_set("layer %d is dense but intermediate_size is %d", l, c->dense_intermediate);
    if (c->rope_theta <= 0.0f || c->rms_norm_eps <= 0.0f)
        return error_set("rope_theta and rms_norm_eps must be positive");
    return 0;
}

int model_config_load(ModelConfig *c, const char *path)
{
    json_t *root = json_load_object(path);
    if (!root)
        return -1;
    int rc = parse_config(c, root, path);
    json_decref(root);
    return rc;
}

/* ---- writing ---- */

static const char *const architectures[] = {
    [FAMILY_MIXTRAL] = "MixtralForCausalLM",
    [FAMILY_QWEN2_MOE] = "Qwen2MoeForCausalLM",
    [FAMILY_OLMOE] = "OlmoeForCausalLM",
    [FAMILY_QWEN3_MOE] = "Qwen3MoeForCausalLM",
};

/* torch's names of the dtypes, as transformers writes them. */
static const char *const torch_dtype_names[] = {
    [DTYPE_F32] = "float32", [DTYPE_BF16] = "bfloat16", [DTYPE_F16] = "float16",
};

/* The shortest decimal that reads back as value (1e-06, not
 * 9.9999999747524271e-07). Dumped with JSON_REAL_PRECISION(9), such a
 * double prints as that decimal again. */
static json_t *json_shortest_real(float value)
{
    char text[32];
    for (int digits = 1; digits < 9; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, (double)value);
        if ((float)strtod(text, NULL) == value)
            return json_real(strtod(text, NULL));
    }
    return json_real(value); /* 9 significant digits always read back */
}

static void set_int(json_t *root, const char *key, int value)
{
    json_object_set_new(root, key, json_integer(value));
}

static void set_bool(json_t *root, const char *key, bool value)
{
    json_object_set_new(root, key, json_boolean(value));
}

static json_t *config_to_json(const ModelConfig *c, DType dtype)
{
    json_t *root = json_object();
    json_object_set_new(root, "model_type", json_string(model_family_name(c->family)));
    json_object_set_new(root, "architectures", json_pack("[s]", architectures[c->family]));
    json_object_set_new(root, "dtype", json_string(torch_dtype_names[dtype]));
    json_object_set_new(root, "torch_dtype", json_string(torch_dtype_names[dtype])); /* v4 name */
    json_object_set_new(root, "hidden_act", json_string("silu"));
    set_int(root, "vocab_size", c->vocab_size);
    set_int(root, "hidden_size", c->hidden_size);
    set_int(root, "num_hidden_layers", c->num_layers);
    set_int(root, "num_attention_heads", c->num_heads);
    set_int(root, "num_key_value_heads", c->num_kv_heads);
    set_int(root, "head_dim", c->head_dim);
    set_int(root, "num_experts_per_tok", c->experts_per_token);
    set_int(root, "max_position_embeddings", c->max_position_embeddings);
    set_bool(root, "tie_word_embeddings", c->tie_word_embeddings);
    json_object_set_new(root, "rms_norm_eps", json_shortest_real(c->rms_norm_eps));
    /* v4 reads the top-level key, v5 the block. */
    json_object_set_new(root, "rope_theta", json_shortest_real(c->rope_theta));
    json_object_set_new(root, "rope_parameters",
                        json_pack("{s:o, s:s}", "rope_theta", json_shortest_real(c->rope_theta),
                                  "rope_type", "default"));
    switch (c->family) {
    case FAMILY_MIXTRAL:
        set_int(root, "num_local_experts", c->num_experts);
        set_int(root, "intermediate_size", c->expert_intermediate);
        return root;
    case FAMILY_OLMOE:
        set_int(root, "num_experts", c->num_experts);
        set_int(root, "intermediate_size", c->expert_intermediate);
        set_bool(root, "attention_bias", c->attention_bias);
        set_bool(root, "norm_topk_prob", c->norm_topk_prob);
        return root;
    case FAMILY_QWEN2_MOE:
        set_int(root, "num_experts", c->num_experts);
        set_int(root, "shared_expert_intermediate_size", c->shared_intermediate);
        set_bool(root, "qkv_bias", c->attention_bias);
        break;
    case FAMILY_QWEN3_MOE:
        /* transformers 5 writes num_local_experts, 4 reads num_experts. */
        set_int(root, "num_local_experts", c->num_experts);
        set_int(root, "num_experts", c->num_experts);
        set_bool(root, "attention_bias", c->attention_bias);
        break;
    }
    set_int(root, "intermediate_size", c->dense_intermediate);
    set_int(root, "moe_intermediate_size", c->expert_intermediate);
    set_bool(root, "norm_topk_prob", c->norm_topk_prob);
    set_int(root, "decoder_sparse_step", 1);
    json_t *dense_layers = json_array();
    for (int l = 0; l < c->num_layers; l++)
        if (!c->layer_is_moe[l])
            json_array_append_new(dense_layers, json_integer(l));
    json_object_set_new(root, "mlp_only_layers", dense_layers);
    return root;
}

/* The first field in which a and b differ, or NULL. */
static const char *config_difference(const ModelConfig *a, const ModelConfig *b)
{
#define DIFFERENT(field) if (a->field != b->field) return #field
    DIFFERENT(family);
    DIFFERENT(vocab_size);
    DIFFERENT(hidden_size);
    DIFFERENT(num_layers);
    DIFFERENT(num_heads);
    DIFFERENT(num_kv_heads);
    DIFFERENT(head_dim);
    DIFFERENT(num_experts);
    DIFFERENT(experts_per_token);
    DIFFERENT(expert_intermediate);
    DIFFERENT(dense_intermediate);
    DIFFERENT(shared_intermediate);
    DIFFERENT(shared_expert_gate);
    DIFFERENT(norm_topk_prob);
    DIFFERENT(attention_bias);
    DIFFERENT(qk_norm);
    DIFFERENT(tie_word_embeddings);
    DIFFERENT(rms_norm_eps);
    DIFFERENT(rope_theta);
    DIFFERENT(max_position_embeddings);
#undef DIFFERENT
    for (int l = 0; l < a->num_layers; l++)
        if (a->layer_is_moe[l] != b->layer_is_moe[l])
            return "layer_is_moe";
    return NULL;
}

int model_config_write(const ModelConfig *config, DType dtype, const char *path)
{
    json_t *root = config_to_json(config, dtype);
    ModelConfig reread;
    int result = parse_config(&reread, root, path);
    const char *difference = result == 0 ? config_difference(config, &reread) : NULL;
    if (difference)
        result = error_set("%s: a %s config.json cannot express this model's %s", path,
                           model_family_name(config->family), difference);
    AtomicFile file;
    if (result == 0 && (result = atomic_file_open(&file, path)) == 0) {
        /* A failed write leaves the stream's error flag set, which commit reports. */
        json_dumpf(root, file.stream, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(9));
        fputc('\n', file.stream);
        result = atomic_file_commit(&file);
    }
    json_decref(root);
    return result;
}
