/* Finite-difference checks of the whole model's gradients, over small random
 * configurations that together cover every option of the engine: GQA,
 * top-k renormalisation on and off, shared experts with and without a gate,
 * q/k/v bias, q/k norm per head and over the full width, tied and separate
 * LM heads, dense layers, and the router anchor term whose gradient enters
 * through the full softmax probabilities, and a term on the residual stream
 * leaving a layer (RMU's kind) whose gradient enters there. Also checks that a restricted
 * trainable set gets exactly the gradients that full backward gives it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "model.h"

enum { BATCH = 2, SEQ = 5, TOKENS = BATCH * SEQ };

typedef struct {
    const char *name;
    ModelConfig config;
    int anchor_layer;       /* MoE layer whose router probabilities the anchor pulls */
} Variant;

typedef struct {
    Model *model;
    const Variant *variant;
    int ids[TOKENS], targets[TOKENS];
    float anchor_weight;
    float hidden_weight;    /* weight of the residual-stream term at layer 0 */
    bool use_nll;
    int *reference_topk[MODEL_MAX_LAYERS]; /* routing of the unperturbed model */
    bool routing_changed;
} Problem;

static ModelConfig base_config(void)
{
    ModelConfig c = {0};
    c.family = FAMILY_QWEN2_MOE;
    c.vocab_size = 13;
    c.hidden_size = 8;
    c.num_layers = 2;
    c.num_heads = 4;
    c.num_kv_heads = 2;
    c.head_dim = 2;
    c.num_experts = 5;
    c.experts_per_token = 2;
    c.expert_intermediate = 6;
    c.dense_intermediate = 7;
    c.rms_norm_eps = 1e-6f;
    c.rope_theta = 100.0f;
    c.max_position_embeddings = 64;
    for (int l = 0; l < c.num_layers; l++)
        c.layer_is_moe[l] = true;
    return c;
}

static Variant make_variant(int which)
{
    Variant v = {.config = base_config(), .anchor_layer = 1};
    ModelConfig *c = &v.config;
    switch (which) {
    case 0:
        v.name = "GQA, renormalised top-k, separate head";
        c->family = FAMILY_MIXTRAL;
        c->norm_topk_prob = true;
        break;
    case 1:
        v.name = "gated shared expert, q/k/v bias, tied head, dense layer";
        c->num_layers = 3;
        c->layer_is_moe[0] = c->layer_is_moe[2] = true;
        c->layer_is_moe[1] = false;
        c->shared_intermediate = 5;
        c->shared_expert_gate = true;
        c->attention_bias = true;
        c->tie_word_embeddings = true;
        v.anchor_layer = 2;
        break;
    case 2:
        v.name = "full-width q/k norm, no GQA";
        c->family = FAMILY_OLMOE;
        c->num_kv_heads = 4;
        c->qk_norm = QK_NORM_FULL_WIDTH;
        break;
    case 3:
        v.name = "per-head q/k norm, H*D != C, renormalised, dense layers";
        c->family = FAMILY_QWEN3_MOE;
        c->head_dim = 4;
        c->num_layers = 3;
        c->layer_is_moe[0] = c->layer_is_moe[2] = false;
        c->qk_norm = QK_NORM_PER_HEAD;
        c->norm_topk_prob = true;
        break;
    default:
        v.name = "ungated shared expert, first layer dense";
        c->layer_is_moe[0] = false;
        c->shared_intermediate = 4;
        c->experts_per_token = 3;
        break;
    }
    return v;
}

/* Norm weights and biases start at 1 and 0; perturb them so that their
 * gradients and the paths through them are exercised. */
static void randomise(Model *m, uint64_t seed)
{
    Rng rng;
    model_init_random(m, seed, 0.5f);
    rng_seed(&rng, seed + 1);
    for (int i = 0; i < m->num_params; i++) {
        Param *p = &m->params[i];
        bool norm = p->kind == PARAM_ATTN_NORM || p->kind == PARAM_MLP_NORM ||
                    p->kind == PARAM_FINAL_NORM || p->kind == PARAM_Q_NORM || p->kind == PARAM_K_NORM;
        bool bias = p->kind == PARAM_BQ || p->kind == PARAM_BK || p->kind == PARAM_BV;
        for (size_t j = 0; norm || bias ? j < p->numel : 0; j++)
            p->value[j] += 0.2f * (float)rng_normal(&rng);
        if (p->kind == PARAM_ROUTER) /* well-separated routing: no top-k ties under perturbation */
            for (size_t j = 0; j < p->numel; j++)
                p->value[j] *= 3.0f;
    }
}

/* ||p_t - onehot(target expert)||^2 averaged over tokens, at one layer. */
static double anchor_term(const Model *m, int layer, int target_expert, float *d_probs)
{
    int E = m->config.num_experts;
    const float *probs = m->acts.layer[layer].router_probs;
    double total = 0.0;
    for (int n = 0; n < TOKENS; n++) {
        for (int e = 0; e < E; e++) {
            float diff = probs[n * E + e] - (e == target_expert ? 1.0f : 0.0f);
            total += (double)diff * diff;
            if (d_probs)
                d_probs[n * E + e] = 2.0f * diff / TOKENS;
        }
    }
    return total / TOKENS;
}

/* ||h_t - 1||^2 averaged over tokens, on the residual stream leaving layer 0. */
static double hidden_term(const Model *m, float *d_hidden)
{
    int C = m->config.hidden_size;
    int L = m->config.num_layers;
    const float *h = L > 1 ? m->acts.layer[1].input : m->acts.output;
    double total = 0.0;
    for (int i = 0; i < TOKENS * C; i++) {
        float diff = h[i] - 1.0f;
        total += (double)diff * diff;
        if (d_hidden)
            d_hidden[i] = 2.0f * diff / TOKENS;
    }
    return total / TOKENS;
}

static double problem_loss(void *ctx)
{
    Problem *p = ctx;
    Model *m = p->model;
    double nll = model_forward(m, p->ids, p->targets, BATCH, SEQ);
    for (int l = 0; l < m->config.num_layers; l++) {
        if (!m->config.layer_is_moe[l])
            continue;
        size_t bytes = (size_t)TOKENS * m->config.experts_per_token * sizeof(int);
        if (p->reference_topk[l] && memcmp(p->reference_topk[l], m->acts.layer[l].topk_index, bytes))
            p->routing_changed = true;
    }
    double anchor = anchor_term(m, p->variant->anchor_layer, 1, NULL);
    double hidden = hidden_term(m, NULL);
    return (p->use_nll ? nll : 0.0) + p->anchor_weight * anchor + p->hidden_weight * hidden;
}

/* One forward and backward of the problem's loss into the trainable grads. */
static void analytic_gradients(Problem *p)
{
    Model *m = p->model;
    int E = m->config.num_experts;
    float d_nll[TOKENS], d_probs[TOKENS * 16], d_hidden[TOKENS * 16];
    model_zero_grad(m);
    model_forward(m, p->ids, p->targets, BATCH, SEQ);
    model_mean_nll_weights(m, d_nll);
    anchor_term(m, p->variant->anchor_layer, 1, d_probs);
    for (int i = 0; i < TOKENS * E; i++)
        d_probs[i] *= p->anchor_weight;
    hidden_term(m, d_hidden);
    for (int i = 0; i < TOKENS * m->config.hidden_size; i++)
        d_hidden[i] *= p->hidden_weight;
    LossGradient gradient = {
        .d_token_nll = p->use_nll ? d_nll : NULL,
        .router_layer = p->anchor_weight != 0.0f ? p->variant->anchor_layer : -1,
        .d_router_probs = p->anchor_weight != 0.0f ? d_probs : NULL,
        .hidden_layer = 0,
        .d_hidden = p->hidden_weight != 0.0f ? d_hidden : NULL,
    };
    model_backward(m, &gradient);
}

static void remember_routing(Problem *p)
{
    Model *m = p->model;
    model_forward(m, p->ids, p->targets, BATCH, SEQ);
    for (int l = 0; l < m->config.num_layers; l++) {
        if (!m->config.layer_is_moe[l])
            continue;
        size_t bytes = (size_t)TOKENS * m->config.experts_per_token * sizeof(int);
        p->reference_topk[l] = malloc(bytes);
        memcpy(p->reference_topk[l], m->acts.layer[l].topk_index, bytes);
    }
}

static void forget_routing(Problem *p)
{
    for (int l = 0; l < MODEL_MAX_LAYERS; l++) {
        free(p->reference_topk[l]);
        p->reference_topk[l] = NULL;
    }
}

static void setup_problem(Problem *p, Model *m, const Variant *v, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    p->model = m;
    p->variant = v;
    p->anchor_weight = 0.5f;
    p->hidden_weight = 0.05f;
    p->use_nll = true;
    model_create(m, &v->config);
    randomise(m, seed);
    Rng rng;
    rng_seed(&rng, seed + 2);
    for (int n = 0; n < TOKENS; n++) {
        p->ids[n] = (int)rng_below(&rng, (uint64_t)v->config.vocab_size);
        /* every third position ignored, as answer-only losses do */
        p->targets[n] = n % 3 == 2 ? -1 : (int)rng_below(&rng, (uint64_t)v->config.vocab_size);
    }
}

/* Finite differences are only valid where the top-k selection is constant.
 * The largest of a few steps that moves no token to another expert is used,
 * so no check ever differentiates across a routing switch. */
static void check_tensor(Problem *p, const char *label, Param *param, size_t max_coords)
{
    static const double steps[] = {5e-3, 1e-3, 2e-4};
    GradCheckConfig cfg = gradcheck_default_config();
    cfg.max_coords = max_coords;
    GradCheckResult r;
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        cfg.eps = steps[i];
        p->routing_changed = false;
        gradcheck_run(problem_loss, p, param->value, param->numel, param->grad, &cfg, &r);
        if (!p->routing_changed)
            break;
    }
    tap_ok(r.passed && !p->routing_changed,
           "%s: gradient matches finite differences (%zu of %zu coordinates, step %g)", label,
           r.checked, param->numel, cfg.eps);
    tap_diag("  worst [%zu] analytic %.7g numeric %.7g (%.3g of tolerance); ||a-n||/||n|| %.3g%s",
             r.worst_index, r.worst_analytic, r.worst_numeric, r.worst_ratio, r.rel_error,
             p->routing_changed ? "; routing changed at every step" : "");
}

static void check_variant(const Variant *v, uint64_t seed)
{
    Model m;
    Problem p;
    setup_problem(&p, &m, v, seed);
    for (int i = 0; i < m.num_params; i++)
        m.params[i].trainable = true;
    model_commit_trainable(&m);
    analytic_gradients(&p);
    remember_routing(&p);

    char label[160];
    for (int i = 0; i < m.num_params; i++) {
        Param *param = &m.params[i];
        snprintf(label, sizeof label, "%s: d loss / d %s", v->name, param->name);
        check_tensor(&p, label, param, 40);
    }

    /* The anchor alone reaches the model only through the router's softmax:
     * the router below it gets gradient, the experts of that layer none. */
    p.use_nll = false;
    p.hidden_weight = 0.0f;
    analytic_gradients(&p);
    Param *router = model_param(&m, v->anchor_layer, PARAM_ROUTER);
    Param *experts = model_param(&m, v->anchor_layer, PARAM_EXPERT_DOWN);
    snprintf(label, sizeof label, "%s: anchor-only gradient of layer %d's router", v->name,
             v->anchor_layer);
    check_tensor(&p, label, router, 40);
    double expert_grad = 0.0;
    for (size_t j = 0; j < experts->numel; j++)
        expert_grad += fabs(experts->grad[j]);
    tap_ok(expert_grad == 0.0, "%s: the anchor term gives the anchored layer's experts no gradient",
           v->name);

    /* The residual-stream term alone reaches layer 0 and nothing above it. */
    p.anchor_weight = 0.0f;
    p.hidden_weight = 0.05f;
    analytic_gradients(&p);
    Param *below = model_param(&m, 0, PARAM_WO);
    snprintf(label, sizeof label, "%s: residual-stream-only gradient of layer 0's attention output",
             v->name);
    check_tensor(&p, label, below, 40);
    double above_grad = 0.0;
    for (int i = 0; i < m.num_params; i++) {
        if (m.params[i].layer != 0 && m.params[i].kind != PARAM_EMBED)
            for (size_t j = 0; j < m.params[i].numel; j++)
                above_grad += fabs(m.params[i].grad[j]);
    }
    tap_ok(above_grad == 0.0, "%s: the residual-stream term at layer 0 gives no other layer, "
           "norm or head a gradient", v->name);
    forget_routing(&p);
    model_free(&m);
}

/* Gradients of a UOE-like set (one expert, its router, one shared tensor)
 * must equal the corresponding slices of full backward. */
static void check_restricted_set(uint64_t seed)
{
    Variant v = make_variant(1);
    Model m;
    Problem p;
    setup_problem(&p, &m, &v, seed);
    for (int i = 0; i < m.num_params; i++)
        m.params[i].trainable = true;
    model_commit_trainable(&m);
    analytic_gradients(&p);
    const char *names[] = {"layers.2.router", "layers.2.expert_gate_up", "layers.2.expert_down",
                           "layers.2.shared_down"};
    float *full[4];
    for (int i = 0; i < 4; i++) {
        Param *param = model_find_param(&m, names[i]);
        full[i] = malloc(param->numel * sizeof(float));
        memcpy(full[i], param->grad, param->numel * sizeof(float));
    }

    const int expert = 3;
    model_clear_trainable(&m);
    int rc = model_set_trainable(&m, names[0], -1) | model_set_trainable(&m, names[1], expert) |
             model_set_trainable(&m, names[2], expert) | model_set_trainable(&m, names[3], -1);
    model_commit_trainable(&m);
    tap_ok(rc == 0, "restricted set: router, expert %d and shared down projection marked", expert);
    const ModelConfig *c = &m.config;
    size_t expected = (size_t)c->num_experts * c->hidden_size +
                      (size_t)3 * c->expert_intermediate * c->hidden_size +
                      (size_t)c->hidden_size * c->shared_intermediate;
    tap_ok(model_trainable_count(&m) == expected, "restricted set: %zu trainable parameters, expected %zu",
           model_trainable_count(&m), expected);
    analytic_gradients(&p);

    for (int i = 0; i < 4; i++) {
        Param *param = model_find_param(&m, names[i]);
        size_t per_expert = param->numel / (size_t)param->shape[0];
        double worst = 0.0, frozen = 0.0;
        for (size_t j = 0; j < param->numel; j++) {
            bool counted = !param->expert_trainable || param->expert_trainable[j / per_expert];
            if (counted)
                worst = fmax(worst, fabs(param->grad[j] - full[i][j]));
            else
                frozen = fmax(frozen, fabs(param->grad[j]));
        }
        tap_ok(worst <= 1e-6 && frozen == 0.0,
               "restricted set: %s gradient equals full backward's (max diff %.2g), frozen experts stay 0",
               names[i], worst);
        free(full[i]);
    }
    tap_ok(model_set_trainable(&m, "layers.2.router", 0) < 0,
           "an expert index on a tensor that is not an expert stack is refused");
    tap_ok(model_set_trainable(&m, "layers.2.expert_down", 99) < 0,
           "an expert index past the stack is refused");
    tap_ok(model_set_trainable(&m, "layers.9.router", -1) < 0, "an unknown tensor name is refused");
    model_free(&m);
}

int main(void)
{
    for (int which = 0; which < 5; which++) {
        Variant v = make_variant(which);
        if (!tap_ok(model_config_validate(&v.config) == 0, "variant %d is a valid configuration", which))
            continue;
        check_variant(&v, 100 + (uint64_t)which);
    }
    check_restricted_set(7);
    return tap_done();
}
