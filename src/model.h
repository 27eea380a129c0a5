/* The MoE transformer: parameters, activations, forward and backward.
 *
 * Dimension legend, used in every shape comment of the engine:
 *   B batch, T sequence length, N = B*T tokens, C hidden size, V vocabulary,
 *   H query heads, KV key/value heads, D head dim, E routed experts,
 *   K experts per token, I routed expert width, S shared expert width,
 *   F dense MLP width, L layers.
 *
 * Parameters live in one float32 arena; each Param names a tensor in it.
 * Gradients exist only for trainable tensors, in a second arena. Activations
 * for one (B, T) shape live in a third. */
#ifndef UOE_MODEL_H
#define UOE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model_config.h"
#include "routing.h"

typedef enum {
    PARAM_EMBED, PARAM_FINAL_NORM, PARAM_LM_HEAD,
    PARAM_ATTN_NORM, PARAM_WQ, PARAM_BQ, PARAM_WK, PARAM_BK, PARAM_WV, PARAM_BV,
    PARAM_Q_NORM, PARAM_K_NORM, PARAM_WO, PARAM_MLP_NORM,
    PARAM_ROUTER, PARAM_EXPERT_GATE_UP, PARAM_EXPERT_DOWN,
    PARAM_SHARED_GATE_UP, PARAM_SHARED_DOWN, PARAM_SHARED_EXPERT_GATE,
    PARAM_DENSE_GATE_UP, PARAM_DENSE_DOWN,
    PARAM_KIND_COUNT
} ParamKind;

typedef struct {
    char name[64];          /* canonical, e.g. "layers.3.expert_down" */
    ParamKind kind;
    int layer;              /* -1 for embed, final norm and LM head */
    int ndim;
    int64_t shape[3];
    size_t numel;
    float *value;           /* into the parameter arena */
    float *grad;            /* into the gradient arena; NULL unless trainable */
    bool trainable;
    bool *expert_trainable; /* (E) for expert stacks; NULL means every expert */
} Param;

typedef struct {
    float *attn_norm;       /* (C) */
    float *wq, *bq;         /* (H*D, C), (H*D) or NULL */
    float *wk, *bk;         /* (KV*D, C), (KV*D) or NULL */
    float *wv, *bv;         /* (KV*D, C), (KV*D) or NULL */
    float *q_norm;          /* (D) per head, (H*D) full width, or NULL */
    float *k_norm;          /* (D) per head, (KV*D) full width, or NULL */
    float *wo;              /* (C, H*D) */
    float *mlp_norm;        /* (C) */
    /* MoE layers */
    float *router;          /* (E, C) */
    float *expert_gate_up;  /* (E, 2I, C): rows [0, I) gate, [I, 2I) up */
    float *expert_down;     /* (E, C, I) */
    float *shared_gate_up;  /* (2S, C) or NULL */
    float *shared_down;     /* (C, S) or NULL */
    float *shared_expert_gate; /* (1, C) or NULL */
    /* dense layers */
    float *dense_gate_up;   /* (2F, C) */
    float *dense_down;      /* (C, F) */
} LayerParams;

/* What one layer's forward keeps for its backward. */
typedef struct {
    float *input;           /* (N, C) residual stream entering the layer */
    float *attn_norm_out;   /* (N, C) */
    float *attn_rstd;       /* (N) */
    float *q_raw, *k_raw;   /* (N, H*D), (N, KV*D) projections before q/k norm */
    float *q_norm_rstd;     /* (N*H) per head or (N) full width */
    float *k_norm_rstd;     /* (N*KV) or (N) */
    float *q, *k, *v;       /* (N, H*D), (N, KV*D), (N, KV*D) after norm and rope */
    float *att_probs;       /* (B, H, T, T) causal softmax */
    float *att_out;         /* (N, H*D) heads concatenated, input of wo */
    float *mid;             /* (N, C) residual stream after attention */
    float *mlp_norm_out;    /* (N, C) */
    float *mlp_rstd;        /* (N) */
    /* MoE layers */
    float *router_probs;    /* (N, E) softmax of the router logits */
    int *topk_index;        /* (N, K) chosen experts, by descending probability */
    float *topk_gate;       /* (N, K) gate values (renormalised if norm_topk_prob) */
    int *expert_offset;     /* (E+1) start of each expert's run in slot order */
    int *slot_order;        /* (N*K) slot id n*K+k, grouped by expert */
    int *slot_position;     /* (N*K) inverse of slot_order */
    float *slot_gate_up;    /* (N*K, 2I) expert gate/up pre-activations, slot order */
    float *slot_out;        /* (N*K, C) expert outputs before gating, slot order */
    float *shared_gate_up;  /* (N, 2S) */
    float *shared_out;      /* (N, C) shared expert output before its gate */
    float *shared_gate;     /* (N) sigmoid gate */
    /* dense layers */
    float *dense_gate_up;   /* (N, 2F) */
} LayerActs;

typedef struct {
    int B, T;
    LayerActs layer[MODEL_MAX_LAYERS];
    float *output;          /* (N, C) residual stream after the last layer */
    float *final_norm_out;  /* (N, C) */
    float *final_rstd;      /* (N) */
    float *logits;          /* (N, V) */
    float *logsumexp;       /* (N) */
    float *token_nll;       /* (N) -log p(target); 0 where the target is ignored */
    int *ids;               /* (N) */
    int *targets;           /* (N) next-token targets, -1 = ignored */
    float *rope_cos, *rope_sin; /* (T, D/2) */
    float *block_out;       /* (N, C) forward temp: attention or MLP block output */
    float *gather;          /* (N*K, C) forward temp: inputs gathered per expert */
    float *hidden;          /* (max(N*K*I, N*S, N*F)) forward temp: SwiGLU outputs */
} Activations;

/* Scratch for backward, sized for the same (B, T) and reused across layers. */
typedef struct {
    int B, T;
    float *d_residual;      /* (N, C) gradient of the residual stream */
    float *d_norm_out;      /* (N, C) */
    float *d_logits;        /* (N, V) */
    float *d_q, *d_k, *d_v; /* (N, H*D), (N, KV*D), (N, KV*D) */
    float *d_q_raw, *d_k_raw; /* same shapes, before q/k norm */
    float *d_att_probs;     /* (B, H, T, T) */
    float *d_att_out;       /* (N, H*D) */
    float *d_mlp_out;       /* (N, C) gradient of the MoE/MLP block output */
    float *d_topk_gate;     /* (N, K) */
    float *d_router_logits; /* (N, E) */
    float *d_slot_out;      /* (N*K, C) slot order */
    float *d_slot_input;    /* (N*K, C) slot order */
    float *slot_input;      /* (N*K, C) gathered expert inputs */
    float *d_gate_up;       /* (max(N*K*2I, N*2S, N*2F)) any SwiGLU MLP's */
    float *d_hidden;        /* (max(N*K*I, N*S, N*F)) */
    float *hidden;          /* (max(N*K*I, N*S, N*F)) recomputed SwiGLU output */
    float *d_shared_out;    /* (N, C) */
} BackwardScratch;

typedef struct {
    ModelConfig config;
    Param *params;
    int num_params;
    LayerParams layer[MODEL_MAX_LAYERS];
    float *embed;           /* (V, C) */
    float *final_norm;      /* (C) */
    float *lm_head;         /* (V, C); equals embed when tied */
    float *param_arena;
    size_t num_param_floats;
    float *grad_arena;
    size_t num_grad_floats;
    Activations acts;
    void *act_arena;
    BackwardScratch scratch;
    void *scratch_arena;
    RoutingTaps taps;       /* per MoE layer statistics, filled by forward */
    int param_index[MODEL_MAX_LAYERS + 1][PARAM_KIND_COUNT]; /* [layer + 1][kind], -1 = none */
} Model;

/* Lays out and zero-fills the parameters for config (already validated). */
void model_create(Model *model, const ModelConfig *config);
/* Only the tensor list (names, shapes, counts), with no memory behind it:
 * enough to describe or validate a checkpoint of any size. Free with model_free. */
void model_layout(Model *model, const ModelConfig *config);
void model_free(Model *model);
/* Normal(0, std) weights, unit norms, zero biases; deterministic in seed. */
void model_init_random(Model *model, uint64_t seed, float std);

Param *model_find_param(Model *model, const char *name);
/* The tensor of a kind in a layer (-1 for the global ones), or NULL. */
Param *model_param(const Model *model, int layer, ParamKind kind);
/* Its gradient buffer, or NULL when it is absent or frozen. */
float *model_grad(const Model *model, int layer, ParamKind kind);
/* Whether expert e of an expert stack receives gradients. */
bool param_expert_trainable(const Param *param, int expert);
/* Counts trainable elements (per-expert masks counted per expert). */
size_t model_trainable_count(const Model *model);
size_t model_param_count(const Model *model);

/* Marks a whole tensor trainable, or one expert of an expert stack
 * (expert >= 0). Call model_commit_trainable() after changing the set. */
int model_set_trainable(Model *model, const char *name, int expert);
void model_clear_trainable(Model *model);
/* Allocates (zeroed) gradients for the trainable set. */
void model_commit_trainable(Model *model);
void model_zero_grad(Model *model);
/* The lowest layer that backward must reach: -1 when the embedding trains,
 * L when nothing below the final norm does. Layers below it are frozen. */
int model_lowest_trainable_layer(const Model *model);

/* Forward pass for ids (B, T). targets (B, T) may be NULL (no loss); -1 marks
 * an ignored position. Returns the mean NLL over non-ignored targets (0 when
 * there are none). Logits, per-token NLL and routing taps are left in
 * model->acts and model->taps. */
float model_forward(Model *model, const int *ids, const int *targets, int B, int T);

/* The same forward, started at layer first_layer from its input residual
 * stream (B*T, C), as a previous forward of the same ids left it in
 * model->acts.layer[first_layer].input. Layers below are not run, so their
 * activations and routing taps are stale: a caller that caches the output of
 * frozen layers must not backpropagate into them. */
float model_forward_from_layer(Model *model, int first_layer, const float *layer_input,
                               const int *ids, const int *targets, int B, int T);

/* Upstream gradients of a loss built from the forward's outputs. */
typedef struct {
    const float *d_token_nll;    /* (N) dLoss/d token_nll; NULL = none */
    int router_layer;            /* layer whose router probabilities the loss uses; -1 = none */
    const float *d_router_probs; /* (N, E) dLoss/d router_probs at router_layer */
    int hidden_layer;            /* layer whose output residual stream the loss uses */
    const float *d_hidden;       /* (N, C) dLoss/d that stream; NULL = none */
} LossGradient;

/* Accumulates into the trainable gradients. Uses the activations of the
 * latest forward; stops below the lowest trainable layer. */
void model_backward(Model *model, const LossGradient *loss);

/* Weights for a mean over the N tokens whose target is not -1: 1/count each. */
void model_mean_nll_weights(const Model *model, float *d_token_nll /* (N) */);

#endif
