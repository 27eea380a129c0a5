/* Hugging Face checkpoint directories: config.json plus model.safetensors,
 * or shards listed by model.safetensors.index.json.
 *
 * Routed experts come in two on-disk layouts. The per-expert one (what
 * transformers 4 writes, and transformers 5 by default) stores each expert's
 * projections as separate nn.Linear weights; the fused one (transformers 5
 * with save_original_format=False) stores each layer's experts as two 3-D
 * stacks whose row order equals the engine's expert_gate_up and expert_down.
 * Mixtral's per-expert names differ from the other families'
 * (block_sparse_moe.experts.{e}.w1/w3/w2 against mlp.experts.{e}.gate_proj/
 * up_proj/down_proj). */
#ifndef UOE_CHECKPOINT_H
#define UOE_CHECKPOINT_H

#include <stdbool.h>

#include "dtype.h"
#include "memory_budget.h"
#include "model.h"

typedef enum { EXPERT_LAYOUT_PER_EXPERT, EXPERT_LAYOUT_FUSED } ExpertLayout;

/* What checkpoint_load found on disk. */
typedef struct {
    ExpertLayout expert_layout; /* of the first MoE layer */
    bool mixed_layouts;         /* MoE layers differ in layout */
    DType dtype;                /* of the first tensor */
    bool mixed_dtypes;          /* tensors differ in dtype */
    int num_shards;             /* 1 without an index */
} CheckpointInfo;

/* Reads dir/config.json, creates the model and fills every parameter from
 * dir/model.safetensors or, when that does not exist (the precedence of
 * transformers), from the shards that dir/model.safetensors.index.json
 * names. Each tensor may be F32, BF16 or F16 whatever config.json says; each
 * MoE layer may use either expert layout, but not both. Every expected
 * tensor must be present once with the config's shape, and nothing else may
 * be. On failure returns -1 with an error naming the file and the tensor,
 * and leaves the model freed (all zero). info may be NULL.
 *
 * Before anything is mapped or allocated, the float32 parameters, the
 * mapped files and the loader's work must fit the memory this process may
 * still use (memory_budget.h); else the error says how much loading needs
 * and how much is available. */
int checkpoint_load(Model *model, const char *dir, CheckpointInfo *info);
/* checkpoint_load, with beside (what the caller will allocate next to the
 * model, e.g. its training state; may be NULL) counted in that check. */
int checkpoint_load_reserving(Model *model, const char *dir, CheckpointInfo *info,
                              const MemoryNeed *beside);

/* The same checks as checkpoint_load, on the headers alone: the model gets
 * only its layout (model_layout) and no tensor data is read or converted, so
 * a checkpoint of any size is described in moments. The files are still
 * mapped, so they must fit the address space. */
int checkpoint_inspect(Model *model, const char *dir, CheckpointInfo *info);

/* Fills the parameters of a model made by model_create from one safetensors
 * file with the HF names of a checkpoint of that config (e.g. gradients
 * saved under the parameters' names), with checkpoint_load's checks. On
 * failure returns -1; the parameters may be partly overwritten, and the
 * model is still the caller's to free. */
int checkpoint_load_weights(Model *model, const char *path, CheckpointInfo *info);

/* Writes dir/config.json and dir/model.safetensors (one shard), each
 * atomically, with the tensors converted to dtype and the experts in layout.
 * Creates dir when it does not exist (its parent must). */
int checkpoint_save(const Model *model, const char *dir, DType dtype, ExpertLayout layout);

/* Creates dir unless it exists (its parent must): lets a long job check that
 * it can save before it starts. */
int checkpoint_make_directory(const char *dir);

#endif
