/* AdamW: the update against an independent double-precision transcription of
 * torch.optim.AdamW, masks on expert stacks, gradient clipping, and training
 * that lowers the loss of a small model. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adamw.h"
#include "model.h"
#include "rng.h"
#include "tap.h"

static ModelConfig small_config(void)
{
    ModelConfig c = {0};
    c.family = FAMILY_QWEN2_MOE;
    c.vocab_size = 17;
    c.hidden_size = 8;
    c.num_layers = 2;
    c.num_heads = 2;
    c.num_kv_heads = 1;
    c.head_dim = 4;
    c.num_experts = 4;
    c.experts_per_token = 2;
    c.expert_intermediate = 6;
    c.shared_intermediate = 4;
    c.shared_expert_gate = true;
    c.rms_norm_eps = 1e-6f;
    c.rope_theta = 1e4f;
    c.layer_is_moe[0] = c.layer_is_moe[1] = true;
    return c;
}

/* torch.optim.AdamW.step for one element, in double. */
typedef struct { double value, m, v; } ReferenceState;

static void reference_step(ReferenceState *s, double g, const AdamWConfig *c, int t)
{
    s->value *= 1.0 - (double)c->learning_rate * c->weight_decay;
    s->m = c->beta1 * s->m + (1.0 - c->beta1) * g;
    s->v = c->beta2 * s->v + (1.0 - c->beta2) * g * g;
    double bias1 = 1.0 - pow(c->beta1, t), bias2 = 1.0 - pow(c->beta2, t);
    s->value -= c->learning_rate / bias1 * s->m / (sqrt(s->v) / sqrt(bias2) + c->eps);
}

static void check_against_reference(void)
{
    ModelConfig config = small_config();
    Model m;
    model_create(&m, &config);
    model_init_random(&m, 1, 0.3f);
    model_set_trainable(&m, "layers.1.router", -1);
    model_set_trainable(&m, "layers.1.expert_down", 2);
    model_commit_trainable(&m);
    Param *router = model_find_param(&m, "layers.1.router");
    Param *down = model_find_param(&m, "layers.1.expert_down");
    size_t per_expert = down->numel / (size_t)down->shape[0];
    float *down_before = malloc(down->numel * sizeof(float));
    memcpy(down_before, down->value, down->numel * sizeof(float));
    ReferenceState ref = {.value = router->value[5]};

    AdamWConfig cfg = adamw_default_config();
    cfg.learning_rate = 0.05f;
    cfg.weight_decay = 0.1f;
    AdamW opt;
    adamw_init(&opt, &m, cfg);
    Rng rng;
    rng_seed(&rng, 9);
    for (int t = 1; t <= 5; t++) {
        for (size_t i = 0; i < m.num_grad_floats; i++)
            m.grad_arena[i] = (float)rng_normal(&rng);
        reference_step(&ref, router->grad[5], &cfg, t);
        adamw_step(&opt, &m);
    }
    tap_ok(fabs(router->value[5] - ref.value) < 1e-6,
           "AdamW matches torch.optim.AdamW's update over 5 steps (%.9f vs %.9f)",
           router->value[5], ref.value);
    bool frozen_same = true, trained_moved = false;
    for (size_t i = 0; i < down->numel; i++) {
        bool trained = i / per_expert == 2;
        if (!trained && down->value[i] != down_before[i])
            frozen_same = false;
        if (trained && down->value[i] != down_before[i])
            trained_moved = true;
    }
    tap_ok(frozen_same && trained_moved,
           "only the trainable expert of a masked stack changes (no decay on frozen experts)");

    /* clipping: gradients of norm 100 clipped to 1 move like gradients of norm 1 */
    cfg.max_grad_norm = 1.0f;
    AdamW clipped;
    adamw_init(&clipped, &m, cfg);
    for (size_t i = 0; i < m.num_grad_floats; i++)
        m.grad_arena[i] = 0.0f;
    router->grad[0] = 100.0f;
    double norm = adamw_step(&clipped, &m);
    tap_ok(fabs(norm - 100.0) < 1e-3 && fabsf(clipped.first_moment[router->grad - m.grad_arena] - 0.1f) < 1e-5f,
           "clipping: reported norm %.3f is the unclipped one; the moment sees the clipped gradient",
           norm);
    adamw_free(&clipped);
    adamw_free(&opt);
    free(down_before);
    model_free(&m);
}

/* Ten steps on one batch must lower its loss, for all parameters and for a
 * UOE-style set (one expert and its layer's router). */
static void check_training(bool uoe)
{
    ModelConfig config = small_config();
    Model m;
    model_create(&m, &config);
    model_init_random(&m, 3, 0.3f);
    if (uoe) {
        model_set_trainable(&m, "layers.1.router", -1);
        model_set_trainable(&m, "layers.1.expert_gate_up", 1);
        model_set_trainable(&m, "layers.1.expert_down", 1);
    } else {
        for (int i = 0; i < m.num_params; i++)
            m.params[i].trainable = true;
    }
    model_commit_trainable(&m);
    enum { B = 2, T = 8 };
    int ids[B * T], targets[B * T];
    Rng rng;
    rng_seed(&rng, 4);
    for (int i = 0; i < B * T; i++)
        ids[i] = (int)rng_below(&rng, (uint64_t)config.vocab_size);
    for (int i = 0; i < B * T; i++)
        targets[i] = i % T == T - 1 ? -1 : ids[i + 1];
    AdamWConfig cfg = adamw_default_config();
    cfg.learning_rate = uoe ? 5e-2f : 1e-2f;
    AdamW opt;
    adamw_init(&opt, &m, cfg);
    float weights[B * T], first = 0.0f, last = 0.0f;
    for (int step = 0; step < 10; step++) {
        model_zero_grad(&m);
        last = model_forward(&m, ids, targets, B, T);
        if (step == 0)
            first = last;
        model_mean_nll_weights(&m, weights);
        LossGradient g = {.d_token_nll = weights, .router_layer = -1};
        model_backward(&m, &g);
        adamw_step(&opt, &m);
    }
    last = model_forward(&m, ids, targets, B, T);
    tap_ok(last < first - (uoe ? 0.05f : 0.5f), "%s: ten AdamW steps lower the loss from %.4f to %.4f",
           uoe ? "one expert and its router" : "all parameters", first, last);
    adamw_free(&opt);
    model_free(&m);
}

int main(void)
{
    check_against_reference();
    check_training(false);
    check_training(true);
    return tap_done();
}
