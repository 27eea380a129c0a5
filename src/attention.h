/* The attention half of a decoder layer:
 *   mid = input + wo . attention(rope(qk_norm(W_qkv . rmsnorm(input)))) */
#ifndef UOE_ATTENTION_H
#define UOE_ATTENTION_H

#include <stdbool.h>

#include "model.h"

/* Reads acts.layer[l].input, writes the layer's attention activations and mid. */
void attention_block_forward(Model *model, int layer);
/* On entry scratch.d_residual holds dLoss/d mid; accumulates the block's
 * trainable weight gradients, and when need_d_input adds the gradient through
 * the block so that d_residual becomes dLoss/d input. */
void attention_block_backward(Model *model, int layer, bool need_d_input);
bool attention_block_has_trainable(const Model *model, int layer);

#endif
