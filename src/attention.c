#include "attention.h"

#include <string.h>

#include "ops.h"

/* Rows and width over which a q/k norm runs, for `heads` heads of D dims. */
static void qk_norm_rows(const ModelConfig *c, int N, int heads, int *rows, int *width)
{
    if (c->qk_norm == QK_NORM_PER_HEAD) {
        *rows = N * heads;
        *width = c->head_dim;
    } else {
        *rows = N;
        *width = heads * c->head_dim;
    }
}

void attention_block_forward(Model *m, int l)
{
    const ModelConfig *c = &m->config;
    const LayerParams *w = &m->layer[l];
    Activations *a = &m->acts;
    LayerActs *la = &a->layer[l];
    int B = a->B, T = a->T, N = B * T, C = c->hidden_size;
    int H = c->num_heads, KV = c->num_kv_heads, D = c->head_dim;

    rmsnorm_forward(la->attn_norm_out, la->attn_rstd, la->input, w->attn_norm, N, C,
                    c->rms_norm_eps);
    bool normed = c->qk_norm != QK_NORM_NONE;
    matmul_forward(normed ? la->q_raw : la->q, la->attn_norm_out, w->wq, w->bq, N, C, H * D);
    matmul_forward(normed ? la->k_raw : la->k, la->attn_norm_out, w->wk, w->bk, N, C, KV * D);
    matmul_forward(la->v, la->attn_norm_out, w->wv, w->bv, N, C, KV * D);
    if (normed) {
        int rows, width;
        qk_norm_rows(c, N, H, &rows, &width);
        rmsnorm_forward(la->q, la->q_norm_rstd, la->q_raw, w->q_norm, rows, width, c->rms_norm_eps);
        qk_norm_rows(c, N, KV, &rows, &width);
        rmsnorm_forward(la->k, la->k_norm_rstd, la->k_raw, w->k_norm, rows, width, c->rms_norm_eps);
    }
    rope_forward(la->q, a->rope_cos, a->rope_sin, B, T, H, D);
    rope_forward(la->k, a->rope_cos, a->rope_sin, B, T, KV, D);
    attention_forward(la->att_out, la->att_probs, la->q, la->k, la->v, B, T, H, KV, D);
    matmul_forward(a->block_out, la->att_out, w->wo, NULL, N, H * D, C);
    for (size_t i = 0; i < (size_t)N * C; i++)
        la->mid[i] = la->input[i] + a->block_out[i];
}

/* The block's tensors in compute order; the output projection comes last. */
static const ParamKind attention_kinds[] = {
    PARAM_ATTN_NORM, PARAM_WQ, PARAM_BQ, PARAM_WK, PARAM_BK, PARAM_WV, PARAM_BV,
    PARAM_Q_NORM, PARAM_K_NORM, PARAM_WO,
};
#define NUM_ATTENTION_KINDS ((int)(sizeof attention_kinds / sizeof attention_kinds[0]))

static bool any_trainable(const Model *m, int l, int count)
{
    for (int i = 0; i < count; i++)
        if (model_grad(m, l, attention_kinds[i]))
            return true;
    return false;
}

bool attention_block_has_trainable(const Model *m, int l)
{
    return any_trainable(m, l, NUM_ATTENTION_KINDS);
}

void attention_block_backward(Model *m, int l, bool need_d_input)
{
    if (!need_d_input && !attention_block_has_trainable(m, l))
        return;
    const ModelConfig *c = &m->config;
    const LayerParams *w = &m->layer[l];
    Activations *a = &m->acts;
    LayerActs *la = &a->layer[l];
    BackwardScratch *s = &m->scratch;
    int B = a->B, T = a->T, N = B * T, C = c->hidden_size;
    int H = c->num_heads, KV = c->num_kv_heads, D = c->head_dim;
    size_t q_floats = (size_t)N * H * D, kv_floats = (size_t)N * KV * D;

    /* d_residual is dLoss/d mid, which is also dLoss/d (wo . att_out). The
     * steps under wo run only when something under wo needs them. */
    bool need_d_att_out = need_d_input || any_trainable(m, l, NUM_ATTENTION_KINDS - 1);
    memset(s->d_att_out, 0, q_floats * sizeof(float));
    matmul_backward(need_d_att_out ? s->d_att_out : NULL, model_grad(m, l, PARAM_WO), NULL,
                    s->d_residual, la->att_out, w->wo, N, H * D, C);
    if (!need_d_att_out)
        return;

    memset(s->d_q, 0, q_floats * sizeof(float));
    memset(s->d_k, 0, kv_floats * sizeof(float));
    memset(s->d_v, 0, kv_floats * sizeof(float));
    attention_backward(s->d_q, s->d_k, s->d_v, s->d_att_probs, s->d_att_out, la->q, la->k,
                       la->v, la->att_probs, B, T, H, KV, D);
    rope_backward(s->d_q, a->rope_cos, a->rope_sin, B, T, H, D);
    rope_backward(s->d_k, a->rope_cos, a->rope_sin, B, T, KV, D);

    float *d_q_proj = s->d_q, *d_k_proj = s->d_k;
    if (c->qk_norm != QK_NORM_NONE) {
        int rows, width;
        memset(s->d_q_raw, 0, q_floats * sizeof(float));
        memset(s->d_k_raw, 0, kv_floats * sizeof(float));
        qk_norm_rows(c, N, H, &rows, &width);
        rmsnorm_backward(s->d_q_raw, model_grad(m, l, PARAM_Q_NORM), s->d_q, la->q_raw,
                         w->q_norm, la->q_norm_rstd, rows, width);
        qk_norm_rows(c, N, KV, &rows, &width);
        rmsnorm_backward(s->d_k_raw, model_grad(m, l, PARAM_K_NORM), s->d_k, la->k_raw,
                         w->k_norm, la->k_norm_rstd, rows, width);
        d_q_proj = s->d_q_raw;
        d_k_proj = s->d_k_raw;
    }

    bool need_d_norm_out = need_d_input || model_grad(m, l, PARAM_ATTN_NORM);
    float *d_norm_out = need_d_norm_out ? s->d_norm_out : NULL;
    if (d_norm_out)
        memset(d_norm_out, 0, (size_t)N * C * sizeof(float));
    matmul_backward(d_norm_out, model_grad(m, l, PARAM_WQ), model_grad(m, l, PARAM_BQ),
                    d_q_proj, la->attn_norm_out, w->wq, N, C, H * D);
    matmul_backward(d_norm_out, model_grad(m, l, PARAM_WK), model_grad(m, l, PARAM_BK),
                    d_k_proj, la->attn_norm_out, w->wk, N, C, KV * D);
    matmul_backward(d_norm_out, model_grad(m, l, PARAM_WV), model_grad(m, l, PARAM_BV),
                    s->d_v, la->attn_norm_out, w->wv, N, C, KV * D);
    if (need_d_norm_out)
        rmsnorm_backward(need_d_input ? s->d_residual : NULL, model_grad(m, l, PARAM_ATTN_NORM),
                         s->d_norm_out, la->input, w->attn_norm, la->attn_rstd, N, C);
}
