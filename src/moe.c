#include "moe.h"

#include <math.h>
#include <string.h>

#include "ops.h"

/* y (rows, C) = w_down . swiglu(w_gate_up . x), with x (rows, C),
 * w_gate_up (2W, C), w_down (C, W); gate_up (rows, 2W) is kept for backward
 * and hidden (rows, W) is a temp. */
static void swiglu_mlp_forward(float *y, float *gate_up, float *hidden, const float *x,
                               const float *w_gate_up, const float *w_down, int rows, int C, int W)
{
    matmul_forward(gate_up, x, w_gate_up, NULL, rows, C, 2 * W);
    swiglu_forward(hidden, gate_up, rows, W);
    matmul_forward(y, hidden, w_down, NULL, rows, W, C);
}

/* Accumulates dx (rows, C), dw_gate_up (2W, C) and dw_down (C, W), each
 * optional, from dy (rows, C). The SwiGLU output is recomputed, not stored. */
static void swiglu_mlp_backward(float *dx, float *dw_gate_up, float *dw_down, const float *dy,
                                const float *x, const float *gate_up, const float *w_gate_up,
                                const float *w_down, BackwardScratch *s, int rows, int C, int W)
{
    bool need_d_hidden = dx || dw_gate_up;
    if (!need_d_hidden && !dw_down)
        return;
    swiglu_forward(s->hidden, gate_up, rows, W);
    if (need_d_hidden)
        memset(s->d_hidden, 0, (size_t)rows * W * sizeof(float));
    matmul_backward(need_d_hidden ? s->d_hidden : NULL, dw_down, NULL, dy, s->hidden, w_down,
                    rows, W, C);
    if (!need_d_hidden)
        return;
    swiglu_backward(s->d_gate_up, s->d_hidden, gate_up, rows, W);
    matmul_backward(dx, dw_gate_up, NULL, s->d_gate_up, x, w_gate_up, rows, C, 2 * W);
}

/* Counting sort of the N*K slots by expert, keeping token order within an
 * expert: expert_offset (E+1), slot_order and slot_position (N*K). */
static void group_slots_by_expert(LayerActs *la, int N, int E, int K)
{
    int *offset = la->expert_offset;
    memset(offset, 0, (size_t)(E + 1) * sizeof(int));
    for (int slot = 0; slot < N * K; slot++)
        offset[la->topk_index[slot] + 1]++;
    for (int e = 0; e < E; e++)
        offset[e + 1] += offset[e];
    int cursor[E];
    memcpy(cursor, offset, (size_t)E * sizeof(int));
    for (int slot = 0; slot < N * K; slot++) {
        int position = cursor[la->topk_index[slot]]++;
        la->slot_order[position] = slot;
        la->slot_position[slot] = position;
    }
}

/* dst (N*K, C) in slot order = rows of src (N, C) of each slot's token. */
static void gather_slot_inputs(float *dst, const float *src, const int *slot_order, int slots,
                               int K, int C)
{
    #pragma omp parallel for
    for (int position = 0; position < slots; position++)
        memcpy(dst + (size_t)position * C, src + (size_t)(slot_order[position] / K) * C,
               (size_t)C * sizeof(float));
}

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

static void moe_forward(Model *m, int l, float *out)
{
    const ModelConfig *c = &m->config;
    const LayerParams *w = &m->layer[l];
    Activations *a = &m->acts;
    LayerActs *la = &a->layer[l];
    int N = a->B * a->T, C = c->hidden_size;
    int E = c->num_experts, K = c->experts_per_token, I = c->expert_intermediate;
    const float *xn = la->mlp_norm_out;

    matmul_forward(la->router_probs, xn, w->router, NULL, N, C, E); /* logits, in place */
    router_forward(la->router_probs, la->topk_index, la->topk_gate, la->router_probs, N, E, K,
                   c->norm_topk_prob);
    if (m->taps.enabled)
        routing_taps_accumulate(&m->taps, l, la->topk_index, la->topk_gate, la->router_probs, N, K);

    group_slots_by_expert(la, N, E, K);
    gather_slot_inputs(a->gather, xn, la->slot_order, N * K, K, C);
    for (int e = 0; e < E; e++) {
        int begin = la->expert_offset[e], rows = la->expert_offset[e + 1] - begin;
        if (rows == 0)
            continue;
        swiglu_mlp_forward(la->slot_out + (size_t)begin * C,
                           la->slot_gate_up + (size_t)begin * 2 * I, a->hidden,
                           a->gather + (size_t)begin * C,
                           w->expert_gate_up + (size_t)e * 2 * I * C,
                           w->expert_down + (size_t)e * C * I, rows, C, I);
    }
    #pragma omp parallel for
    for (int n = 0; n < N; n++) {
        float *o = out + (size_t)n * C;
        memset(o, 0, (size_t)C * sizeof(float));
        for (int k = 0; k < K; k++) {
            const float *y = la->slot_out + (size_t)la->slot_position[n * K + k] * C;
            float gate = la->topk_gate[n * K + k];
            for (int i = 0; i < C; i++)
                o[i] += gate * y[i];
        }
    }

    int S = c->shared_intermediate;
    if (S == 0)
        return;
    swiglu_mlp_forward(la->shared_out, la->shared_gate_up, a->hidden, xn, w->shared_gate_up,
                       w->shared_down, N, C, S);
    #pragma omp parallel for
    for (int n = 0; n < N; n++) {
        const float *x = xn + (size_t)n * C;
        float gate = 1.0f;
        if (w->shared_expert_gate) {
            float z = 0.0f;
            for (int i = 0; i < C; i++)
                z += x[i] * w->shared_expert_gate[i];
            gate = sigmoidf(z);
            la->shared_gate[n] = gate;
        }
        for (int i = 0; i < C; i++)
            out[(size_t)n * C + i] += gate * la->shared_out[(size_t)n * C + i];
    }
}

void ffn_block_forward(Model *m, int l, float *out)
{
    const ModelConfig *c = &m->config;
    const LayerParams *w = &m->layer[l];
    Activations *a = &m->acts;
    LayerActs *la = &a->layer[l];
    int N = a->B * a->T, C = c->hidden_size;

    rmsnorm_forward(la->mlp_norm_out, la->mlp_rstd, la->mid, w->mlp_norm, N, C, c->rms_norm_eps);
    if (c->layer_is_moe[l])
        moe_forward(m, l, a->block_out);
    else
        swiglu_mlp_forward(a->block_out, la->dense_gate_up, a->hidden, la->mlp_norm_out,
                           w->dense_gate_up, w->dense_down, N, C, c->dense_intermediate);
    for (size_t i = 0; i < (size_t)N * C; i++)
        out[i] = la->mid[i] + a->block_out[i];
}

static void routed_experts_backward(Model *m, int l, float *d_xn)
{
    const ModelConfig *c = &m->config;
    const LayerParams *w = &m->layer[l];
    LayerActs *la = &m->acts.layer[l];
    BackwardScratch *s = &m->scratch;
    int N = m->acts.B * m->acts.T, C = c->hidden_size;
    int E = c->num_experts, K = c->experts_per_token, I = c->expert_intermediate;
    const float *dout = s->d_residual;
    const Param *gate_up = model_param(m, l, PARAM_EXPERT_GATE_UP);
    const Param *down = model_param(m, l, PARAM_EXPERT_DOWN);

    /* out_n = sum_k gate_nk y_slot: the gates' and the expert outputs' gradients */
    #pragma omp parallel for
    for (int n = 0; n < N; n++) {
        const float *g = dout + (size_t)n * C;
        for (int k = 0; k < K; k++) {
            size_t position = (size_t)la->slot_position[n * K + k];
            const float *y = la->slot_out + position * C;
            float *dy = s->d_slot_out + position * C;
            float gate = la->topk_gate[n * K + k], dot = 0.0f;
            for (int i = 0; i < C; i++) {
                dot += g[i] * y[i];
                dy[i] = gate * g[i];
            }
            s->d_topk_gate[n * K + k] = dot;
        }
    }
    if (!d_xn && !gate_up->trainable && !down->trainable)
        return;
    if (d_xn)
        memset(s->d_slot_input, 0, (size_t)N * K * C * sizeof(float));
    for (int e = 0; e < E; e++) {
        int begin = la->expert_offset[e], rows = la->expert_offset[e + 1] - begin;
        bool train_gate_up = param_expert_trainable(gate_up, e);
        bool train_down = param_expert_trainable(down, e);
        if (rows == 0 || (!d_xn && !train_gate_up && !train_down))
            continue;
        gather_slot_inputs(s->slot_input + (size_t)begin * C, la->mlp_norm_out,
                           la->slot_order + begin, rows, K, C);
        swiglu_mlp_backward(d_xn ? s->d_slot_input + (size_t)begin * C : NULL,
                            train_gate_up ? gate_up->grad + (size_t)e * 2 * I * C : NULL,
                            train_down ? down->grad + (size_t)e * C * I : NULL,
                            s->d_slot_out + (size_t)begin * C, s->slot_input + (size_t)begin * C,
                            la->slot_gate_up + (size_t)begin * 2 * I,
                            w->expert_gate_up + (size_t)e * 2 * I * C,
                            w->expert_down + (size_t)e * C * I, s, rows, C, I);
    }
    if (!d_xn)
        return;
    #pragma omp parallel for
    for (int n = 0; n < N; n++) {
        float *dx = d_xn + (size_t)n * C;
        for (int k = 0; k < K; k++) {
            const float *d_in = s->d_slot_input + (size_t)la->slot_position[n * K + k] * C;
            for (int i = 0; i < C; i++)
                dx[i] += d_in[i];
        }
    }
}

static void router_block_backward(Model *m, int l, const LossGradient *loss, float *d_xn)
{
    const ModelConfig *c = &m->config;
    LayerActs *la = &m->acts.layer[l];
    BackwardScratch *s = &m->scratch;
    int N = m->acts.B * m->acts.T, C = c->hidden_size;
    int E = c->num_experts, K = c->experts_per_token;
    float *d_router = model_grad(m, l, PARAM_ROUTER);
    if (!d_router && !d_xn)
        return;
    const float *d_probs = loss && loss->router_layer == l ? loss->d_router_probs : NULL;
    router_backward(s->d_router_logits, s->d_topk_gate, d_probs, la->router_probs,
                    la->topk_index, N, E, K, c->norm_topk_prob);
    matmul_backward(d_xn, d_router, NULL, s->d_router_logits, la->mlp_norm_out,
                    m->layer[l].router, N, C, E);
}

static void shared_expert_backward(Model *m, int l, float *d_xn)
{
    const ModelConfig *c = &m->config;
    const LayerParams *w = &m->layer[l];
    LayerActs *la = &m->acts.layer[l];
    BackwardScratch *s = &m->scratch;
    int N = m->acts.B * m->acts.T, C = c->hidden_size, S = c->shared_intermediate;
    const float *dout = s->d_residual;
    const float *d_shared_out = dout;
    float *d_gate_up = model_grad(m, l, PARAM_SHARED_GATE_UP);
    float *d_down = model_grad(m, l, PARAM_SHARED_DOWN);
    if (!d_xn && !d_gate_up && !d_down && !model_grad(m, l, PARAM_SHARED_EXPERT_GATE))
        return;
    if (w->shared_expert_gate) {
        /* out_n += sigmoid(z_n) shared_n with z_n = x_n . w_gate */
        float *d_gate_weight = model_grad(m, l, PARAM_SHARED_EXPERT_GATE);
        for (int n = 0; n < N; n++) {
            const float *g = dout + (size_t)n * C, *y = la->shared_out + (size_t)n * C;
            const float *x = la->mlp_norm_out + (size_t)n * C;
            float gate = la->shared_gate[n], dot = 0.0f;
            for (int i = 0; i < C; i++) {
                dot += g[i] * y[i];
                s->d_shared_out[(size_t)n * C + i] = gate * g[i];
            }
            float dz = dot * gate * (1.0f - gate);
            for (int i = 0; i < C; i++) {
                if (d_gate_weight)
                    d_gate_weight[i] += dz * x[i];
                if (d_xn)
                    d_xn[(size_t)n * C + i] += dz * w->shared_expert_gate[i];
            }
        }
        d_shared_out = s->d_shared_out;
    }
    swiglu_mlp_backward(d_xn, d_gate_up, d_down, d_shared_out, la->mlp_norm_out,
                        la->shared_gate_up, w->shared_gate_up, w->shared_down, s, N, C, S);
}

void ffn_block_backward(Model *m, int l, const LossGradient *loss, bool need_d_mid)
{
    const ModelConfig *c = &m->config;
    const LayerParams *w = &m->layer[l];
    LayerActs *la = &m->acts.layer[l];
    BackwardScratch *s = &m->scratch;
    int N = m->acts.B * m->acts.T, C = c->hidden_size;
    float *d_mlp_norm = model_grad(m, l, PARAM_MLP_NORM);
    float *d_xn = need_d_mid || d_mlp_norm ? s->d_norm_out : NULL;
    if (d_xn)
        memset(d_xn, 0, (size_t)N * C * sizeof(float));

    if (c->layer_is_moe[l]) {
        routed_experts_backward(m, l, d_xn);
        router_block_backward(m, l, loss, d_xn);
        if (c->shared_intermediate > 0)
            shared_expert_backward(m, l, d_xn);
    } else {
        swiglu_mlp_backward(d_xn, model_grad(m, l, PARAM_DENSE_GATE_UP),
                            model_grad(m, l, PARAM_DENSE_DOWN), s->d_residual, la->mlp_norm_out,
                            la->dense_gate_up, w->dense_gate_up, w->dense_down, s, N, C,
                            c->dense_intermediate);
    }
    if (d_xn)
        rmsnorm_backward(need_d_mid ? s->d_residual : NULL, d_mlp_norm, d_xn, la->mid,
                         w->mlp_norm, la->mlp_rstd, N, C);
}
