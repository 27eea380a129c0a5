#include "trainable_set.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "rng.h"

int trainable_set_parse(const char *text, TrainableSetSpec *spec)
{
    static const struct { const char *name; TrainableSetKind kind; } fixed[] = {
        {"all", TRAINABLE_ALL},         {"experts", TRAINABLE_EXPERTS},
        {"routers", TRAINABLE_ROUTERS}, {"uoe", TRAINABLE_UOE},
        {"top1+shared", TRAINABLE_TOP1_SHARED}, {"random", TRAINABLE_RANDOM},
        {"esft", TRAINABLE_ESFT},
    };
    memset(spec, 0, sizeof *spec);
    spec->rank_by = ATTRIBUTION_GATE_SCORE;
    spec->top_m = 1;
    spec->esft_threshold = 0.15;
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        if (strcmp(text, fixed[i].name) == 0) {
            spec->kind = fixed[i].kind;
            return 0;
        }
    }
    int m, used = 0;
    char scope[16];
    if (sscanf(text, "top%d-%15[a-z]%n", &m, scope, &used) == 2 && text[used] == '\0' && m >= 1 &&
        (strcmp(scope, "layer") == 0 || strcmp(scope, "global") == 0)) {
        spec->kind = scope[0] == 'l' ? TRAINABLE_TOP_M_LAYER : TRAINABLE_TOP_M_GLOBAL;
        spec->top_m = m;
        return 0;
    }
    double p;
    if (sscanf(text, "esft:%lf%n", &p, &used) == 1 && text[used] == '\0' && p > 0 && p <= 1) {
        spec->kind = TRAINABLE_ESFT;
        spec->esft_threshold = p;
        return 0;
    }
    return error_set("unknown trainable set '%s' (expected all, experts, routers, uoe, "
                     "top<M>-layer, top<M>-global, top1+shared, random, esft or esft:<p> "
                     "with 0 < p <= 1)", text);
}

void trainable_set_name(const TrainableSetSpec *spec, char *out, size_t size)
{
    switch (spec->kind) {
    case TRAINABLE_ALL: snprintf(out, size, "all"); break;
    case TRAINABLE_EXPERTS: snprintf(out, size, "experts"); break;
    case TRAINABLE_ROUTERS: snprintf(out, size, "routers"); break;
    case TRAINABLE_UOE: snprintf(out, size, "uoe"); break;
    case TRAINABLE_TOP_M_LAYER: snprintf(out, size, "top%d-layer", spec->top_m); break;
    case TRAINABLE_TOP_M_GLOBAL: snprintf(out, size, "top%d-global", spec->top_m); break;
    case TRAINABLE_TOP1_SHARED: snprintf(out, size, "top1+shared"); break;
    case TRAINABLE_RANDOM: snprintf(out, size, "random"); break;
    case TRAINABLE_ESFT: snprintf(out, size, "esft:%g", spec->esft_threshold); break;
    case TRAINABLE_EXPLICIT:
        snprintf(out, size, spec->target_routers ? "explicit" : "explicit-no-routers");
        break;
    }
}

static void add_target(TrainableSelection *s, int layer, int expert)
{
    s->layers = xrealloc(s->layers, (size_t)(s->count + 1) * sizeof(int));
    s->experts = xrealloc(s->experts, (size_t)(s->count + 1) * sizeof(int));
    s->layers[s->count] = layer;
    s->experts[s->count] = expert;
    s->count++;
}

/* Marks a tensor of a layer trainable, or one expert of an expert stack. */
static void mark(Model *m, int layer, ParamKind kind, int expert)
{
    Param *p = model_param(m, layer, kind);
    if (p && model_set_trainable(m, p->name, expert) < 0)
        FATAL("%s", error_message());
}

static void mark_expert(Model *m, int layer, int expert)
{
    mark(m, layer, PARAM_EXPERT_GATE_UP, expert);
    mark(m, layer, PARAM_EXPERT_DOWN, expert);
}

static void mark_expert_and_router(Model *m, int layer, int expert)
{
    mark_expert(m, layer, expert);
    mark(m, layer, PARAM_ROUTER, -1);
}

static void mark_kind_everywhere(Model *m, ParamKind kind)
{
    for (int l = 0; l < m->config.num_layers; l++)
        mark(m, l, kind, -1);
}

/* ESFT: in each MoE layer, experts in decreasing gate score until their
 * cumulative share of the layer's score reaches the threshold. */
static void select_esft(const Model *m, const Attribution *a, double threshold,
                        TrainableSelection *s)
{
    int E = a->num_experts;
    int *order = xmalloc((size_t)E * sizeof(int));
    for (int l = 0; l < a->num_layers; l++) {
        if (!m->config.layer_is_moe[l])
            continue;
        const double *score = a->gate_score + (size_t)l * E;
        double layer_total = 0.0;
        for (int e = 0; e < E; e++) {
            order[e] = e;
            layer_total += score[e];
        }
        for (int i = 1; i < E; i++) /* insertion sort, descending, stable */
            for (int j = i; j > 0 && score[order[j]] > score[order[j - 1]]; j--) {
                int swap = order[j];
                order[j] = order[j - 1];
                order[j - 1] = swap;
            }
        double cumulative = 0.0;
        for (int i = 0; i < E && layer_total > 0 && cumulative < threshold * layer_total; i++) {
            add_target(s, l, order[i]);
            cumulative += score[order[i]];
        }
    }
    free(order);
}

static int choose_targets(const Model *m, const TrainableSetSpec *spec, const Attribution *a,
                          TrainableSelection *s)
{
    const ModelConfig *c = &m->config;
    int ranked_max = c->num_layers * c->num_experts;
    int *layers = xmalloc((size_t)ranked_max * sizeof(int)), *experts = xmalloc((size_t)ranked_max * sizeof(int));
    int ranked = attribution_rank_by(a, c, spec->rank_by, layers, experts, ranked_max);
    int rc = 0;
    switch (spec->kind) {
    case TRAINABLE_UOE:
    case TRAINABLE_TOP1_SHARED:
        add_target(s, layers[0], experts[0]);
        break;
    case TRAINABLE_TOP_M_LAYER:
        for (int i = 0; i < ranked && s->count < spec->top_m; i++)
            if (layers[i] == layers[0])
                add_target(s, layers[i], experts[i]);
        break;
    case TRAINABLE_TOP_M_GLOBAL:
        for (int i = 0; i < ranked && i < spec->top_m; i++)
            add_target(s, layers[i], experts[i]);
        break;
    case TRAINABLE_ESFT:
        select_esft(m, a, spec->esft_threshold, s);
        break;
    default:
        break;
    }
    if (s->count < (spec->kind == TRAINABLE_TOP_M_LAYER || spec->kind == TRAINABLE_TOP_M_GLOBAL
                        ? spec->top_m : 1) && spec->kind != TRAINABLE_ESFT)
        rc = error_set("the trainable set wants %d experts; the model has only %d in the layer(s) "
                       "asked for", spec->top_m, s->count);
    free(layers);
    free(experts);
    return rc;
}

/* The caller's targets, checked against the model. */
static int choose_explicit(const Model *m, const TrainableSetSpec *spec, TrainableSelection *s)
{
    const ModelConfig *c = &m->config;
    if (spec->target_count < 1)
        return error_set("an explicit trainable set needs at least one (layer, expert) target");
    for (int i = 0; i < spec->target_count; i++) {
        int layer = spec->targets[i].layer, expert = spec->targets[i].expert;
        if (layer < 0 || layer >= c->num_layers || !c->layer_is_moe[layer])
            return error_set("target %d: layer %d is not an MoE layer of the model (layers 0 to %d)",
                             i + 1, layer, c->num_layers - 1);
        if (expert < 0 || expert >= c->num_experts)
            return error_set("target %d: expert %d is out of range (experts 0 to %d)", i + 1,
                             expert, c->num_experts - 1);
        for (int j = 0; j < i; j++)
            if (spec->targets[j].layer == layer && spec->targets[j].expert == expert)
                return error_set("target %d repeats target %d (layer %d, expert %d)", i + 1,
                                 j + 1, layer, expert);
        add_target(s, layer, expert);
    }
    return 0;
}

static void choose_random(const Model *m, uint64_t seed, TrainableSelection *s)
{
    const ModelConfig *c = &m->config;
    int moe_layers[MODEL_MAX_LAYERS], count = 0;
    for (int l = 0; l < c->num_layers; l++)
        if (c->layer_is_moe[l])
            moe_layers[count++] = l;
    Rng rng;
    rng_seed(&rng, seed);
    int layer = moe_layers[rng_below(&rng, (uint64_t)count)];
    add_target(s, layer, (int)rng_below(&rng, (uint64_t)c->num_experts));
}

int trainable_set_apply(Model *m, const TrainableSetSpec *spec, const Attribution *attribution,
                        TrainableSelection *s)
{
    memset(s, 0, sizeof *s);
    bool ranked = spec->kind == TRAINABLE_UOE || spec->kind == TRAINABLE_TOP_M_LAYER ||
                  spec->kind == TRAINABLE_TOP_M_GLOBAL || spec->kind == TRAINABLE_TOP1_SHARED ||
                  spec->kind == TRAINABLE_ESFT;
    if (ranked && !attribution)
        return error_set("this trainable set is chosen by expert attribution, and none was given");
    if (spec->kind == TRAINABLE_TOP1_SHARED && m->config.shared_intermediate == 0)
        return error_set("the trainable set top1+shared needs shared experts; this model has none");
    if (ranked && choose_targets(m, spec, attribution, s) < 0) {
        trainable_selection_free(s);
        return -1;
    }
    if (spec->kind == TRAINABLE_RANDOM)
        choose_random(m, spec->seed, s);
    if (spec->kind == TRAINABLE_EXPLICIT && choose_explicit(m, spec, s) < 0) {
        trainable_selection_free(s);
        return -1;
    }

    model_clear_trainable(m);
    switch (spec->kind) {
    case TRAINABLE_ALL:
        for (int i = 0; i < m->num_params; i++)
            if (model_set_trainable(m, m->params[i].name, -1) < 0)
                FATAL("%s", error_message());
        break;
    case TRAINABLE_EXPERTS:
        mark_kind_everywhere(m, PARAM_EXPERT_GATE_UP);
        mark_kind_everywhere(m, PARAM_EXPERT_DOWN);
        break;
    case TRAINABLE_ROUTERS:
        mark_kind_everywhere(m, PARAM_ROUTER);
        break;
    case TRAINABLE_ESFT:
        for (int i = 0; i < s->count; i++)
            mark_expert(m, s->layers[i], s->experts[i]);
        break;
    case TRAINABLE_EXPLICIT:
        for (int i = 0; i < s->count; i++)
            (spec->target_routers ? mark_expert_and_router : mark_expert)(m, s->layers[i],
                                                                          s->experts[i]);
        break;
    default: /* experts chosen by rank or at random, with their layers' routers */
        for (int i = 0; i < s->count; i++)
            mark_expert_and_router(m, s->layers[i], s->experts[i]);
        if (spec->kind == TRAINABLE_TOP1_SHARED) {
            mark(m, s->layers[0], PARAM_SHARED_GATE_UP, -1);
            mark(m, s->layers[0], PARAM_SHARED_DOWN, -1);
            mark(m, s->layers[0], PARAM_SHARED_EXPERT_GATE, -1);
        }
        break;
    }
    model_commit_trainable(m);
    s->trainable = model_trainable_count(m);
    s->total = model_param_count(m);
    s->fraction = s->total ? (double)s->trainable / (double)s->total : 0.0;
    return 0;
}

void trainable_selection_free(TrainableSelection *s)
{
    free(s->layers);
    free(s->experts);
    memset(s, 0, sizeof *s);
}
