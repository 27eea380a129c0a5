/* HF checkpoint directories. The table hf_names is the one place that maps
 * engine tensors to HF tensor names; loading and saving both go through
 * hf_tensors_of() so that they cannot disagree. */
#include "checkpoint.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "json_util.h"
#include "memory_budget.h"
#include "safetensors.h"

#define CONFIG_FILE "config.json"
#define SINGLE_FILE "model.safetensors"
#define INDEX_FILE "model.safetensors.index.json"

/* Naming schemes, as bits so that one table row can serve several. */
enum {
    NAMES_FUSED = 1 << 0,      /* transformers 5 fused experts, every family */
    NAMES_MIXTRAL = 1 << 1,    /* Mixtral per-expert: block_sparse_moe, w1 w3 w2 */
    NAMES_PER_EXPERT = 1 << 2, /* other families per-expert: mlp.experts.{e}.*_proj */
    NAMES_ANY = NAMES_FUSED | NAMES_MIXTRAL | NAMES_PER_EXPERT,
};

/* HF names of the engine's tensors. Layer tensors' names follow
 * "model.layers.{l}."; %d is the expert. Two names split the engine tensor's
 * rows into halves, gate [0, rows/2) and up [rows/2, rows); a per-expert row
 * gives each expert of a stack its own HF tensor(s). */
static const struct {
    ParamKind kind;
    unsigned schemes;
    bool per_expert;
    const char *names[2];
} hf_names[] = {
    {PARAM_EMBED, NAMES_ANY, false, {"model.embed_tokens.weight"}},
    {PARAM_FINAL_NORM, NAMES_ANY, false, {"model.norm.weight"}},
    {PARAM_LM_HEAD, NAMES_ANY, false, {"lm_head.weight"}},
    {PARAM_ATTN_NORM, NAMES_ANY, false, {"input_layernorm.weight"}},
    {PARAM_WQ, NAMES_ANY, false, {"self_attn.q_proj.weight"}},
    {PARAM_BQ, NAMES_ANY, false, {"self_attn.q_proj.bias"}},
    {PARAM_WK, NAMES_ANY, false, {"self_attn.k_proj.weight"}},
    {PARAM_BK, NAMES_ANY, false, {"self_attn.k_proj.bias"}},
    {PARAM_WV, NAMES_ANY, false, {"self_attn.v_proj.weight"}},
    {PARAM_BV, NAMES_ANY, false, {"self_attn.v_proj.bias"}},
    {PARAM_Q_NORM, NAMES_ANY, false, {"self_attn.q_norm.weight"}},
    {PARAM_K_NORM, NAMES_ANY, false, {"self_attn.k_norm.weight"}},
    {PARAM_WO, NAMES_ANY, false, {"self_attn.o_proj.weight"}},
    {PARAM_MLP_NORM, NAMES_ANY, false, {"post_attention_layernorm.weight"}},
    {PARAM_ROUTER, NAMES_MIXTRAL, false, {"block_sparse_moe.gate.weight"}},
    {PARAM_ROUTER, NAMES_FUSED | NAMES_PER_EXPERT, false, {"mlp.gate.weight"}},
    {PARAM_EXPERT_GATE_UP, NAMES_FUSED, false, {"mlp.experts.gate_up_proj"}},
    {PARAM_EXPERT_GATE_UP, NAMES_MIXTRAL, true,
     {"block_sparse_moe.experts.%d.w1.weight", "block_sparse_moe.experts.%d.w3.weight"}},
    {PARAM_EXPERT_GATE_UP, NAMES_PER_EXPERT, true,
     {"mlp.experts.%d.gate_proj.weight", "mlp.experts.%d.up_proj.weight"}},
    {PARAM_EXPERT_DOWN, NAMES_FUSED, false, {"mlp.experts.down_proj"}},
    {PARAM_EXPERT_DOWN, NAMES_MIXTRAL, true, {"block_sparse_moe.experts.%d.w2.weight"}},
    {PARAM_EXPERT_DOWN, NAMES_PER_EXPERT, true, {"mlp.experts.%d.down_proj.weight"}},
    {PARAM_SHARED_GATE_UP, NAMES_ANY, false,
     {"mlp.shared_expert.gate_proj.weight", "mlp.shared_expert.up_proj.weight"}},
    {PARAM_SHARED_DOWN, NAMES_ANY, false, {"mlp.shared_expert.down_proj.weight"}},
    {PARAM_SHARED_EXPERT_GATE, NAMES_ANY, false, {"mlp.shared_expert_gate.weight"}},
    {PARAM_DENSE_GATE_UP, NAMES_ANY, false, {"mlp.gate_proj.weight", "mlp.up_proj.weight"}},
    {PARAM_DENSE_DOWN, NAMES_ANY, false, {"mlp.down_proj.weight"}},
};

/* One HF tensor and the contiguous run of an engine tensor that it holds. */
typedef struct {
    char name[128];
    int ndim;
    int64_t shape[3];
    size_t offset;      /* first float of the run in the Param's value */
    size_t numel;
} HfTensor;

static unsigned naming_scheme(ModelFamily family, ExpertLayout layout)
{
    if (layout == EXPERT_LAYOUT_FUSED)
        return NAMES_FUSED;
    return family == FAMILY_MIXTRAL ? NAMES_MIXTRAL : NAMES_PER_EXPERT;
}

/* Fills out (unless NULL) with the HF tensors that hold param, in the order
 * of their runs; returns how many there are (at most 2E). */
static int hf_tensors_of(const Param *param, ModelFamily family, ExpertLayout layout,
                         HfTensor *out)
{
    unsigned scheme = naming_scheme(family, layout);
    size_t row = 0;
    while (row < sizeof hf_names / sizeof hf_names[0]
           && !(hf_names[row].kind == param->kind && (hf_names[row].schemes & scheme)))
        row++;
    CHECK(row < sizeof hf_names / sizeof hf_names[0]);
    int stack_dims = hf_names[row].per_expert ? 1 : 0; /* the expert dim, split off */
    int experts = hf_names[row].per_expert ? (int)param->shape[0] : 1;
    int halves = hf_names[row].names[1] ? 2 : 1;
    int count = experts * halves;
    if (!out)
        return count;
    for (int e = 0; e < experts; e++) {
        for (int h = 0; h < halves; h++) {
            HfTensor *t = &out[e * halves + h];
            int used = param->layer < 0 ? 0
                : snprintf(t->name, sizeof t->name, "model.layers.%d.", param->layer);
            snprintf(t->name + used, sizeof t->name - (size_t)used, hf_names[row].names[h], e);
            t->ndim = param->ndim - stack_dims;
            memcpy(t->shape, param->shape + stack_dims, (size_t)t->ndim * sizeof t->shape[0]);
            t->shape[0] /= halves;
            t->numel = param->numel / (size_t)count;
            t->offset = (size_t)(e * halves + h) * t->numel;
        }
    }
    return count;
}

static char *path_join(const char *dir, const char *name)
{
    size_t size = strlen(dir) + strlen(name) + 2;
    char *path = xmalloc(size);
    snprintf(path, size, "%s/%s", dir, name);
    return path;
}

/* ---- reading ---- */

/* The files of a checkpoint being read: first located (reader_locate),
 * then mapped (reader_map) once the memory check has passed. */
typedef struct {
    const char *where;        /* what errors about absent tensors name: the directory or file */
    char *index_path;         /* NULL without an index */
    json_t *index;            /* the index file, or NULL */
    json_t *weight_map;       /* tensor name -> shard file name, inside index */
    char **shard_paths;       /* (num_shards) */
    const char **shard_names; /* (num_shards) as the index names them */
    SafetensorsFile *shards;  /* (num_shards), all zero until mapped */
    bool **used;              /* [shard][tensor]: read into an engine tensor */
    int num_shards;
} Reader;

static int shard_index(const Reader *reader, const char *file_name)
{
    for (int s = 0; s < reader->num_shards; s++)
        if (strcmp(reader->shard_names[s], file_name) == 0)
            return s;
    return -1;
}

/* Takes path; file_name, its name in the index, must outlive the reader. */
static void add_shard(Reader *reader, char *path, const char *file_name)
{
    size_t n = (size_t)reader->num_shards + 1;
    reader->shard_paths = xrealloc(reader->shard_paths, n * sizeof reader->shard_paths[0]);
    reader->shard_names = xrealloc(reader->shard_names, n * sizeof reader->shard_names[0]);
    reader->shard_paths[n - 1] = path;
    reader->shard_names[n - 1] = file_name;
    reader->num_shards++;
}

/* Shards must sit beside the index: a plain file name. */
static bool is_plain_file_name(const char *name)
{
    return name[0] && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* Lists every shard the index names, each once. */
static int locate_indexed_shards(Reader *reader, const char *dir)
{
    reader->index = json_load_object(reader->index_path);
    if (!reader->index)
        return -1;
    reader->weight_map = json_object_get(reader->index, "weight_map");
    if (!json_is_object(reader->weight_map))
        return error_set("%s: key \"weight_map\": expected an object of tensor name to file name",
                         reader->index_path);
    const char *name;
    json_t *file;
    json_object_foreach(reader->weight_map, name, file) {
        if (!json_is_string(file) || !is_plain_file_name(json_string_value(file)))
            return error_set("%s: tensor '%s': expected the name of a file in the same directory",
                             reader->index_path, name);
        if (shard_index(reader, json_string_value(file)) < 0)
            add_shard(reader, path_join(dir, json_string_value(file)), json_string_value(file));
    }
    return 0;
}

static void reader_close(Reader *reader)
{
    for (int s = 0; s < reader->num_shards; s++) {
        if (reader->shards)
            safetensors_close(&reader->shards[s]);
        if (reader->used)
            free(reader->used[s]);
        free(reader->shard_paths[s]);
    }
    free(reader->shards);
    free(reader->shard_paths);
    free(reader->shard_names);
    free(reader->used);
    json_decref(reader->index);
    free(reader->index_path);
    memset(reader, 0, sizeof *reader);
}

/* Finds the files of the checkpoint in dir, without opening them. A single
 * file wins over an index, as in transformers. */
static int reader_locate(Reader *reader, const char *dir)
{
    memset(reader, 0, sizeof *reader);
    reader->where = dir;
    char *single_path = path_join(dir, SINGLE_FILE);
    int result = 0;
    if (access(single_path, F_OK) == 0) {
        add_shard(reader, single_path, SINGLE_FILE);
        single_path = NULL;
    } else {
        reader->index_path = path_join(dir, INDEX_FILE);
        result = access(reader->index_path, F_OK) == 0
                     ? locate_indexed_shards(reader, dir)
                     : error_set("%s: has neither %s nor %s", dir, SINGLE_FILE, INDEX_FILE);
    }
    free(single_path);
    if (result < 0)
        reader_close(reader);
    return result;
}

/* The bytes that mapping every shard takes (of address space). A file that
 * cannot be read counts 0 here; reader_map then says why. */
static uint64_t reader_file_bytes(const Reader *reader)
{
    uint64_t total = 0;
    for (int s = 0; s < reader->num_shards; s++) {
        struct stat status;
        if (stat(reader->shard_paths[s], &status) == 0 && S_ISREG(status.st_mode))
            total += (uint64_t)status.st_size;
    }
    return total;
}

/* Maps and validates every located shard. */
static int reader_map(Reader *reader)
{
    reader->shards = xcalloc((size_t)reader->num_shards, sizeof reader->shards[0]);
    reader->used = xcalloc((size_t)reader->num_shards, sizeof reader->used[0]);
    for (int s = 0; s < reader->num_shards; s++) {
        SafetensorsFile *shard = &reader->shards[s];
        if (safetensors_open(shard, reader->shard_paths[s]) < 0)
            return -1;
        reader->used[s] = xcalloc((size_t)shard->count, sizeof(bool));
    }
    return 0;
}

/* The tensor called name, or NULL. *shard is the file that holds it or
 * should, or -1 when the index does not list it. */
static const SafetensorsTensor *reader_find(const Reader *reader, const char *name, int *shard)
{
    *shard = 0;
    if (reader->weight_map) {
        json_t *file = json_object_get(reader->weight_map, name);
        *shard = file ? shard_index(reader, json_string_value(file)) : -1;
        if (*shard < 0)
            return NULL;
    }
    return safetensors_find(&reader->shards[*shard], name);
}

static bool *used_flag(const Reader *reader, int shard, const SafetensorsTensor *tensor)
{
    return &reader->used[shard][tensor - reader->shards[shard].tensors];
}

/* The expert layout of MoE layer `layer`: the one whose expert tensors are
 * present. With neither present, per-expert, so that the error names a
 * tensor of the layout transformers saves by default. */
static int detect_layout(const Reader *reader, const Model *model, int layer, HfTensor *scratch,
                         ExpertLayout *layout)
{
    static const ExpertLayout layouts[] = {EXPERT_LAYOUT_PER_EXPERT, EXPERT_LAYOUT_FUSED};
    static const ParamKind stacks[] = {PARAM_EXPERT_GATE_UP, PARAM_EXPERT_DOWN};
    char found[2][sizeof scratch->name] = {"", ""}; /* a present tensor of each layout */
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 2 && !found[i][0]; k++) {
            const Param *param = model_param(model, layer, stacks[k]);
            int count = hf_tensors_of(param, model->config.family, layouts[i], scratch);
            for (int j = 0; j < count && !found[i][0]; j++) {
                int shard;
                if (reader_find(reader, scratch[j].name, &shard))
                    memcpy(found[i], scratch[j].name, sizeof found[i]);
            }
        }
    }
    if (found[0][0] && found[1][0])
        return error_set("%s: layer %d mixes the per-expert and fused expert layouts "
                         "('%s' and '%s')", reader->where, layer, found[0], found[1]);
    *layout = found[1][0] ? EXPERT_LAYOUT_FUSED : EXPERT_LAYOUT_PER_EXPERT;
    return 0;
}

static int read_param(const Reader *reader, const Param *param, ModelFamily family,
                      ExpertLayout layout, HfTensor *scratch)
{
    int count = hf_tensors_of(param, family, layout, scratch);
    for (int i = 0; i < count; i++) {
        const HfTensor *want = &scratch[i];
        int shard;
        const SafetensorsTensor *tensor = reader_find(reader, want->name, &shard);
        if (!tensor && reader->weight_map && shard >= 0)
            return error_set("%s: tensor '%s' is missing, though %s places it in this file",
                             reader->shards[shard].path, want->name, INDEX_FILE);
        if (!tensor)
            return error_set("%s: tensor '%s' is missing", reader->where, want->name);
        bool same_shape = tensor->ndim == want->ndim;
        for (int d = 0; d < want->ndim && same_shape; d++)
            same_shape = tensor->shape[d] == want->shape[d];
        if (!same_shape) {
            char got[128], expected[128];
            safetensors_format_shape(got, sizeof got, tensor->ndim, tensor->shape);
            safetensors_format_shape(expected, sizeof expected, want->ndim, want->shape);
            return error_set("%s: tensor '%s': shape %s does not match the config's %s",
                             reader->shards[shard].path, want->name, got, expected);
        }
        if (param->value) /* a layout-only model is being checked, not filled */
            dtype_to_f32(param->value + want->offset, tensor->data, tensor->dtype, want->numel);
        *used_flag(reader, shard, tensor) = true;
    }
    return 0;
}

/* After every engine tensor is read: anything left over is an error. */
static int check_all_used(const Reader *reader)
{
    const char *name;
    json_t *file;
    if (reader->weight_map) {
        json_object_foreach(reader->weight_map, name, file) {
            int shard;
            const SafetensorsTensor *tensor = reader_find(reader, name, &shard);
            if (!tensor || !*used_flag(reader, shard, tensor))
                return error_set("%s: unexpected tensor '%s'", reader->index_path, name);
        }
    }
    for (int s = 0; s < reader->num_shards; s++) {
        const SafetensorsFile *shard = &reader->shards[s];
        for (int i = 0; i < shard->count; i++) {
            if (reader->used[s][i])
                continue;
            file = reader->weight_map ? json_object_get(reader->weight_map, shard->tensors[i].name)
                                      : NULL;
            if (file)
                return error_set("%s: tensor '%s' is also stored here, but %s places it in %s",
                                 shard->path, shard->tensors[i].name, INDEX_FILE,
                                 json_string_value(file));
            return error_set("%s: unexpected tensor '%s'", shard->path, shard->tensors[i].name);
        }
    }
    return 0;
}

/* What was read, once every tensor is known to be used. */
static void describe(const Reader *reader, const ModelConfig *config, const ExpertLayout *layouts,
                     CheckpointInfo *info)
{
    memset(info, 0, sizeof *info);
    info->num_shards = reader->num_shards;
    int first_moe_layer = -1;
    for (int l = 0; l < config->num_layers; l++) {
        if (!config->layer_is_moe[l])
            continue;
        if (first_moe_layer < 0)
            first_moe_layer = l;
        info->mixed_layouts |= layouts[l] != layouts[first_moe_layer];
    }
    if (first_moe_layer >= 0)
        info->expert_layout = layouts[first_moe_layer];
    info->dtype = reader->shards[0].tensors[0].dtype;
    for (int s = 0; s < reader->num_shards; s++)
        for (int i = 0; i < reader->shards[s].count; i++)
            info->mixed_dtypes |= reader->shards[s].tensors[i].dtype != info->dtype;
}

static int read_model(const Reader *reader, Model *model, CheckpointInfo *info)
{
    const ModelConfig *config = &model->config;
    HfTensor *scratch = xmalloc(2 * (size_t)config->num_experts * sizeof *scratch);
    ExpertLayout layouts[MODEL_MAX_LAYERS] = {EXPERT_LAYOUT_PER_EXPERT};
    int result = 0;
    for (int l = 0; l < config->num_layers && result == 0; l++)
        if (config->layer_is_moe[l])
            result = detect_layout(reader, model, l, scratch, &layouts[l]);
    for (int i = 0; i < model->num_params && result == 0; i++) {
        const Param *param = &model->params[i];
        /* Global tensors have the same names in every layout. */
        ExpertLayout layout = param->layer < 0 ? EXPERT_LAYOUT_PER_EXPERT : layouts[param->layer];
        result = read_param(reader, param, config->family, layout, scratch);
    }
    free(scratch);
    if (result == 0)
        result = check_all_used(reader);
    if (result == 0 && info)
        describe(reader, config, layouts, info);
    return result;
}

/* Memory for the loader's own work: the parsed headers and index, the name
 * scratch and the per-tensor flags; a few MiB even for checkpoints of
 * thousands of tensors. */
#define LOADER_WORKING_BYTES ((uint64_t)16 << 20)

/* Maps the located shards once need, with the mappings and the loader's
 * own work added, fits the memory budget; else the error says what it
 * needs and what is available. */
static int map_within_budget(Reader *reader, const char *action, MemoryNeed need)
{
    memory_need_add(&need, "checkpoint files mapped", reader_file_bytes(reader), true);
    memory_need_add(&need, "loader", LOADER_WORKING_BYTES, false);
    if (memory_budget_check(reader->where, action, &need) < 0)
        return -1;
    return reader_map(reader);
}

static int open_checkpoint(Model *model, const char *dir, CheckpointInfo *info,
                           const MemoryNeed *beside, bool with_weights)
{
    memset(model, 0, sizeof *model);
    ModelConfig config;
    char *config_path = path_join(dir, CONFIG_FILE);
    int result = model_config_load(&config, config_path);
    free(config_path);
    if (result < 0)
        return -1;
    Reader reader;
    if (reader_locate(&reader, dir) < 0)
        return -1;
    model_layout(model, &config);
    MemoryNeed need = {0};
    if (with_weights)
        memory_need_add(&need, "float32 parameters", model_param_count(model) * sizeof(float),
                        false);
    memory_need_append(&need, beside);
    result = map_within_budget(&reader, with_weights ? "loading" : "reading its headers", need);
    if (result == 0 && with_weights) {
        model_free(model);
        model_create(model, &config);
    }
    if (result == 0)
        result = read_model(&reader, model, info);
    reader_close(&reader);
    if (result < 0)
        model_free(model);
    return result;
}

int checkpoint_load(Model *model, const char *dir, CheckpointInfo *info)
{
    return open_checkpoint(model, dir, info, NULL, true);
}

int checkpoint_load_reserving(Model *model, const char *dir, CheckpointInfo *info,
                              const MemoryNeed *beside)
{
    return open_checkpoint(model, dir, info, beside, true);
}

int checkpoint_inspect(Model *model, const char *dir, CheckpointInfo *info)
{
    return open_checkpoint(model, dir, info, NULL, false);
}

int checkpoint_load_weights(Model *model, const char *path, CheckpointInfo *info)
{
    Reader reader = {.where = path};
    add_shard(&reader, xstrdup(path), path);
    int result = map_within_budget(&reader, "reading", (MemoryNeed){0});
    if (result == 0)
        result = read_model(&reader, model, info);
    reader_close(&reader);
    return result;
}

/* ---- writing ---- */

int checkpoint_make_directory(const char *dir)
{
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return error_set("%s: cannot create directory: %s", dir, strerror(errno));
    struct stat status;
    if (stat(dir, &status) != 0 || !S_ISDIR(status.st_mode))
        return error_set("%s: exists but is not a directory", dir);
    return 0;
}

static int write_weights(const Model *model, const char *path, DType dtype, ExpertLayout layout)
{
    ModelFamily family = model->config.family;
    int count = 0;
    for (int i = 0; i < model->num_params; i++)
        count += hf_tensors_of(&model->params[i], family, layout, NULL);
    HfTensor *hf = xmalloc((size_t)count * sizeof *hf);
    SafetensorsWriteTensor *tensors = xcalloc((size_t)count, sizeof *tensors);
    int at = 0;
    for (int i = 0; i < model->num_params; i++) {
        const Param *param = &model->params[i];
        int n = hf_tensors_of(param, family, layout, hf + at);
        for (int j = at; j < at + n; j++) {
            tensors[j].name = hf[j].name;
            tensors[j].dtype = dtype;
            tensors[j].ndim = hf[j].ndim;
            memcpy(tensors[j].shape, hf[j].shape, sizeof hf[j].shape);
            tensors[j].data = param->value + hf[j].offset;
        }
        at += n;
    }
    int result = safetensors_write(path, tensors, count, NULL);
    free(tensors);
    free(hf);
    return result;
}

int checkpoint_save(const Model *model, const char *dir, DType dtype, ExpertLayout layout)
{
    if (checkpoint_make_directory(dir) < 0)
        return -1;
    char *config_path = path_join(dir, CONFIG_FILE);
    char *weights_path = path_join(dir, SINGLE_FILE);
    /* The weights first: on a full disk it is they that fail, and the
     * previous config.json then still describes the previous weights. */
    int result = write_weights(model, weights_path, dtype, layout);
    if (result == 0)
        result = model_config_write(&model->config, dtype, config_path);
    free(weights_path);
    free(config_path);
    return result;
}
