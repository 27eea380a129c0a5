/* The engine's operations: forward/backward pairs in the style of llm.c.
 *
 * These names are the backend interface. ops_cpu.c is the readable
 * reference; a GPU backend implements the same functions with the same
 * arguments. Backward functions ACCUMULATE (+=) into their gradient outputs,
 * any of which may be NULL (then it is not computed), except where a comment
 * says the output is written (swiglu, router, cross_entropy) or transformed
 * in place (rope). Shapes use the legend of model.h; matrices are row-major. */
#ifndef UOE_OPS_H
#define UOE_OPS_H

#include <stdbool.h>

/* out (N, O) = inp (N, I) . weight (O, I)^T + bias (O); bias may be NULL. */
void matmul_forward(float *out, const float *inp, const float *weight, const float *bias,
                    int N, int I, int O);
/* dinp (N, I), dweight (O, I), dbias (O) from dout (N, O). */
void matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                     const float *inp, const float *weight, int N, int I, int O);

/* out (N, C) = table[ids] with table (V, C). */
void embedding_forward(float *out, const int *ids, const float *table, int N, int C);
void embedding_backward(float *dtable, const float *dout, const int *ids, int N, int C);

/* out (N, C) = inp / rms(inp) * weight, rstd (N) kept for backward. */
void rmsnorm_forward(float *out, float *rstd, const float *inp, const float *weight,
                     int N, int C, float eps);
void rmsnorm_backward(float *dinp, float *dweight, const float *dout, const float *inp,
                      const float *weight, const float *rstd, int N, int C);

/* cos, sin (T, D/2) for positions 0..T-1 with inv_freq = theta^(-2j/D). */
void rope_tables(float *cos_table, float *sin_table, int T, int D, float theta);
/* Rotates x (B, T, heads, D) in place, HF rotate_half convention: dims j and
 * j + D/2 form a pair. Backward applies the inverse rotation to dx in place. */
void rope_forward(float *x, const float *cos_table, const float *sin_table,
                  int B, int T, int heads, int D);
void rope_backward(float *dx, const float *cos_table, const float *sin_table,
                   int B, int T, int heads, int D);

/* Causal attention with grouped KV heads. q (N, H*D), k and v (N, KV*D),
 * probs (B, H, T, T), out (N, H*D). Scores are scaled by 1/sqrt(D). */
void attention_forward(float *out, float *probs, const float *q, const float *k,
                       const float *v, int B, int T, int H, int KV, int D);
/* dprobs (B, H, T, T) is required scratch. */
void attention_backward(float *dq, float *dk, float *dv, float *dprobs, const float *dout,
                        const float *q, const float *k, const float *v, const float *probs,
                        int B, int T, int H, int KV, int D);

/* hidden (N, W) = silu(gate_up[:, :W]) * gate_up[:, W:], gate_up (N, 2W). */
void swiglu_forward(float *hidden, const float *gate_up, int N, int W);
/* dgate_up (N, 2W) is written, not accumulated. */
void swiglu_backward(float *dgate_up, const float *dhidden, const float *gate_up, int N, int W);

/* Router: probs (N, E) = softmax(logits) in float32; topk_index and topk_gate
 * (N, K) hold the K largest by descending probability (lower index first on
 * ties); gates are renormalised to sum 1 when norm_topk is set. probs may
 * alias logits. */
void router_forward(float *probs, int *topk_index, float *topk_gate, const float *logits,
                    int N, int E, int K, bool norm_topk);
/* dlogits (N, E) (written) from the gradient of the top-k gates (N, K),
 * which is required, and optionally a direct gradient of the full
 * probabilities (N, E), which may be NULL. */
void router_backward(float *dlogits, const float *dtopk_gate, const float *dprobs,
                     const float *probs, const int *topk_index, int N, int E, int K,
                     bool norm_topk);

/* token_nll (N) = logsumexp - logits[target]; 0 where target is -1. */
void cross_entropy_forward(float *token_nll, float *logsumexp, const float *logits,
                           const int *targets, int N, int V);
/* dlogits (N, V) (written) = d_token_nll * (softmax - onehot(target)). */
void cross_entropy_backward(float *dlogits, const float *d_token_nll, const float *logits,
                            const float *logsumexp, const int *targets, int N, int V);

#endif
