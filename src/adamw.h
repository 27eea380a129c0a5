/* AdamW over the model's trainable set (decoupled weight decay, as in
 * torch.optim.AdamW), with optional clipping of the global gradient norm.
 * Only trainable elements change: in an expert stack with a per-expert mask,
 * the frozen experts are neither decayed nor updated. */
#ifndef UOE_ADAMW_H
#define UOE_ADAMW_H

#include <stddef.h>

#include "model.h"

typedef struct {
    float learning_rate;
    float beta1, beta2;
    float eps;
    float weight_decay;
    float max_grad_norm;    /* clip the global L2 norm to this; <= 0 disables */
} AdamWConfig;

typedef struct {
    AdamWConfig config;
    int step;               /* completed updates */
    float *first_moment;    /* like model->grad_arena (num_grad_floats) */
    float *second_moment;
    size_t size;
} AdamW;

/* torch.optim.AdamW's defaults (lr 1e-3, betas 0.9/0.999, eps 1e-8, decay 0.01), no clipping. */
AdamWConfig adamw_default_config(void);
/* Zeroed moments for the model's committed trainable set. */
void adamw_init(AdamW *opt, const Model *model, AdamWConfig config);
void adamw_free(AdamW *opt);
/* Global L2 norm of the trainable gradients. */
double model_grad_norm(const Model *model);
/* One update from the accumulated gradients; returns the gradient norm before
 * clipping. The learning rate is opt->config.learning_rate at call time, so a
 * schedule may change it between steps. */
double adamw_step(AdamW *opt, Model *model);
/* The same update when the caller already has the gradient norm (to check
 * it before updating). */
void adamw_update(AdamW *opt, Model *model, double norm);

#endif
