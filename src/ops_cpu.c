/* CPU reference backend: OpenBLAS for the matrix products, OpenMP loops for
 * the rest. Shapes follow the legend in model.h. */
#include "ops.h"

#include <cblas.h>
/* openblas_config.h pulls in <complex.h>, whose macro I would shadow the
 * dimension names used below */
#undef I
#include <math.h>
#include <string.h>

void matmul_forward(float *out, const float *inp, const float *weight, const float *bias,
                    int N, int I, int O)
{
    if (N == 0)
        return;
    if (bias) {
        #pragma omp parallel for
        for (int n = 0; n < N; n++)
            memcpy(out + (size_t)n * O, bias, (size_t)O * sizeof(float));
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, O, I, 1.0f, inp, I, weight, I,
                bias ? 1.0f : 0.0f, out, O);
}

void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight, int N, int I, int O)
{
    if (N == 0)
        return;
    if (dinp)   /* (N, I) += (N, O) . (O, I) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, I, O, 1.0f, dout, O,
                    weight, I, 1.0f, dinp, I);
    if (dweight) /* (O, I) += (N, O)^T . (N, I) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, I, N, 1.0f, dout, O, inp, I,
                    1.0f, dweight, I);
    if (dbias) {
        for (int n = 0; n < N; n++)
            for (int o = 0; o < O; o++)
                dbias[o] += dout[(size_t)n * O + o];
    }
}

void embedding_forward(float *out, const int *ids, const float *table, int N, int C)
{
    #pragma omp parallel for
    for (int n = 0; n < N; n++)
        memcpy(out + (size_t)n * C, table + (size_t)ids[n] * C, (size_t)C * sizeof(float));
}

void embedding_backward(float *dtable, const float *dout, const int *ids, int N, int C)
{
    for (int n = 0; n < N; n++) {
        float *row = dtable + (size_t)ids[n] * C;
        const float *g = dout + (size_t)n * C;
        for (int c = 0; c < C; c++)
            row[c] += g[c];
    }
}

void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight,
                     int N, int C, float eps)
{
    #pragma omp parallel for
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *y = out + (size_t)n * C;
        double sum_sq = 0.0;
        for (int c = 0; c < C; c++)
            sum_sq += (double)x[c] * x[c];
        float s = 1.0f / sqrtf((float)(sum_sq / C) + eps);
        for (int c = 0; c < C; c++)
            y[c] = x[c] * s * weight[c];
        rstd[n] = s;
    }
}

void rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                      const float *weight, const float *rstd, int N, int C)
{
    if (dinp) {
        /* y_c = w_c x_c s, s = (mean x^2 + eps)^-1/2:
         * dx_c = s (w_c dy_c) - s^3 x_c mean_j(w_j dy_j x_j) */
        #pragma omp parallel for
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C;
            const float *dy = dout + (size_t)n * C;
            float *dx = dinp + (size_t)n * C;
            float s = rstd[n];
            double dot = 0.0;
            for (int c = 0; c < C; c++)
                dot += (double)weight[c] * dy[c] * x[c];
            float coeff = (float)(dot / C) * s * s * s;
            for (int c = 0; c < C; c++)
                dx[c] += s * weight[c] * dy[c] - coeff * x[c];
        }
    }
    if (dweight) {
        for (int n = 0; n < N; n++) {
            const float *x = inp + (size_t)n * C;
            const float *dy = dout + (size_t)n * C;
            for (int c = 0; c < C; c++)
                dweight[c] += dy[c] * x[c] * rstd[n];
        }
    }
}

void rope_tables(float *cos_table, float *sin_table, int T, int D, float theta)
{
    int half = D / 2;
    for (int j = 0; j < half; j++) {
        /* as HF: inv_freq = 1 / theta^(2j/D), computed in float32 */
        float inv_freq = 1.0f / powf(theta, (float)(2 * j) / (float)D);
        for (int t = 0; t < T; t++) {
            float angle = (float)t * inv_freq;
            cos_table[t * half + j] = cosf(angle);
            sin_table[t * half + j] = sinf(angle);
        }
    }
}

/* direction +1 rotates by the position angle, -1 by its negative. */
static void rope_rotate(float *x, const float *cos_table, const float *sin_table,
                        int B, int T, int heads, int D, float direction)
{
    int half = D / 2;
    #pragma omp parallel for collapse(2)
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            const float *cs = cos_table + (size_t)t * half;
            const float *sn = sin_table + (size_t)t * half;
            for (int h = 0; h < heads; h++) {
                float *v = x + (((size_t)b * T + t) * heads + h) * D;
                for (int j = 0; j < half; j++) {
                    float a = v[j], b2 = v[j + half];
                    float s = direction * sn[j];
                    v[j] = a * cs[j] - b2 * s;
                    v[j + half] = b2 * cs[j] + a * s;
                }
            }
        }
    }
}

void rope_forward(float *x, const float *cos_table, const float *sin_table,
                  int B, int T, int heads, int D)
{
    rope_rotate(x, cos_table, sin_table, B, T, heads, D, 1.0f);
}

void rope_backward(float *dx, const float *cos_table, const float *sin_table,
                   int B, int T, int heads, int D)
{
    /* a rotation's transpose is the rotation by the opposite angle */
    rope_rotate(dx, cos_table, sin_table, B, T, heads, D, -1.0f);
}

/* Attention runs per (batch, head) on sgemm, as PyTorch eager does: the full
 * T x T score matrix is computed and its upper triangle masked, which wastes
 * half of a GEMM but beats scalar loops by far. The heads' slices are strided
 * views into q (ld H*D) and k, v (ld KV*D). Called inside an OpenMP region,
 * OpenBLAS's OpenMP build runs each sgemm on the calling thread. */
void attention_forward(float *out, float *probs, const float *q, const float *k,
                       const float *v, int B, int T, int H, int KV, int D)
{
    int group = H / KV, q_ld = H * D, kv_ld = KV * D;
    float scale = 1.0f / sqrtf((float)D);
    #pragma omp parallel for collapse(2)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < H; h++) {
            const float *qh = q + (size_t)b * T * q_ld + (size_t)h * D;
            size_t kv_at = (size_t)b * T * kv_ld + (size_t)(h / group) * D;
            float *p = probs + ((size_t)b * H + h) * T * T;
            /* p (T, T) = scale * q_h (T, D) . k_h (T, D)^T */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, scale, qh, q_ld,
                        k + kv_at, kv_ld, 0.0f, p, T);
            for (int t = 0; t < T; t++) {
                float *row = p + (size_t)t * T;
                float max_score = -INFINITY, sum = 0.0f;
                for (int s = 0; s <= t; s++)
                    max_score = fmaxf(max_score, row[s]);
                for (int s = 0; s <= t; s++) {
                    row[s] = expf(row[s] - max_score);
                    sum += row[s];
                }
                float inverse = 1.0f / sum;
                for (int s = 0; s <= t; s++)
                    row[s] *= inverse;
                for (int s = t + 1; s < T; s++)
                    row[s] = 0.0f;
            }
            /* out_h (T, D) = p (T, T) . v_h (T, D) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, 1.0f, p, T,
                        v + kv_at, kv_ld, 0.0f, out + (size_t)b * T * q_ld + (size_t)h * D, q_ld);
        }
    }
}

void attention_backward(float *dq, float *dk, float *dv, float *dprobs, const float *dout,
                        const float *q, const float *k, const float *v, const float *probs,
                        int B, int T, int H, int KV, int D)
{
    int group = H / KV, q_ld = H * D, kv_ld = KV * D;
    float scale = 1.0f / sqrtf((float)D);
    /* One task per (b, kv head): the query heads of a group share dk and dv. */
    #pragma omp parallel for collapse(2)
    for (int b = 0; b < B; b++) {
        for (int kvh = 0; kvh < KV; kvh++) {
            size_t kv_at = (size_t)b * T * kv_ld + (size_t)kvh * D;
            for (int h = kvh * group; h < (kvh + 1) * group; h++) {
                size_t q_at = (size_t)b * T * q_ld + (size_t)h * D;
                const float *p = probs + ((size_t)b * H + h) * T * T;
                float *dp = dprobs + ((size_t)b * H + h) * T * T;
                /* dp (T, T) = dout_h (T, D) . v_h (T, D)^T */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, 1.0f, dout + q_at,
                            q_ld, v + kv_at, kv_ld, 0.0f, dp, T);
                /* dv_h (T, D) += p^T (T, T) . dout_h (T, D) */
                if (dv)
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, 1.0f, p, T,
                                dout + q_at, q_ld, 1.0f, dv + kv_at, kv_ld);
                /* softmax backward, scaled: dscore = scale * p * (dp - sum_s p dp) */
                for (int t = 0; t < T; t++) {
                    const float *prow = p + (size_t)t * T;
                    float *drow = dp + (size_t)t * T;
                    float weighted = 0.0f;
                    for (int s = 0; s <= t; s++)
                        weighted += prow[s] * drow[s];
                    for (int s = 0; s <= t; s++)
                        drow[s] = scale * prow[s] * (drow[s] - weighted);
                    for (int s = t + 1; s < T; s++)
                        drow[s] = 0.0f;
                }
                /* dq_h (T, D) += dscore (T, T) . k_h (T, D) */
                if (dq)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, 1.0f, dp, T,
                                k + kv_at, kv_ld, 1.0f, dq + q_at, q_ld);
                /* dk_h (T, D) += dscore^T (T, T) . q_h (T, D) */
                if (dk)
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, 1.0f, dp, T,
                                q + q_at, q_ld, 1.0f, dk + kv_at, kv_ld);
            }
        }
    }
}

static inline float sigmoidf(float x) { return 1.0f / (1.0f + expf(-x)); }

void swiglu_forward(float *hidden, const float *gate_up, int N, int W)
{
    #pragma omp parallel for
    for (int n = 0; n < N; n++) {
        const float *g = gate_up + (size_t)n * 2 * W;
        const float *u = g + W;
        float *h = hidden + (size_t)n * W;
        for (int i = 0; i < W; i++)
            h[i] = g[i] * sigmoidf(g[i]) * u[i];
    }
}

void swiglu_backward(float *dgate_up, const float *dhidden, const float *gate_up, int N, int W)
{
    #pragma omp parallel for
    for (int n = 0; n < N; n++) {
        const float *g = gate_up + (size_t)n * 2 * W;
        const float *u = g + W;
        const float *dh = dhidden + (size_t)n * W;
        float *dg = dgate_up + (size_t)n * 2 * W;
        float *du = dg + W;
        for (int i = 0; i < W; i++) {
            float sig = sigmoidf(g[i]);
            float silu = g[i] * sig;
            du[i] = dh[i] * silu;
            dg[i] = dh[i] * u[i] * sig * (1.0f + g[i] * (1.0f - sig));
        }
    }
}

void router_forward(float *probs, int *topk_index, float *topk_gate, const float *logits,
                    int N, int E, int K, bool norm_topk)
{
    #pragma omp parallel for
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * E;
        float *p = probs + (size_t)n * E;
        float max_logit = z[0];
        for (int e = 1; e < E; e++)
            if (z[e] > max_logit)
                max_logit = z[e];
        float sum = 0.0f;
        for (int e = 0; e < E; e++) {
            p[e] = expf(z[e] - max_logit);
            sum += p[e];
        }
        for (int e = 0; e < E; e++)
            p[e] /= sum;
        /* partial selection: K is small */
        int *idx = topk_index + (size_t)n * K;
        float *gate = topk_gate + (size_t)n * K;
        float gate_sum = 0.0f;
        for (int k = 0; k < K; k++) {
            int best = -1;
            for (int e = 0; e < E; e++) {
                bool taken = false;
                for (int j = 0; j < k; j++)
                    taken |= idx[j] == e;
                if (!taken && (best < 0 || p[e] > p[best]))
                    best = e;
            }
            idx[k] = best;
            gate[k] = p[best];
            gate_sum += p[best];
        }
        if (norm_topk)
            for (int k = 0; k < K; k++)
                gate[k] /= gate_sum;
    }
}

void router_backward(float *dlogits, const float *dtopk_gate, const float *dprobs,
                     const float *probs, const int *topk_index, int N, int E, int K,
                     bool norm_topk)
{
    #pragma omp parallel for
    for (int n = 0; n < N; n++) {
        const float *p = probs + (size_t)n * E;
        const int *idx = topk_index + (size_t)n * K;
        const float *dgate = dtopk_gate + (size_t)n * K;
        float *dz = dlogits + (size_t)n * E;
        /* dp (E) collected in dz first: direct gradient plus the top-k gates'. */
        for (int e = 0; e < E; e++)
            dz[e] = dprobs ? dprobs[(size_t)n * E + e] : 0.0f;
        if (norm_topk) {
            /* gate_k = p_k / S with S = sum of the top-k p:
             * dp_j = (dgate_j - sum_k dgate_k gate_k) / S */
            float S = 0.0f, weighted = 0.0f;
            for (int k = 0; k < K; k++)
                S += p[idx[k]];
            for (int k = 0; k < K; k++)
                weighted += dgate[k] * p[idx[k]] / S;
            for (int k = 0; k < K; k++)
                dz[idx[k]] += (dgate[k] - weighted) / S;
        } else {
            for (int k = 0; k < K; k++)
                dz[idx[k]] += dgate[k];
        }
        /* softmax backward: dz_e = p_e (dp_e - sum_j p_j dp_j) */
        float dot = 0.0f;
        for (int e = 0; e < E; e++)
            dot += p[e] * dz[e];
        for (int e = 0; e < E; e++)
            dz[e] = p[e] * (dz[e] - dot);
    }
}

void cross_entropy_forward(float *token_nll, float *logsumexp, const float *logits,
                           const int *targets, int N, int V)
{
    #pragma omp parallel for
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * V;
        float max_logit = z[0];
        for (int v = 1; v < V; v++)
            if (z[v] > max_logit)
                max_logit = z[v];
        double sum = 0.0;
        for (int v = 0; v < V; v++)
            sum += exp((double)(z[v] - max_logit));
        float lse = max_logit + (float)log(sum);
        logsumexp[n] = lse;
        token_nll[n] = targets[n] >= 0 ? lse - z[targets[n]] : 0.0f;
    }
}

void cross_entropy_backward(float *dlogits, const float *d_token_nll, const float *logits,
                            const float *logsumexp, const int *targets, int N, int V)
{
    #pragma omp parallel for
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * V;
        float *dz = dlogits + (size_t)n * V;
        float g = targets[n] >= 0 ? d_token_nll[n] : 0.0f;
        if (g == 0.0f) {
            memset(dz, 0, (size_t)V * sizeof(float));
            continue;
        }
        for (int v = 0; v < V; v++)
            dz[v] = g * expf(z[v] - logsumexp[n]);
        dz[targets[n]] -= g;
    }
}
