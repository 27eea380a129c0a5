/* Model layout (parameter, gradient and activation arenas), the trainable
 * set, and the forward/backward passes that chain the blocks. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "error.h"
#include "moe.h"
#include "ops.h"
#include "rng.h"

static const char *const param_kind_names[PARAM_KIND_COUNT] = {
    [PARAM_EMBED] = "embed", [PARAM_FINAL_NORM] = "final_norm", [PARAM_LM_HEAD] = "lm_head",
    [PARAM_ATTN_NORM] = "attn_norm", [PARAM_WQ] = "wq", [PARAM_BQ] = "bq",
    [PARAM_WK] = "wk", [PARAM_BK] = "bk", [PARAM_WV] = "wv", [PARAM_BV] = "bv",
    [PARAM_Q_NORM] = "q_norm", [PARAM_K_NORM] = "k_norm", [PARAM_WO] = "wo",
    [PARAM_MLP_NORM] = "mlp_norm", [PARAM_ROUTER] = "router",
    [PARAM_EXPERT_GATE_UP] = "expert_gate_up", [PARAM_EXPERT_DOWN] = "expert_down",
    [PARAM_SHARED_GATE_UP] = "shared_gate_up", [PARAM_SHARED_DOWN] = "shared_down",
    [PARAM_SHARED_EXPERT_GATE] = "shared_expert_gate",
    [PARAM_DENSE_GATE_UP] = "dense_gate_up", [PARAM_DENSE_DOWN] = "dense_down",
};

/* Bump allocator run twice: once with base NULL to measure, once to assign. */
typedef struct {
    char *base;
    size_t used;
} Arena;

static void *arena_take(Arena *arena, size_t bytes)
{
    size_t at = (arena->used + 63) & ~(size_t)63;
    arena->used = at + bytes;
    return arena->base ? arena->base + at : NULL;
}

static float *take_floats(Arena *arena, size_t n) { return arena_take(arena, n * sizeof(float)); }
static int *take_ints(Arena *arena, size_t n) { return arena_take(arena, n * sizeof(int)); }

static void add_param(Model *m, ParamKind kind, int layer, int ndim, int64_t d0, int64_t d1,
                      int64_t d2)
{
    m->params = xrealloc(m->params, (size_t)(m->num_params + 1) * sizeof(Param));
    Param *p = &m->params[m->num_params];
    memset(p, 0, sizeof *p);
    if (layer < 0)
        snprintf(p->name, sizeof p->name, "%s", param_kind_names[kind]);
    else
        snprintf(p->name, sizeof p->name, "layers.%d.%s", layer, param_kind_names[kind]);
    p->kind = kind;
    p->layer = layer;
    p->ndim = ndim;
    int64_t dims[3] = {d0, d1, d2};
    p->numel = 1;
    for (int i = 0; i < ndim; i++) {
        p->shape[i] = dims[i];
        p->numel *= (size_t)dims[i];
    }
    m->param_index[layer + 1][kind] = m->num_params;
    m->num_params++;
}

static void add_layer_params(Model *m, int l)
{
    const ModelConfig *c = &m->config;
    int C = c->hidden_size, D = c->head_dim;
    int q_dim = c->num_heads * D, kv_dim = c->num_kv_heads * D;
    add_param(m, PARAM_ATTN_NORM, l, 1, C, 0, 0);
    add_param(m, PARAM_WQ, l, 2, q_dim, C, 0);
    add_param(m, PARAM_WK, l, 2, kv_dim, C, 0);
    add_param(m, PARAM_WV, l, 2, kv_dim, C, 0);
    if (c->attention_bias) {
        add_param(m, PARAM_BQ, l, 1, q_dim, 0, 0);
        add_param(m, PARAM_BK, l, 1, kv_dim, 0, 0);
        add_param(m, PARAM_BV, l, 1, kv_dim, 0, 0);
    }
    if (c->qk_norm == QK_NORM_PER_HEAD) {
        add_param(m, PARAM_Q_NORM, l, 1, D, 0, 0);
        add_param(m, PARAM_K_NORM, l, 1, D, 0, 0);
    } else if (c->qk_norm == QK_NORM_FULL_WIDTH) {
        add_param(m, PARAM_Q_NORM, l, 1, q_dim, 0, 0);
        add_param(m, PARAM_K_NORM, l, 1, kv_dim, 0, 0);
    }
    add_param(m, PARAM_WO, l, 2, C, q_dim, 0);
    add_param(m, PARAM_MLP_NORM, l, 1, C, 0, 0);
    if (c->layer_is_moe[l]) {
        int E = c->num_experts, I = c->expert_intermediate, S = c->shared_intermediate;
        add_param(m, PARAM_ROUTER, l, 2, E, C, 0);
        add_param(m, PARAM_EXPERT_GATE_UP, l, 3, E, 2 * I, C);
        add_param(m, PARAM_EXPERT_DOWN, l, 3, E, C, I);
        if (S > 0) {
            add_param(m, PARAM_SHARED_GATE_UP, l, 2, 2 * S, C, 0);
            add_param(m, PARAM_SHARED_DOWN, l, 2, C, S, 0);
            if (c->shared_expert_gate)
                add_param(m, PARAM_SHARED_EXPERT_GATE, l, 2, 1, C, 0);
        }
    } else {
        int F = c->dense_intermediate;
        add_param(m, PARAM_DENSE_GATE_UP, l, 2, 2 * F, C, 0);
        add_param(m, PARAM_DENSE_DOWN, l, 2, C, F, 0);
    }
}

/* Where the named pointer of a tensor kind lives in the model. */
static float **param_pointer(Model *m, int layer, ParamKind kind)
{
    if (layer < 0) {
        switch (kind) {
        case PARAM_EMBED: return &m->embed;
        case PARAM_FINAL_NORM: return &m->final_norm;
        case PARAM_LM_HEAD: return &m->lm_head;
        default: break;
        }
        FATAL("parameter kind %d is not global", (int)kind);
    }
    LayerParams *w = &m->layer[layer];
    switch (kind) {
    case PARAM_ATTN_NORM: return &w->attn_norm;
    case PARAM_WQ: return &w->wq;
    case PARAM_BQ: return &w->bq;
    case PARAM_WK: return &w->wk;
    case PARAM_BK: return &w->bk;
    case PARAM_WV: return &w->wv;
    case PARAM_BV: return &w->bv;
    case PARAM_Q_NORM: return &w->q_norm;
    case PARAM_K_NORM: return &w->k_norm;
    case PARAM_WO: return &w->wo;
    case PARAM_MLP_NORM: return &w->mlp_norm;
    case PARAM_ROUTER: return &w->router;
    case PARAM_EXPERT_GATE_UP: return &w->expert_gate_up;
    case PARAM_EXPERT_DOWN: return &w->expert_down;
    case PARAM_SHARED_GATE_UP: return &w->shared_gate_up;
    case PARAM_SHARED_DOWN: return &w->shared_down;
    case PARAM_SHARED_EXPERT_GATE: return &w->shared_expert_gate;
    case PARAM_DENSE_GATE_UP: return &w->dense_gate_up;
    case PARAM_DENSE_DOWN: return &w->dense_down;
    default: break;
    }
    FATAL("parameter kind %d is not a layer tensor", (int)kind);
}

void model_layout(Model *m, const ModelConfig *config)
{
    memset(m, 0, sizeof *m);
    m->config = *config;
    memset(m->param_index, -1, sizeof m->param_index);
    const ModelConfig *c = &m->config;
    add_param(m, PARAM_EMBED, -1, 2, c->vocab_size, c->hidden_size, 0);
    for (int l = 0; l < c->num_layers; l++)
        add_layer_params(m, l);
    add_param(m, PARAM_FINAL_NORM, -1, 1, c->hidden_size, 0, 0);
    if (!c->tie_word_embeddings)
        add_param(m, PARAM_LM_HEAD, -1, 2, c->vocab_size, c->hidden_size, 0);
}

void model_create(Model *m, const ModelConfig *config)
{
    model_layout(m, config);
    const ModelConfig *c = &m->config;
    size_t total = 0;
    for (int i = 0; i < m->num_params; i++)
        total += (m->params[i].numel + 15) & ~(size_t)15;
    m->param_arena = xcalloc(total, sizeof(float));
    m->num_param_floats = total;
    size_t at = 0;
    for (int i = 0; i < m->num_params; i++) {
        Param *p = &m->params[i];
        p->value = m->param_arena + at;
        at += (p->numel + 15) & ~(size_t)15;
        *param_pointer(m, p->layer, p->kind) = p->value;
    }
    if (c->tie_word_embeddings)
        m->lm_head = m->embed;
    routing_taps_init(&m->taps, c->num_layers, c->num_experts);
}

void model_free(Model *m)
{
    for (int i = 0; i < m->num_params; i++)
        free(m->params[i].expert_trainable);
    free(m->params);
    free(m->param_arena);
    free(m->grad_arena);
    free(m->act_arena);
    free(m->scratch_arena);
    routing_taps_free(&m->taps);
    memset(m, 0, sizeof *m);
}

static bool is_norm_weight(ParamKind kind)
{
    return kind == PARAM_ATTN_NORM || kind == PARAM_MLP_NORM || kind == PARAM_FINAL_NORM ||
           kind == PARAM_Q_NORM || kind == PARAM_K_NORM;
}

static bool is_bias(ParamKind kind)
{
    return kind == PARAM_BQ || kind == PARAM_BK || kind == PARAM_BV;
}

void model_init_random(Model *m, uint64_t seed, float std)
{
    Rng rng;
    rng_seed(&rng, seed);
    for (int i = 0; i < m->num_params; i++) {
        Param *p = &m->params[i];
        for (size_t j = 0; j < p->numel; j++) {
            if (is_norm_weight(p->kind))
                p->value[j] = 1.0f;
            else if (is_bias(p->kind))
                p->value[j] = 0.0f;
            else
                p->value[j] = std * (float)rng_normal(&rng);
        }
    }
}

Param *model_find_param(Model *m, const char *name)
{
    for (int i = 0; i < m->num_params; i++)
        if (strcmp(m->params[i].name, name) == 0)
            return &m->params[i];
    return NULL;
}

Param *model_param(const Model *m, int layer, ParamKind kind)
{
    int i = m->param_index[layer + 1][kind];
    return i < 0 ? NULL : &m->params[i];
}

float *model_grad(const Model *m, int layer, ParamKind kind)
{
    Param *p = model_param(m, layer, kind);
    return p ? p->grad : NULL;
}

bool param_expert_trainable(const Param *p, int expert)
{
    return p && p->trainable && (!p->expert_trainable || p->expert_trainable[expert]);
}

size_t model_param_count(const Model *m)
{
    size_t n = 0;
    for (int i = 0; i < m->num_params; i++)
        n += m->params[i].numel;
    return n;
}

size_t model_trainable_count(const Model *m)
{
    size_t n = 0;
    for (int i = 0; i < m->num_params; i++) {
        const Param *p = &m->params[i];
        if (!p->trainable)
            continue;
        if (!p->expert_trainable) {
            n += p->numel;
            continue;
        }
        size_t per_expert = p->numel / (size_t)p->shape[0];
        for (int e = 0; e < p->shape[0]; e++)
            n += p->expert_trainable[e] ? per_expert : 0;
    }
    return n;
}

static bool is_expert_stack(ParamKind kind)
{
    return kind == PARAM_EXPERT_GATE_UP || kind == PARAM_EXPERT_DOWN;
}

int model_set_trainable(Model *m, const char *name, int expert)
{
    Param *p = model_find_param(m, name);
    if (!p)
        return error_set("no parameter named '%s'", name);
    if (expert < 0) {
        p->trainable = true;
        free(p->expert_trainable);
        p->expert_trainable = NULL;
        return 0;
    }
    if (!is_expert_stack(p->kind))
        return error_set("parameter '%s' is not an expert stack; it has no expert %d", name, expert);
    if (expert >= p->shape[0])
        return error_set("parameter '%s' has %lld experts; there is no expert %d", name,
                         (long long)p->shape[0], expert);
    if (p->trainable && !p->expert_trainable)
        return 0; /* already wholly trainable */
    if (!p->expert_trainable)
        p->expert_trainable = xcalloc((size_t)p->shape[0], sizeof(bool));
    p->expert_trainable[expert] = true;
    p->trainable = true;
    return 0;
}

void model_clear_trainable(Model *m)
{
    for (int i = 0; i < m->num_params; i++) {
        Param *p = &m->params[i];
        p->trainable = false;
        free(p->expert_trainable);
        p->expert_trainable = NULL;
        p->grad = NULL;
    }
}

void model_commit_trainable(Model *m)
{
    size_t total = 0;
    for (int i = 0; i < m->num_params; i++)
        if (m->params[i].trainable)
            total += (m->params[i].numel + 15) & ~(size_t)15;
    free(m->grad_arena);
    m->grad_arena = total ? xcalloc(total, sizeof(float)) : NULL;
    m->num_grad_floats = total;
    size_t at = 0;
    for (int i = 0; i < m->num_params; i++) {
        Param *p = &m->params[i];
        p->grad = NULL;
        if (!p->trainable)
            continue;
        p->grad = m->grad_arena + at;
        at += (p->numel + 15) & ~(size_t)15;
    }
}

void model_zero_grad(Model *m)
{
    if (m->grad_arena)
        memset(m->grad_arena, 0, m->num_grad_floats * sizeof(float));
}

/* The largest SwiGLU width any MLP of this model applies to its rows:
 * K*I per token for routed experts, S for shared, F for dense. */
static size_t swiglu_floats_per_token(const ModelConfig *c)
{
    size_t per_token = (size_t)c->experts_per_token * c->expert_intermediate;
    if ((size_t)c->shared_intermediate > per_token)
        per_token = c->shared_intermediate;
    if ((size_t)c->dense_intermediate > per_token)
        per_token = c->dense_intermediate;
    return per_token;
}

static void layout_activations(Model *m, Arena *arena, int B, int T)
{
    const ModelConfig *c = &m->config;
    size_t N = (size_t)B * T, C = c->hidden_size, V = c->vocab_size;
    size_t H = c->num_heads, KV = c->num_kv_heads, D = c->head_dim;
    size_t E = c->num_experts, K = c->experts_per_token, I = c->expert_intermediate;
    size_t S = c->shared_intermediate, F = c->dense_intermediate;
    Activations *a = &m->acts;
    for (int l = 0; l < c->num_layers; l++) {
        LayerActs *la = &a->layer[l];
        memset(la, 0, sizeof *la);
        la->input = take_floats(arena, N * C);
        la->attn_norm_out = take_floats(arena, N * C);
        la->attn_rstd = take_floats(arena, N);
        if (c->qk_norm != QK_NORM_NONE) {
            la->q_raw = take_floats(arena, N * H * D);
            la->k_raw = take_floats(arena, N * KV * D);
            la->q_norm_rstd = take_floats(arena, N * H);
            la->k_norm_rstd = take_floats(arena, N * KV);
        }
        la->q = take_floats(arena, N * H * D);
        la->k = take_floats(arena, N * KV * D);
        la->v = take_floats(arena, N * KV * D);
        la->att_probs = take_floats(arena, (size_t)B * H * T * T);
        la->att_out = take_floats(arena, N * H * D);
        la->mid = take_floats(arena, N * C);
        la->mlp_norm_out = take_floats(arena, N * C);
        la->mlp_rstd = take_floats(arena, N);
        if (c->layer_is_moe[l]) {
            la->router_probs = take_floats(arena, N * E);
            la->topk_index = take_ints(arena, N * K);
            la->topk_gate = take_floats(arena, N * K);
            la->expert_offset = take_ints(arena, E + 1);
            la->slot_order = take_ints(arena, N * K);
            la->slot_position = take_ints(arena, N * K);
            la->slot_gate_up = take_floats(arena, N * K * 2 * I);
            la->slot_out = take_floats(arena, N * K * C);
            if (S > 0) {
                la->shared_gate_up = take_floats(arena, N * 2 * S);
                la->shared_out = take_floats(arena, N * C);
                la->shared_gate = take_floats(arena, N);
            }
        } else {
            la->dense_gate_up = take_floats(arena, N * 2 * F);
        }
    }
    a->output = take_floats(arena, N * C);
    a->final_norm_out = take_floats(arena, N * C);
    a->final_rstd = take_floats(arena, N);
    a->logits = take_floats(arena, N * V);
    a->logsumexp = take_floats(arena, N);
    a->token_nll = take_floats(arena, N);
    a->ids = take_ints(arena, N);
    a->targets = take_ints(arena, N);
    a->rope_cos = take_floats(arena, (size_t)T * (D / 2));
    a->rope_sin = take_floats(arena, (size_t)T * (D / 2));
    a->block_out = take_floats(arena, N * C);
    a->gather = take_floats(arena, N * K * C);
    a->hidden = take_floats(arena, N * swiglu_floats_per_token(c));
}

static void layout_scratch(Model *m, Arena *arena, int B, int T)
{
    const ModelConfig *c = &m->config;
    size_t N = (size_t)B * T, C = c->hidden_size, V = c->vocab_size;
    size_t H = c->num_heads, KV = c->num_kv_heads, D = c->head_dim;
    size_t E = c->num_experts, K = c->experts_per_token;
    size_t wide = N * swiglu_floats_per_token(c);
    BackwardScratch *s = &m->scratch;
    s->d_residual = take_floats(arena, N * C);
    s->d_norm_out = take_floats(arena, N * C);
    s->d_logits = take_floats(arena, N * V);
    s->d_q = take_floats(arena, N * H * D);
    s->d_k = take_floats(arena, N * KV * D);
    s->d_v = take_floats(arena, N * KV * D);
    s->d_q_raw = take_floats(arena, N * H * D);
    s->d_k_raw = take_floats(arena, N * KV * D);
    s->d_att_probs = take_floats(arena, (size_t)B * H * T * T);
    s->d_att_out = take_floats(arena, N * H * D);
    s->d_mlp_out = take_floats(arena, N * C);
    s->d_topk_gate = take_floats(arena, N * K);
    s->d_router_logits = take_floats(arena, N * E);
    s->d_slot_out = take_floats(arena, N * K * C);
    s->d_slot_input = take_floats(arena, N * K * C);
    s->slot_input = take_floats(arena, N * K * C);
    s->d_gate_up = take_floats(arena, 2 * wide);
    s->d_hidden = take_floats(arena, wide);
    s->hidden = take_floats(arena, wide);
    s->d_shared_out = take_floats(arena, N * C);
}

typedef void (*LayoutFn)(Model *m, Arena *arena, int B, int T);

/* Measures a layout, allocates its arena zeroed, and assigns its pointers. */
static void *build_arena(Model *m, LayoutFn layout, int B, int T)
{
    Arena measure = {0};
    layout(m, &measure, B, T);
    Arena arena = {xcalloc(1, measure.used + 64), 0};
    layout(m, &arena, B, T);
    return arena.base;
}

/* (Re)builds the activation arena when the batch shape changes. */
static void ensure_activations(Model *m, int B, int T)
{
    if (m->act_arena && m->acts.B == B && m->acts.T == T)
        return;
    free(m->act_arena);
    m->act_arena = build_arena(m, layout_activations, B, T);
    m->acts.B = B;
    m->acts.T = T;
    rope_tables(m->acts.rope_cos, m->acts.rope_sin, T, m->config.head_dim, m->config.rope_theta);
}

/* The backward scratch exists only once a backward runs, so inference never
 * pays for it; it follows the shape of the latest forward. */
static void ensure_scratch(Model *m)
{
    int B = m->acts.B, T = m->acts.T;
    if (m->scratch_arena && m->scratch.B == B && m->scratch.T == T)
        return;
    free(m->scratch_arena);
    m->scratch_arena = build_arena(m, layout_scratch, B, T);
    m->scratch.B = B;
    m->scratch.T = T;
}

float model_forward(Model *m, const int *ids, const int *targets, int B, int T)
{
    const ModelConfig *c = &m->config;
    ensure_activations(m, B, T);
    Activations *a = &m->acts;
    int N = B * T, L = c->num_layers;
    float *first = L > 0 ? a->layer[0].input : a->output;
    embedding_forward(first, ids, m->embed, N, c->hidden_size);
    return model_forward_from_layer(m, 0, first, ids, targets, B, T);
}

float model_forward_from_layer(Model *m, int first_layer, const float *layer_input,
                               const int *ids, const int *targets, int B, int T)
{
    const ModelConfig *c = &m->config;
    ensure_activations(m, B, T);
    Activations *a = &m->acts;
    int N = B * T, L = c->num_layers;
    memcpy(a->ids, ids, (size_t)N * sizeof(int));
    for (int n = 0; n < N; n++)
        a->targets[n] = targets ? targets[n] : -1;
    float *start = first_layer < L ? a->layer[first_layer].input : a->output;
    if (start != layer_input)
        memcpy(start, layer_input, (size_t)N * c->hidden_size * sizeof(float));

    for (int l = first_layer; l < L; l++) {
        float *out = l + 1 < L ? a->layer[l + 1].input : a->output;
        attention_block_forward(m, l);
        ffn_block_forward(m, l, out);
    }
    rmsnorm_forward(a->final_norm_out, a->final_rstd, a->output, m->final_norm, N,
                    c->hidden_size, c->rms_norm_eps);
    matmul_forward(a->logits, a->final_norm_out, m->lm_head, NULL, N, c->hidden_size,
                   c->vocab_size);
    cross_entropy_forward(a->token_nll, a->logsumexp, a->logits, a->targets, N, c->vocab_size);

    double total = 0.0;
    int counted = 0;
    for (int n = 0; n < N; n++) {
        if (a->targets[n] >= 0) {
            total += a->token_nll[n];
            counted++;
        }
    }
    return counted ? (float)(total / counted) : 0.0f;
}

void model_mean_nll_weights(const Model *m, float *d_token_nll)
{
    int N = m->acts.B * m->acts.T, counted = 0;
    for (int n = 0; n < N; n++)
        counted += m->acts.targets[n] >= 0;
    for (int n = 0; n < N; n++)
        d_token_nll[n] = m->acts.targets[n] >= 0 ? 1.0f / (float)counted : 0.0f;
}

static bool layer_has_trainable(const Model *m, int layer)
{
    for (int k = 0; k < PARAM_KIND_COUNT; k++) {
        const Param *p = model_param(m, layer, (ParamKind)k);
        if (p && p->trainable)
            return true;
    }
    return false;
}

int model_lowest_trainable_layer(const Model *m)
{
    const Param *embed = model_param(m, -1, PARAM_EMBED);
    if (embed->trainable)
        return -1;
    for (int l = 0; l < m->config.num_layers; l++)
        if (layer_has_trainable(m, l))
            return l;
    return m->config.num_layers;
}

void model_backward(Model *m, const LossGradient *loss)
{
    const ModelConfig *c = &m->config;
    Activations *a = &m->acts;
    BackwardScratch *s = &m->scratch;
    int N = a->B * a->T, C = c->hidden_size, V = c->vocab_size, L = c->num_layers;
    ensure_scratch(m);
    int lowest = model_lowest_trainable_layer(m);
    bool tied = c->tie_word_embeddings;
    float *d_embed = model_grad(m, -1, PARAM_EMBED);
    float *d_head = tied ? d_embed : model_grad(m, -1, PARAM_LM_HEAD);
    bool need_d_output = lowest < L;

    memset(s->d_residual, 0, (size_t)N * C * sizeof(float));
    if (loss->d_token_nll) {
        cross_entropy_backward(s->d_logits, loss->d_token_nll, a->logits, a->logsumexp,
                               a->targets, N, V);
        memset(s->d_norm_out, 0, (size_t)N * C * sizeof(float));
        bool need_d_norm_out = need_d_output || model_grad(m, -1, PARAM_FINAL_NORM);
        matmul_backward(need_d_norm_out ? s->d_norm_out : NULL, d_head, NULL, s->d_logits,
                        a->final_norm_out, m->lm_head, N, C, V);
        rmsnorm_backward(need_d_output ? s->d_residual : NULL, model_grad(m, -1, PARAM_FINAL_NORM),
                         s->d_norm_out, a->output, m->final_norm, a->final_rstd, N, C);
    }
    /* without a token loss, nothing above the highest layer a loss term reads has a gradient */
    int top = L - 1;
    if (!loss->d_token_nll) {
        top = loss->d_router_probs ? loss->router_layer : -1;
        if (loss->d_hidden && loss->hidden_layer > top)
            top = loss->hidden_layer;
    }
    for (int l = top; l >= 0 && l >= lowest; l--) {
        if (loss->d_hidden && loss->hidden_layer == l) {
            for (size_t i = 0; i < (size_t)N * C; i++)
                s->d_residual[i] += loss->d_hidden[i];
        }
        bool need_d_input = l > lowest;
        bool need_d_mid = need_d_input || attention_block_has_trainable(m, l);
        ffn_block_backward(m, l, loss, need_d_mid);
        if (need_d_mid)
            attention_block_backward(m, l, need_d_input);
    }
    if (d_embed)
        embedding_backward(d_embed, s->d_residual, a->ids, N, C);
}
