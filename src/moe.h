/* The feed-forward half of a decoder layer:
 *   out = mid + ffn(rmsnorm(mid))
 * where ffn is a dense SwiGLU MLP, or a routed MoE (router softmax, top-k,
 * experts run as gather, GEMM and scatter) plus an optional shared expert. */
#ifndef UOE_MOE_H
#define UOE_MOE_H

#include <stdbool.h>

#include "model.h"

/* Reads acts.layer[l].mid, writes out (N, C) and the block's activations;
 * accumulates routing taps when model->taps.enabled. */
void ffn_block_forward(Model *model, int layer, float *out);
/* On entry scratch.d_residual holds dLoss/d out. Accumulates trainable
 * gradients (the router's includes loss->d_router_probs at its layer), and
 * when need_d_mid turns d_residual into dLoss/d mid. */
void ffn_block_backward(Model *model, int layer, const LossGradient *loss, bool need_d_mid);

#endif
