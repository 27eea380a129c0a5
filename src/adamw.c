#include "adamw.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

AdamWConfig adamw_default_config(void)
{
    return (AdamWConfig){.learning_rate = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                         .weight_decay = 0.01f, .max_grad_norm = 0.0f};
}

void adamw_init(AdamW *opt, const Model *model, AdamWConfig config)
{
    memset(opt, 0, sizeof *opt);
    opt->config = config;
    opt->size = model->num_grad_floats;
    opt->first_moment = xcalloc(opt->size, sizeof(float));
    opt->second_moment = xcalloc(opt->size, sizeof(float));
}

void adamw_free(AdamW *opt)
{
    free(opt->first_moment);
    free(opt->second_moment);
    memset(opt, 0, sizeof *opt);
}

/* Calls visit(ctx, param, begin, end) for each run of trainable elements. */
static void for_each_trainable_run(const Param *p,
                                   void (*visit)(void *ctx, const Param *p, size_t begin, size_t end),
                                   void *ctx)
{
    if (!p->expert_trainable) {
        visit(ctx, p, 0, p->numel);
        return;
    }
    size_t per_expert = p->numel / (size_t)p->shape[0];
    for (int e = 0; e < p->shape[0]; e++)
        if (p->expert_trainable[e])
            visit(ctx, p, (size_t)e * per_expert, (size_t)(e + 1) * per_expert);
}

static void add_squares(void *ctx, const Param *p, size_t begin, size_t end)
{
    double *sum = ctx;
    for (size_t i = begin; i < end; i++)
        *sum += (double)p->grad[i] * p->grad[i];
}

double model_grad_norm(const Model *model)
{
    double sum = 0.0;
    for (int i = 0; i < model->num_params; i++)
        if (model->params[i].trainable)
            for_each_trainable_run(&model->params[i], add_squares, &sum);
    return sqrt(sum);
}

typedef struct {
    AdamW *opt;
    const Model *model;
    float grad_scale;        /* clipping factor */
    float step_size;         /* lr / (1 - beta1^t) */
    float second_correction; /* 1 / sqrt(1 - beta2^t) */
} UpdateContext;

static void update_run(void *ctx, const Param *p, size_t begin, size_t end)
{
    UpdateContext *u = ctx;
    const AdamWConfig *c = &u->opt->config;
    size_t offset = (size_t)(p->grad - u->model->grad_arena);
    float *m = u->opt->first_moment + offset, *v = u->opt->second_moment + offset;
    float decay = 1.0f - c->learning_rate * c->weight_decay;
    for (size_t i = begin; i < end; i++) {
        float g = p->grad[i] * u->grad_scale;
        m[i] = c->beta1 * m[i] + (1.0f - c->beta1) * g;
        v[i] = c->beta2 * v[i] + (1.0f - c->beta2) * g * g;
        float denom = sqrtf(v[i]) * u->second_correction + c->eps;
        p->value[i] = p->value[i] * decay - u->step_size * m[i] / denom;
    }
}

double adamw_step(AdamW *opt, Model *model)
{
    double norm = model_grad_norm(model);
    adamw_update(opt, model, norm);
    return norm;
}

void adamw_update(AdamW *opt, Model *model, double norm)
{
    CHECK(opt->size == model->num_grad_floats);
    const AdamWConfig *c = &opt->config;
    UpdateContext u = {.opt = opt, .model = model, .grad_scale = 1.0f};
    if (c->max_grad_norm > 0.0f && norm > c->max_grad_norm)
        u.grad_scale = (float)(c->max_grad_norm / (norm + 1e-6));
    opt->step++;
    u.step_size = c->learning_rate / (1.0f - powf(c->beta1, (float)opt->step));
    u.second_correction = 1.0f / sqrtf(1.0f - powf(c->beta2, (float)opt->step));
    for (int i = 0; i < model->num_params; i++)
        if (model->params[i].trainable)
            for_each_trainable_run(&model->params[i], update_run, &u);
}
