/* HF checkpoint directories: the fixtures written by transformers, save/load
 * round trips in every dtype and expert layout, damaged checkpoints that must
 * fail with a message naming the file and the tensor, sharded checkpoints,
 * and one file read into a model already created. */
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "dtype.h"
#include "error.h"
#include "model_config.h"
#include "safetensors.h"
#include "tap.h"
#include "test_util.h"

#define PATH_BYTES 4096
#define SHARD_1 "model-00001-of-00002.safetensors"
#define SHARD_2 "model-00002-of-00002.safetensors"

static void path_format(char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void path_format(char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int length = vsnprintf(path, PATH_BYTES, fmt, ap);
    va_end(ap);
    CHECK(length > 0 && length < PATH_BYTES);
}

static void fixture_path(char *path, const char *fixture, const char *file)
{
    path_format(path, "%s/fixtures/hf/%s/%s", test_data_dir(), fixture, file);
}

/* A fresh directory temp_dir/name. */
static void case_dir(char *dir, const char *name)
{
    temp_path(dir, PATH_BYTES, name);
    CHECK(mkdir(dir, 0777) == 0);
}

static void copy_file(const char *from, const char *to, long max_bytes)
{
    FILE *in = fopen(from, "rb");
    FILE *out = fopen(to, "wb");
    CHECK(in && out);
    char buffer[65536];
    size_t n;
    long copied = 0;
    while (copied < max_bytes && (n = fread(buffer, 1, sizeof buffer, in)) > 0) {
        if ((long)n > max_bytes - copied)
            n = (size_t)(max_bytes - copied);
        CHECK(fwrite(buffer, 1, n, out) == n);
        copied += (long)n;
    }
    fclose(in);
    CHECK(fclose(out) == 0);
}

static void copy_fixture_file(const char *fixture, const char *file, const char *dir)
{
    char from[PATH_BYTES], to[PATH_BYTES];
    fixture_path(from, fixture, file);
    path_format(to, "%s/%s", dir, file);
    copy_file(from, to, LONG_MAX);
}

static json_t *read_json(const char *path)
{
    json_t *root = json_load_file(path, 0, NULL);
    CHECK(root != NULL);
    return root;
}

static void write_json(const char *dir, const char *file, const json_t *root)
{
    char path[PATH_BYTES];
    path_format(path, "%s/%s", dir, file);
    CHECK(json_dump_file(root, path, JSON_INDENT(2)) == 0);
}

/* Whether the parameter arena equals values (n floats) bitwise. */
static bool params_equal(const Model *model, const float *values, size_t n)
{
    return model->num_param_floats == n
           && memcmp(model->param_arena, values, n * sizeof(float)) == 0;
}

/* A copy of the model's parameter arena as stored in dtype and read back. */
static float *rounded_params(const Model *model, DType dtype)
{
    size_t n = model->num_param_floats;
    float *rounded = xmalloc(n * sizeof(float));
    unsigned char *stored = xmalloc(n * dtype_size(dtype));
    dtype_from_f32(stored, model->param_arena, dtype, n);
    dtype_to_f32(rounded, stored, dtype, n);
    free(stored);
    return rounded;
}

/* ---- tensors of a safetensors file, editable before writing them back ---- */

typedef struct {
    SafetensorsWriteTensor *tensors; /* (count), data owned, float32 */
    char **names;                    /* (count) owned copies of the tensor names */
    int count;
} TensorList;

static void tensor_list_add(TensorList *list, const char *name, int ndim, const int64_t *shape)
{
    list->tensors = xrealloc(list->tensors, (size_t)(list->count + 1) * sizeof *list->tensors);
    list->names = xrealloc(list->names, (size_t)(list->count + 1) * sizeof *list->names);
    SafetensorsWriteTensor *tensor = &list->tensors[list->count];
    size_t numel = 1;
    for (int d = 0; d < ndim; d++)
        numel *= (size_t)shape[d];
    list->names[list->count] = xstrdup(name);
    tensor->name = list->names[list->count];
    tensor->dtype = DTYPE_F32;
    tensor->ndim = ndim;
    memcpy(tensor->shape, shape, (size_t)ndim * sizeof shape[0]);
    tensor->data = xcalloc(numel, sizeof(float));
    list->count++;
}

static void tensor_list_read(TensorList *list, const char *path)
{
    SafetensorsFile file;
    CHECK(safetensors_open(&file, path) == 0);
    memset(list, 0, sizeof *list);
    for (int i = 0; i < file.count; i++) {
        const SafetensorsTensor *t = &file.tensors[i];
        tensor_list_add(list, t->name, t->ndim, t->shape);
        dtype_to_f32((float *)list->tensors[i].data, t->data, t->dtype,
                     t->nbytes / dtype_size(t->dtype));
    }
    safetensors_close(&file);
}

static SafetensorsWriteTensor *tensor_list_find(TensorList *list, const char *name)
{
    for (int i = 0; i < list->count; i++)
        if (strcmp(list->names[i], name) == 0)
            return &list->tensors[i];
    FATAL("no tensor '%s' in the list", name);
}

static void tensor_list_remove(TensorList *list, const char *name)
{
    int i = (int)(tensor_list_find(list, name) - list->tensors);
    free((void *)list->tensors[i].data);
    free(list->names[i]);
    list->count--;
    memmove(&list->tensors[i], &list->tensors[i + 1],
            (size_t)(list->count - i) * sizeof *list->tensors);
    memmove(&list->names[i], &list->names[i + 1], (size_t)(list->count - i) * sizeof *list->names);
}

static void tensor_list_free(TensorList *list)
{
    for (int i = 0; i < list->count; i++) {
        free((void *)list->tensors[i].data);
        free(list->names[i]);
    }
    free(list->tensors);
    free(list->names);
    memset(list, 0, sizeof *list);
}

static void write_tensors(const char *dir, const char *file, const SafetensorsWriteTensor *tensors,
                          int count)
{
    char path[PATH_BYTES];
    path_format(path, "%s/%s", dir, file);
    if (safetensors_write(path, tensors, count, NULL) != 0)
        FATAL("%s", error_message());
}

/* SHARD_1 holds tensors [0, split), SHARD_2 the rest, and the index says so. */
static void write_sharded(const char *dir, const TensorList *list, int split)
{
    write_tensors(dir, SHARD_1, list->tensors, split);
    write_tensors(dir, SHARD_2, list->tensors + split, list->count - split);
    json_t *weight_map = json_object();
    for (int i = 0; i < list->count; i++)
        json_object_set_new(weight_map, list->names[i], json_string(i < split ? SHARD_1 : SHARD_2));
    json_t *index = json_pack("{s:{s:i}, s:o}", "metadata", "total_size", 0, "weight_map",
                              weight_map);
    write_json(dir, "model.safetensors.index.json", index);
    json_decref(index);
}

/* A case directory holding the fixture's config.json and its tensors, less
 * or plus what the caller changes in list before write_case_tensors. */
static void read_case(char *dir, const char *name, const char *fixture, TensorList *list)
{
    char path[PATH_BYTES];
    case_dir(dir, name);
    copy_fixture_file(fixture, "config.json", dir);
    fixture_path(path, fixture, "model.safetensors");
    tensor_list_read(list, path);
}

static void write_case_tensors(const char *dir, TensorList *list)
{
    write_tensors(dir, "model.safetensors", list->tensors, list->count);
    tensor_list_free(list);
}

/* ---- 1. the fixtures ---- */

/* Whether elements [first, first + n) of the named tensor equal values
 * bitwise once read as float32. */
static bool slice_equals(const SafetensorsFile *file, const char *name, size_t first,
                         const float *values, size_t n)
{
    const SafetensorsTensor *tensor = safetensors_find(file, name);
    if (!tensor)
        return false;
    size_t numel = tensor->nbytes / dtype_size(tensor->dtype);
    if (first + n > numel)
        return false;
    float *all = xmalloc(numel * sizeof(float));
    dtype_to_f32(all, tensor->data, tensor->dtype, numel);
    bool equal = memcmp(all + first, values, n * sizeof(float)) == 0;
    free(all);
    return equal;
}

static void check_slice(const char *fixture, const SafetensorsFile *file, const char *name,
                        size_t first, const float *values, size_t n)
{
    tap_ok(slice_equals(file, name, first, values, n), "%s: %s [%zu, %zu) is read into place",
           fixture, name, first, first + n);
}

static int first_moe_layer(const ModelConfig *config)
{
    for (int l = 0; l < config->num_layers; l++)
        if (config->layer_is_moe[l])
            return l;
    return -1;
}

/* Expert 1 of the first MoE layer: its gate rows, up rows and down matrix. */
static void check_expert(const char *fixture, const Model *model, const SafetensorsFile *file,
                         bool fused)
{
    const ModelConfig *c = &model->config;
    int l = first_moe_layer(c);
    size_t C = (size_t)c->hidden_size, I = (size_t)c->expert_intermediate;
    const LayerParams *w = &model->layer[l];
    const float *gate = w->expert_gate_up + 2 * I * C, *up = gate + I * C;
    const float *down = w->expert_down + C * I;
    char name[128];
    if (fused) {
        snprintf(name, sizeof name, "model.layers.%d.mlp.experts.gate_up_proj", l);
        check_slice(fixture, file, name, 2 * I * C, gate, I * C);
        check_slice(fixture, file, name, 3 * I * C, up, I * C);
        snprintf(name, sizeof name, "model.layers.%d.mlp.experts.down_proj", l);
        check_slice(fixture, file, name, C * I, down, C * I);
        snprintf(name, sizeof name, "model.layers.%d.mlp.gate.weight", l);
        check_slice(fixture, file, name, 0, w->router, (size_t)c->num_experts * C);
        return;
    }
    bool mixtral = c->family == FAMILY_MIXTRAL;
    const char *block = mixtral ? "block_sparse_moe" : "mlp";
    snprintf(name, sizeof name, "model.layers.%d.%s.experts.1.%s.weight", l, block,
             mixtral ? "w1" : "gate_proj");
    check_slice(fixture, file, name, 0, gate, I * C);
    snprintf(name, sizeof name, "model.layers.%d.%s.experts.1.%s.weight", l, block,
             mixtral ? "w3" : "up_proj");
    check_slice(fixture, file, name, 0, up, I * C);
    snprintf(name, sizeof name, "model.layers.%d.%s.experts.1.%s.weight", l, block,
             mixtral ? "w2" : "down_proj");
    check_slice(fixture, file, name, 0, down, C * I);
    snprintf(name, sizeof name, "model.layers.%d.%s.gate.weight", l, block);
    check_slice(fixture, file, name, 0, w->router, (size_t)c->num_experts * C);
}

/* The tensors only some families have. */
static void check_family_tensors(const char *fixture, const Model *model,
                                 const SafetensorsFile *file)
{
    const ModelConfig *c = &model->config;
    size_t C = (size_t)c->hidden_size, F = (size_t)c->dense_intermediate;
    size_t S = (size_t)c->shared_intermediate, D = (size_t)c->head_dim;
    size_t q_dim = (size_t)c->num_heads * D, kv_dim = (size_t)c->num_kv_heads * D;
    switch (c->family) {
    case FAMILY_MIXTRAL:
        check_slice(fixture, file, "lm_head.weight", 0, model->lm_head, (size_t)c->vocab_size * C);
        break;
    case FAMILY_QWEN2_MOE:
        tap_ok(model->lm_head == model->embed, "%s: tied lm_head is the embedding", fixture);
        check_slice(fixture, file, "model.layers.0.self_attn.q_proj.bias", 0, model->layer[0].bq,
                    q_dim);
        check_slice(fixture, file, "model.layers.0.mlp.shared_expert.up_proj.weight", 0,
                    model->layer[0].shared_gate_up + S * C, S * C);
        check_slice(fixture, file, "model.layers.0.mlp.shared_expert_gate.weight", 0,
                    model->layer[0].shared_expert_gate, C);
        check_slice(fixture, file, "model.layers.1.mlp.up_proj.weight", 0,
                    model->layer[1].dense_gate_up + F * C, F * C);
        check_slice(fixture, file, "model.layers.1.mlp.down_proj.weight", 0,
                    model->layer[1].dense_down, C * F);
        break;
    case FAMILY_OLMOE:
        check_slice(fixture, file, "model.layers.1.self_attn.q_norm.weight", 0,
                    model->layer[1].q_norm, q_dim);
        check_slice(fixture, file, "model.layers.1.self_attn.k_norm.weight", 0,
                    model->layer[1].k_norm, kv_dim);
        break;
    case FAMILY_QWEN3_MOE:
        check_slice(fixture, file, "model.layers.2.self_attn.k_norm.weight", 0,
                    model->layer[2].k_norm, D);
        check_slice(fixture, file, "model.layers.2.self_attn.o_proj.weight", 0,
                    model->layer[2].wo, C * q_dim);
        check_slice(fixture, file, "model.layers.2.mlp.gate_proj.weight", 0,
                    model->layer[2].dense_gate_up, F * C);
        break;
    }
}

static const struct {
    const char *name;
    DType dtype;
    ExpertLayout layout;
} fixtures[] = {
    {"mixtral", DTYPE_F32, EXPERT_LAYOUT_PER_EXPERT},
    {"mixtral_per_expert", DTYPE_BF16, EXPERT_LAYOUT_PER_EXPERT},
    {"mixtral_fused", DTYPE_F32, EXPERT_LAYOUT_FUSED},
    {"qwen2_moe", DTYPE_F32, EXPERT_LAYOUT_PER_EXPERT},
    {"olmoe", DTYPE_F32, EXPERT_LAYOUT_PER_EXPERT},
    {"qwen3_moe", DTYPE_F32, EXPERT_LAYOUT_PER_EXPERT},
};

static void check_fixtures(void)
{
    Model mixtral = {0};
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        const char *name = fixtures[i].name;
        char dir[PATH_BYTES], weights[PATH_BYTES];
        path_format(dir, "%s/fixtures/hf/%s", test_data_dir(), name);
        Model model;
        CheckpointInfo info;
        if (!tap_ok(checkpoint_load(&model, dir, &info) == 0, "%s: loads", name)) {
            tap_diag("%s", error_message());
            continue;
        }
        Model layout;
        CheckpointInfo inspected;
        tap_ok(checkpoint_inspect(&layout, dir, &inspected) == 0 && layout.param_arena == NULL
               && layout.num_params == model.num_params
               && model_param_count(&layout) == model_param_count(&model)
               && memcmp(&inspected, &info, sizeof info) == 0,
               "%s: inspect reports the same tensors and info without reading weights", name);
        model_free(&layout);
        tap_ok(info.dtype == fixtures[i].dtype && !info.mixed_dtypes
               && info.expert_layout == fixtures[i].layout && !info.mixed_layouts
               && info.num_shards == 1, "%s: info reports %s, %s experts, one file", name,
               dtype_name(fixtures[i].dtype),
               fixtures[i].layout == EXPERT_LAYOUT_FUSED ? "fused" : "per-expert");
        SafetensorsFile file;
        fixture_path(weights, name, "model.safetensors");
        CHECK(safetensors_open(&file, weights) == 0);
        check_slice(name, &file, "model.embed_tokens.weight", 0, model.embed,
                    (size_t)model.config.vocab_size * (size_t)model.config.hidden_size);
        check_slice(name, &file, "model.norm.weight", 0, model.final_norm,
                    (size_t)model.config.hidden_size);
        check_expert(name, &model, &file, fixtures[i].layout == EXPERT_LAYOUT_FUSED);
        check_family_tensors(name, &model, &file);
        safetensors_close(&file);

        if (strcmp(name, "mixtral") == 0) {
            mixtral = model;
            continue;
        }
        if (strcmp(name, "mixtral_fused") == 0)
            tap_ok(params_equal(&model, mixtral.param_arena, mixtral.num_param_floats),
                   "mixtral_fused loads to the same parameters as mixtral");
        if (strcmp(name, "mixtral_per_expert") == 0) {
            float *rounded = rounded_params(&mixtral, DTYPE_BF16);
            tap_ok(params_equal(&model, rounded, mixtral.num_param_floats),
                   "mixtral_per_expert (BF16) loads to mixtral's parameters rounded to BF16");
            free(rounded);
        }
        model_free(&model);
    }
    model_free(&mixtral);
}

/* ---- 2. round trips ---- */

static const struct {
    const char *fixture;
    const char *architecture;
    const char *experts_key;
} families[] = {
    {"mixtral", "MixtralForCausalLM", "num_local_experts"},
    {"qwen2_moe", "Qwen2MoeForCausalLM", "num_experts"},
    {"olmoe", "OlmoeForCausalLM", "num_experts"},
    {"qwen3_moe", "Qwen3MoeForCausalLM", "num_local_experts"},
};

/* The keys transformers reads, and a config that reads back identically. */
static void check_written_config(size_t f, const char *dir, const ModelConfig *config)
{
    char path[PATH_BYTES];
    path_format(path, "%s/config.json", dir);
    ModelConfig reread;
    tap_ok(model_config_load(&reread, path) == 0 && memcmp(&reread, config, sizeof reread) == 0,
           "%s: the written config.json reads back as the same config", families[f].fixture);
    json_t *root = read_json(path);
    json_t *rope = json_object_get(root, "rope_parameters");
    json_t *experts = json_object_get(root, families[f].experts_key);
    tap_ok(strcmp(json_string_value(json_object_get(root, "model_type")),
                  model_family_name(config->family)) == 0
           && strcmp(json_string_value(json_array_get(json_object_get(root, "architectures"), 0)),
                     families[f].architecture) == 0
           && json_integer_value(experts) == config->num_experts
           && json_real_value(json_object_get(rope, "rope_theta")) == config->rope_theta
           && strcmp(json_string_value(json_object_get(rope, "rope_type")), "default") == 0
           && json_real_value(json_object_get(root, "rms_norm_eps")) == 1e-6
           && strcmp(json_string_value(json_object_get(root, "dtype")), "bfloat16") == 0
           && strcmp(json_string_value(json_object_get(root, "torch_dtype")), "bfloat16") == 0,
           "%s: config.json has model_type, %s, %s, rope_parameters, rms_norm_eps 1e-6, dtype",
           families[f].fixture, families[f].architecture, families[f].experts_key);
    json_decref(root);
}

static void check_round_trips(size_t f)
{
    static const DType dtypes[] = {DTYPE_F32, DTYPE_BF16, DTYPE_F16};
    static const ExpertLayout layouts[] = {EXPERT_LAYOUT_PER_EXPERT, EXPERT_LAYOUT_FUSED};
    const char *fixture = families[f].fixture;
    char path[PATH_BYTES], dir[PATH_BYTES];
    ModelConfig config;
    fixture_path(path, fixture, "config.json");
    CHECK(model_config_load(&config, path) == 0);
    Model original;
    model_create(&original, &config);
    model_init_random(&original, 17 + f, 0.5f);
    for (size_t d = 0; d < sizeof dtypes / sizeof dtypes[0]; d++) {
        float *expected = rounded_params(&original, dtypes[d]);
        for (size_t k = 0; k < sizeof layouts / sizeof layouts[0]; k++) {
            const char *layout_name = layouts[k] == EXPERT_LAYOUT_FUSED ? "fused" : "per-expert";
            path_format(dir, "%s/%s-%s-%s", temp_dir, fixture, dtype_name(dtypes[d]), layout_name);
            Model loaded;
            CheckpointInfo info;
            bool ok = checkpoint_save(&original, dir, dtypes[d], layouts[k]) == 0
                      && checkpoint_load(&loaded, dir, &info) == 0;
            if (!tap_ok(ok, "%s: save %s %s, load", fixture, dtype_name(dtypes[d]), layout_name)) {
                tap_diag("%s", error_message());
                continue;
            }
            tap_ok(params_equal(&loaded, expected, original.num_param_floats)
                   && info.dtype == dtypes[d] && info.expert_layout == layouts[k],
                   "%s: %s %s reads back bitwise as stored", fixture, dtype_name(dtypes[d]),
                   layout_name);
            model_free(&loaded);
            if (dtypes[d] == DTYPE_BF16 && layouts[k] == EXPERT_LAYOUT_FUSED)
                check_written_config(f, dir, &config);
        }
        free(expected);
    }

    /* Saving over a checkpoint in the other layout replaces it. */
    path_format(dir, "%s/%s-F32-fused", temp_dir, fixture);
    Model loaded;
    CheckpointInfo info;
    bool ok = checkpoint_save(&original, dir, DTYPE_F32, EXPERT_LAYOUT_PER_EXPERT) == 0
              && checkpoint_load(&loaded, dir, &info) == 0;
    tap_ok(ok && info.expert_layout == EXPERT_LAYOUT_PER_EXPERT
           && params_equal(&loaded, original.param_arena, original.num_param_floats),
           "%s: saving per-expert over a fused checkpoint replaces it", fixture);
    if (ok)
        model_free(&loaded);
    model_free(&original);
}

/* Configs that a family's config.json cannot hold are refused, not altered. */
static void check_inexpressible_configs(void)
{
    char path[PATH_BYTES], dir[PATH_BYTES];
    ModelConfig config;
    case_dir(dir, "inexpressible");

    fixture_path(path, "mixtral", "config.json");
    CHECK(model_config_load(&config, path) == 0);
    config.layer_is_moe[1] = false;
    Model model;
    model_create(&model, &config);
    path_format(path, "%s/config.json", dir);
    tap_ok(checkpoint_save(&model, dir, DTYPE_F32, EXPERT_LAYOUT_PER_EXPERT) == -1
           && strstr(error_message(), "config.json: a mixtral config.json cannot express")
           && strstr(error_message(), "layer_is_moe") && access(path, F_OK) != 0,
           "a dense layer in Mixtral is refused, and nothing is written");
    model_free(&model);

    fixture_path(path, "qwen3_moe", "config.json");
    CHECK(model_config_load(&config, path) == 0);
    config.shared_intermediate = 20;
    path_format(path, "%s/config.json", dir);
    tap_ok(model_config_write(&config, DTYPE_F32, path) == -1
           && strstr(error_message(), "shared_intermediate"),
           "a shared expert in Qwen3-MoE is refused");
}

/* ---- 3. damaged checkpoints ---- */

/* Loading dir fails, leaves the model freed, and the message holds every
 * one of the NULL-terminated needles. */
static void expect_load_error(const char *dir, const char *what, ...)
    __attribute__((sentinel));
static void expect_load_error(const char *dir, const char *what, ...)
{
    Model model;
    memset(&model, 0xff, sizeof model);
    error_clear();
    int result = checkpoint_load(&model, dir, NULL);
    bool found = true;
    va_list ap;
    va_start(ap, what);
    for (const char *needle; (needle = va_arg(ap, const char *));)
        found = found && strstr(error_message(), needle);
    va_end(ap);
    bool freed = model.params == NULL && model.param_arena == NULL && model.num_params == 0;
    if (!tap_ok(result == -1 && found && freed, "%s: load fails with a message naming it", what))
        tap_diag("result %d, model %s, message: %s", result, freed ? "freed" : "not freed",
                 error_message());
    if (result == 0)
        model_free(&model);

    /* the header-only path must refuse the same input with the same words */
    char load_message[2048];
    snprintf(load_message, sizeof load_message, "%s", error_message());
    int inspected = checkpoint_inspect(&model, dir, NULL);
    tap_ok(inspected == -1 && strcmp(load_message, error_message()) == 0,
           "%s: inspect fails with the same message", what);
    if (inspected == 0)
        model_free(&model);
}

static void check_damaged_tensors(void)
{
    char dir[PATH_BYTES], needle[PATH_BYTES];
    TensorList list;

    read_case(dir, "missing", "mixtral", &list);
    tensor_list_remove(&list, "lm_head.weight");
    write_case_tensors(dir, &list);
    path_format(needle, "%s: tensor 'lm_head.weight' is missing", dir);
    expect_load_error(dir, "a missing tensor", needle, NULL);

    read_case(dir, "unexpected", "mixtral", &list);
    tensor_list_add(&list, "foo", 1, (int64_t[]){2});
    write_case_tensors(dir, &list);
    path_format(needle, "%s/model.safetensors: unexpected tensor 'foo'", dir);
    expect_load_error(dir, "an unknown extra tensor", needle, NULL);

    read_case(dir, "shape", "mixtral", &list);
    tensor_list_find(&list, "model.layers.0.block_sparse_moe.gate.weight")->shape[1] = 31;
    write_case_tensors(dir, &list);
    path_format(needle, "%s/model.safetensors: tensor "
                "'model.layers.0.block_sparse_moe.gate.weight': "
                "shape [4, 31] does not match the config's [4, 32]", dir);
    expect_load_error(dir, "a shape that disagrees with the config", needle, NULL);

    read_case(dir, "fused_shape", "mixtral_fused", &list);
    tensor_list_find(&list, "model.layers.1.mlp.experts.gate_up_proj")->shape[1] = 30;
    write_case_tensors(dir, &list);
    path_format(needle, "%s/model.safetensors: tensor 'model.layers.1.mlp.experts.gate_up_proj': "
                "shape [4, 30, 32] does not match the config's [4, 32, 32]", dir);
    expect_load_error(dir, "a fused expert stack of the wrong shape", needle, NULL);

    read_case(dir, "mixed", "mixtral", &list);
    tensor_list_add(&list, "model.layers.1.mlp.experts.down_proj", 3, (int64_t[]){4, 32, 16});
    write_case_tensors(dir, &list);
    path_format(needle, "%s: layer 1 mixes the per-expert and fused expert layouts", dir);
    expect_load_error(dir, "fused and per-expert experts in one layer", needle,
                      "'model.layers.1.mlp.experts.down_proj'", NULL);

    read_case(dir, "tied", "qwen2_moe", &list);
    tensor_list_add(&list, "lm_head.weight", 2, (int64_t[]){97, 32});
    write_case_tensors(dir, &list);
    path_format(needle, "%s/model.safetensors: unexpected tensor 'lm_head.weight'", dir);
    expect_load_error(dir, "lm_head.weight in a tied model", needle, NULL);
}

static void check_damaged_config(void)
{
    char dir[PATH_BYTES], needle[PATH_BYTES], path[PATH_BYTES];

    case_dir(dir, "bad_json");
    copy_fixture_file("mixtral", "model.safetensors", dir);
    static const char bad_json[] =
        "{\n  \"model_type\": \"mixtral\",\n  \"hidden_size\": 32,,\n}\n";
    path_format(path, "%s/config.json", dir);
    write_bytes(path, bad_json, sizeof bad_json - 1);
    path_format(needle, "%s/config.json: line 3", dir);
    expect_load_error(dir, "config.json with invalid JSON", needle, "invalid JSON", NULL);

    fixture_path(path, "mixtral", "config.json");
    json_t *config = read_json(path);
    json_object_del(config, "hidden_size");
    case_dir(dir, "missing_key");
    copy_fixture_file("mixtral", "model.safetensors", dir);
    write_json(dir, "config.json", config);
    path_format(needle, "%s/config.json: missing required key \"hidden_size\"", dir);
    expect_load_error(dir, "config.json without hidden_size", needle, NULL);

    json_object_set_new(config, "hidden_size", json_integer(32));
    json_object_set_new(config, "model_type", json_string("llama"));
    case_dir(dir, "model_type");
    copy_fixture_file("mixtral", "model.safetensors", dir);
    write_json(dir, "config.json", config);
    path_format(needle, "%s/config.json: model_type \"llama\" is not supported", dir);
    expect_load_error(dir, "an unsupported model_type", needle, NULL);
    json_decref(config);
}

static void check_damaged_files(void)
{
    char dir[PATH_BYTES], needle[PATH_BYTES], path[PATH_BYTES];

    /* One I64 tensor of 2 elements: header, padded to 8 bytes, then 16 bytes. */
    static const char header[] =
        "{\"model.embed_tokens.weight\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}";
    unsigned char length[8] = {0};
    size_t padded = (sizeof header - 1 + 7) / 8 * 8;
    for (int i = 0; i < 8; i++)
        length[i] = (unsigned char)(padded >> (8 * i));
    case_dir(dir, "int64");
    copy_fixture_file("mixtral", "config.json", dir);
    path_format(path, "%s/model.safetensors", dir);
    FILE *out = fopen(path, "wb");
    CHECK(out);
    fwrite(length, 1, sizeof length, out);
    fprintf(out, "%-*s", (int)padded, header);
    fwrite((unsigned char[16]){0}, 1, 16, out);
    CHECK(fclose(out) == 0);
    path_format(needle, "%s/model.safetensors: tensor 'model.embed_tokens.weight': unsupported "
                "dtype 'I64'", dir);
    expect_load_error(dir, "a tensor of dtype I64", needle, NULL);

    case_dir(dir, "truncated");
    copy_fixture_file("mixtral", "config.json", dir);
    fixture_path(path, "mixtral", "model.safetensors");
    char truncated[PATH_BYTES];
    path_format(truncated, "%s/model.safetensors", dir);
    copy_file(path, truncated, 40000);
    path_format(needle, "%s/model.safetensors: tensor '", dir);
    expect_load_error(dir, "a truncated model.safetensors", needle, "past the data region", NULL);

    case_dir(dir, "no_weights");
    copy_fixture_file("mixtral", "config.json", dir);
    path_format(needle, "%s: has neither model.safetensors nor model.safetensors.index.json", dir);
    expect_load_error(dir, "a directory without weights", needle, NULL);
}

/* A case directory with mixtral split into two shards and an index. */
static void sharded_case(char *dir, const char *name)
{
    TensorList list;
    read_case(dir, name, "mixtral", &list);
    write_sharded(dir, &list, list.count / 2);
    tensor_list_free(&list);
}

/* Sets weight_map[name] = file in dir's index. */
static void set_index_entry(const char *dir, const char *name, const char *file)
{
    char path[PATH_BYTES];
    path_format(path, "%s/model.safetensors.index.json", dir);
    json_t *index = read_json(path);
    json_object_set_new(json_object_get(index, "weight_map"), name, json_string(file));
    write_json(dir, "model.safetensors.index.json", index);
    json_decref(index);
}

static void check_damaged_shards(void)
{
    char dir[PATH_BYTES], needle[PATH_BYTES], path[PATH_BYTES];

    sharded_case(dir, "missing_shard");
    path_format(path, "%s/" SHARD_2, dir);
    CHECK(unlink(path) == 0);
    path_format(needle, "%s/" SHARD_2 ": cannot open", dir);
    expect_load_error(dir, "an index naming a missing shard", needle, NULL);

    /* lm_head.weight sorts first, so it is in shard 1; the index says 2. */
    sharded_case(dir, "wrong_shard");
    set_index_entry(dir, "lm_head.weight", SHARD_2);
    path_format(needle, "%s/" SHARD_2 ": tensor 'lm_head.weight' is missing, though "
                "model.safetensors.index.json places it in this file", dir);
    expect_load_error(dir, "an index naming the wrong shard", needle, NULL);

    sharded_case(dir, "index_extra");
    set_index_entry(dir, "foo", SHARD_1);
    path_format(needle, "%s/model.safetensors.index.json: unexpected tensor 'foo'", dir);
    expect_load_error(dir, "an index listing an unknown tensor", needle, NULL);

    sharded_case(dir, "index_path");
    set_index_entry(dir, "lm_head.weight", "../" SHARD_1);
    path_format(needle, "%s/model.safetensors.index.json: tensor 'lm_head.weight': expected the "
                "name of a file in the same directory", dir);
    expect_load_error(dir, "an index naming a file elsewhere", needle, NULL);

    TensorList list;
    read_case(dir, "duplicate", "mixtral", &list);
    write_sharded(dir, &list, list.count / 2);
    write_tensors(dir, SHARD_1, list.tensors, list.count);
    tensor_list_free(&list);
    path_format(needle, "%s/" SHARD_1 ": tensor '", dir);
    expect_load_error(dir, "a tensor stored in two shards", needle,
                      "is also stored here, but model.safetensors.index.json places it in "
                      SHARD_2, NULL);
}

/* ---- 4. sharded checkpoints ---- */

static void check_sharded(void)
{
    char dir[PATH_BYTES], single[PATH_BYTES];
    Model expected, sharded, resaved;
    CheckpointInfo info;
    path_format(single, "%s/fixtures/hf/mixtral", test_data_dir());
    CHECK(checkpoint_load(&expected, single, NULL) == 0);

    sharded_case(dir, "sharded");
    bool ok = checkpoint_load(&sharded, dir, &info) == 0;
    if (!ok)
        tap_diag("%s", error_message());
    tap_ok(ok && info.num_shards == 2
           && params_equal(&sharded, expected.param_arena, expected.num_param_floats),
           "two shards and an index load to the same parameters as one file");

    /* The new single file takes precedence over the old index and shards. */
    ok = ok && checkpoint_save(&sharded, dir, DTYPE_BF16, EXPERT_LAYOUT_PER_EXPERT) == 0
         && checkpoint_load(&resaved, dir, &info) == 0;
    tap_ok(ok && info.num_shards == 1 && info.dtype == DTYPE_BF16,
           "saving over a sharded checkpoint leaves one file that loads");
    if (ok)
        model_free(&resaved);
    model_free(&sharded);
    model_free(&expected);
}

/* ---- 5. one file into a model already created ---- */

static void check_load_weights(void)
{
    char dir[PATH_BYTES], path[PATH_BYTES], needle[PATH_BYTES];
    Model expected, model;
    path_format(dir, "%s/fixtures/hf/mixtral", test_data_dir());
    CHECK(checkpoint_load(&expected, dir, NULL) == 0);
    model_create(&model, &expected.config);
    fixture_path(path, "mixtral", "model.safetensors");
    tap_ok(checkpoint_load_weights(&model, path, NULL) == 0
           && params_equal(&model, expected.param_arena, expected.num_param_floats),
           "checkpoint_load_weights fills a created model as checkpoint_load does");

    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        Model grads;
        path_format(dir, "%s/fixtures/hf/%s", test_data_dir(), families[f].fixture);
        CHECK(checkpoint_load(&grads, dir, NULL) == 0);
        fixture_path(path, families[f].fixture, "goldens/grads.safetensors");
        if (!tap_ok(checkpoint_load_weights(&grads, path, NULL) == 0,
                    "%s: the golden gradients load under the parameters' names",
                    families[f].fixture))
            tap_diag("%s", error_message());
        model_free(&grads);
    }

    fixture_path(path, "olmoe", "model.safetensors");
    path_format(needle, "%s: tensor 'model.layers.0.block_sparse_moe.gate.weight' is missing",
                path);
    tap_ok(checkpoint_load_weights(&model, path, NULL) == -1 && strstr(error_message(), needle)
           && model.param_arena != NULL,
           "checkpoint_load_weights of another family's file fails naming the file and tensor");
    model_free(&model);
    model_free(&expected);
}

int main(void)
{
    make_temp_dir();

    check_fixtures();
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
        check_round_trips(f);
    check_inexpressible_configs();
    check_damaged_tensors();
    check_damaged_config();
    check_damaged_files();
    check_damaged_shards();
    check_sharded();
    check_load_weights();

    remove_temp_dir();
    return tap_done();
}
