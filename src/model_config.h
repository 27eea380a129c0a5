/* The architecture of a decoder-only MoE transformer, as read from an HF
 * config.json. One struct covers Mixtral, Qwen2-MoE (Qwen1.5-MoE), OLMoE and
 * Qwen3-MoE; their differences are the options below. */
#ifndef UOE_MODEL_CONFIG_H
#define UOE_MODEL_CONFIG_H

#include <stdbool.h>

#include "dtype.h"

#define MODEL_MAX_LAYERS 256

typedef enum {
    FAMILY_MIXTRAL,
    FAMILY_QWEN2_MOE,
    FAMILY_OLMOE,
    FAMILY_QWEN3_MOE,
} ModelFamily;

typedef enum {
    QK_NORM_NONE,
    QK_NORM_PER_HEAD,     /* Qwen3: RMSNorm over each head's D dims, weight (D) */
    QK_NORM_FULL_WIDTH,   /* OLMoE: RMSNorm over all H*D dims, weight (H*D) */
} QkNorm;

typedef struct {
    ModelFamily family;
    int vocab_size;             /* V */
    int hidden_size;            /* C */
    int num_layers;             /* L */
    int num_heads;              /* H */
    int num_kv_heads;           /* KV; H % KV == 0 */
    int head_dim;               /* D; H*D need not equal C */
    int num_experts;            /* E routed experts per MoE layer */
    int experts_per_token;      /* K (top-k) */
    int expert_intermediate;    /* I, width of one routed expert */
    int dense_intermediate;     /* width of the MLP in dense layers */
    int shared_intermediate;    /* width of the shared expert MLP; 0 = none */
    bool shared_expert_gate;    /* sigmoid(x . w) scales the shared expert (Qwen2-MoE) */
    bool norm_topk_prob;        /* renormalise the top-k gates to sum to 1 */
    bool attention_bias;        /* q, k, v projections have biases */
    QkNorm qk_norm;
    bool tie_word_embeddings;
    float rms_norm_eps;
    float rope_theta;
    int max_position_embeddings;
    bool layer_is_moe[MODEL_MAX_LAYERS];
} ModelConfig;

/* Reads path (an HF config.json). Unknown model_type, missing keys and
 * inconsistent sizes give an error naming the file and the key. */
int model_config_load(ModelConfig *config, const char *path);
/* Checks the sizes against each other (positive, divisible, K <= E, ...). */
int model_config_validate(const ModelConfig *config);

const char *model_family_name(ModelFamily family);
int model_config_num_moe_layers(const ModelConfig *config);

/* Writes config as an HF config.json for its family, atomically, declaring
 * dtype as the checkpoint's. Fails, writing nothing, when that family's keys
 * cannot express config (e.g. dense layers in Mixtral): the file must read
 * back through model_config_load as the same config. */
int model_config_write(const ModelConfig *config, DType dtype, const char *path);

#endif
