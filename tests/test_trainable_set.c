/* Trainable sets on a small model with a hand-made attribution, so the chosen
 * experts are known: each set's tensors, its chosen (layer, expert) pairs and
 * its parameter count, and the names the command line reads; explicit
 * targets, as a Lua policy gives them, and the ones refused. */
#include <string.h>

#include "error.h"
#include "tap.h"
#include "trainable_set.h"

enum { LAYERS = 3, EXPERTS = 4 };

static ModelConfig small_config(void)
{
    ModelConfig c = {0};
    c.family = FAMILY_QWEN2_MOE;
    c.vocab_size = 20;
    c.hidden_size = 8;
    c.num_layers = LAYERS;
    c.num_heads = 2;
    c.num_kv_heads = 2;
    c.head_dim = 4;
    c.num_experts = EXPERTS;
    c.experts_per_token = 2;
    c.expert_intermediate = 3;
    c.shared_intermediate = 5;
    c.shared_expert_gate = true;
    c.dense_intermediate = 6;
    c.rms_norm_eps = 1e-6f;
    c.rope_theta = 100.0f;
    c.max_position_embeddings = 16;
    c.layer_is_moe[0] = false; /* a dense first layer, as first_k_dense_replace gives */
    c.layer_is_moe[1] = c.layer_is_moe[2] = true;
    return c;
}

/* Layer 2 holds the top expert (3, score 0.5); layer 1 the second (1, 0.4). */
static const double scores[LAYERS][EXPERTS] = {
    {0, 0, 0, 0},
    {0.05, 0.40, 0.10, 0.05},
    {0.20, 0.02, 0.08, 0.50},
};

static bool trains(const Model *m, const char *name, int expert)
{
    Param *p = model_find_param((Model *)m, name);
    return p->trainable && (expert < 0 || param_expert_trainable(p, expert));
}

static int trainable_tensor_count(const Model *m)
{
    int count = 0;
    for (int i = 0; i < m->num_params; i++)
        count += m->params[i].trainable;
    return count;
}

static TrainableSelection apply(Model *m, const char *name, const Attribution *a)
{
    TrainableSetSpec spec;
    TrainableSelection s = {0};
    if (trainable_set_parse(name, &spec) < 0 || trainable_set_apply(m, &spec, a, &s) < 0)
        tap_diag("%s: %s", name, error_message());
    return s;
}

int main(void)
{
    ModelConfig config = small_config();
    Model m;
    model_create(&m, &config);
    double gate[LAYERS * EXPERTS];
    memcpy(gate, scores, sizeof gate);
    Attribution a = {.num_layers = LAYERS, .num_experts = EXPERTS, .gate_score = gate};
    const size_t C = 8, I = 3, S = 5;
    size_t expert_size = 3 * I * C, router_size = EXPERTS * C;

    TrainableSelection s = apply(&m, "uoe", &a);
    tap_ok(s.count == 1 && s.layers[0] == 2 && s.experts[0] == 3, "uoe targets the top expert, layer 2 expert 3");
    tap_ok(trains(&m, "layers.2.expert_down", 3) && !trains(&m, "layers.2.expert_down", 2) &&
               trains(&m, "layers.2.router", -1) && trainable_tensor_count(&m) == 3,
           "uoe trains that expert's two stacks and its layer's router, nothing else");
    tap_ok(s.trainable == expert_size + router_size && s.total == model_param_count(&m) &&
               s.fraction == (double)s.trainable / s.total,
           "uoe: %zu of %zu parameters (%.4f%%)", s.trainable, s.total, 100 * s.fraction);
    trainable_selection_free(&s);

    s = apply(&m, "top2-layer", &a);
    tap_ok(s.count == 2 && s.layers[1] == 2 && s.experts[1] == 0 &&
               s.trainable == 2 * expert_size + router_size,
           "top2-layer takes layer 2's two best experts (3, 0) and its router");
    trainable_selection_free(&s);

    s = apply(&m, "top2-global", &a);
    tap_ok(s.count == 2 && s.layers[1] == 1 && s.experts[1] == 1 &&
               s.trainable == 2 * expert_size + 2 * router_size,
           "top2-global takes (2, 3) and (1, 1), with both routers");
    trainable_selection_free(&s);

    s = apply(&m, "top1+shared", &a);
    tap_ok(trains(&m, "layers.2.shared_down", -1) && trains(&m, "layers.2.shared_expert_gate", -1) &&
               !trains(&m, "layers.1.shared_down", -1) &&
               s.trainable == expert_size + router_size + 3 * S * C + C,
           "top1+shared adds layer 2's shared expert and its gate");
    trainable_selection_free(&s);

    s = apply(&m, "esft:0.6", &a);
    /* layer 1: 0.40 of 0.60 is 67%; layer 2: 0.50 of 0.80 is 62.5% */
    tap_ok(s.count == 2 && s.trainable == 2 * expert_size && !trains(&m, "layers.2.router", -1),
           "esft:0.6 takes the best expert of each MoE layer, and no router (%d experts)", s.count);
    trainable_selection_free(&s);
    s = apply(&m, "esft:0.7", &a);
    /* layer 1: 0.40 + 0.10 of 0.60 is 83%; layer 2: 0.50 + 0.20 of 0.80 is 87.5% */
    tap_ok(s.count == 4 && s.layers[1] == 1 && s.experts[1] == 2 && s.trainable == 4 * expert_size,
           "esft:0.7 takes two experts of each MoE layer (%d experts)", s.count);
    trainable_selection_free(&s);

    s = apply(&m, "routers", NULL);
    tap_ok(s.trainable == 2 * router_size && trainable_tensor_count(&m) == 2,
           "routers: the two MoE layers' routers");
    trainable_selection_free(&s);
    s = apply(&m, "experts", NULL);
    tap_ok(s.trainable == 2 * EXPERTS * expert_size, "experts: every routed expert");
    trainable_selection_free(&s);
    s = apply(&m, "all", NULL);
    tap_ok(s.fraction == 1.0, "all: the tunable fraction is 1");
    trainable_selection_free(&s);

    TrainableSetSpec spec;
    trainable_set_parse("random", &spec);
    TrainableSelection first, second;
    spec.seed = 11;
    trainable_set_apply(&m, &spec, NULL, &first);
    trainable_set_apply(&m, &spec, NULL, &second);
    tap_ok(first.count == 1 && (first.layers[0] == 1 || first.layers[0] == 2) &&
               first.layers[0] == second.layers[0] && first.experts[0] == second.experts[0] &&
               first.trainable == expert_size + router_size,
           "random: one expert of an MoE layer, with its router, the same for the same seed");
    trainable_selection_free(&first);
    trainable_selection_free(&second);

    const TrainableTarget chosen[] = {{1, 2}, {2, 0}};
    TrainableSetSpec explicit_set = {.kind = TRAINABLE_EXPLICIT, .targets = chosen,
                                     .target_count = 2, .target_routers = true};
    tap_ok(trainable_set_apply(&m, &explicit_set, NULL, &s) == 0 && s.count == 2 &&
               s.layers[0] == 1 && s.experts[0] == 2 && s.layers[1] == 2 && s.experts[1] == 0 &&
               trains(&m, "layers.1.expert_gate_up", 2) && !trains(&m, "layers.1.expert_gate_up", 1) &&
               trains(&m, "layers.2.router", -1) &&
               s.trainable == 2 * expert_size + 2 * router_size,
           "explicit: the given (1, 2) and (2, 0) in the given order, with both routers");
    trainable_selection_free(&s);
    explicit_set.target_routers = false;
    tap_ok(trainable_set_apply(&m, &explicit_set, NULL, &s) == 0 && s.trainable == 2 * expert_size &&
               !trains(&m, "layers.1.router", -1),
           "explicit without routers trains the two experts only");
    trainable_selection_free(&s);
    const struct { TrainableTarget targets[2]; int count; const char *message; } refused[] = {
        {{{0, 1}}, 1, "target 1: layer 0 is not an MoE layer"},
        {{{3, 1}}, 1, "target 1: layer 3 is not an MoE layer"},
        {{{1, 4}}, 1, "target 1: expert 4 is out of range (experts 0 to 3)"},
        {{{2, 1}, {2, 1}}, 2, "target 2 repeats target 1 (layer 2, expert 1)"},
        {{{0}}, 0, "needs at least one"},
    };
    for (int i = 0; i < 5; i++) {
        explicit_set.targets = refused[i].targets;
        explicit_set.target_count = refused[i].count;
        bool ok = trainable_set_apply(&m, &explicit_set, NULL, &s) < 0 &&
                  strstr(error_message(), refused[i].message);
        tap_ok(ok, "explicit targets refused: %s", error_message());
    }
    char explicit_name[32];
    trainable_set_name(&explicit_set, explicit_name, sizeof explicit_name);
    tap_ok(strcmp(explicit_name, "explicit-no-routers") == 0, "an explicit set is named %s",
           explicit_name);

    const char *bad[] = {"top0-layer", "top2-sideways", "esft:1.5", "everything", "top3-layer"};
    for (int i = 0; i < 4; i++)
        tap_ok(trainable_set_parse(bad[i], &spec) < 0 && strstr(error_message(), bad[i]),
               "'%s' is refused with a message naming it", bad[i]);
    trainable_set_parse("top5-layer", &spec);
    tap_ok(trainable_set_apply(&m, &spec, &a, &s) < 0, "top5-layer on a 4-expert layer is refused: %s",
           error_message());
    tap_ok(trainable_set_parse("uoe", &spec) == 0 && trainable_set_apply(&m, &spec, NULL, &s) < 0,
           "uoe without an attribution is refused");

    char name[32];
    const char *names[] = {"all", "experts", "routers", "uoe", "top3-layer", "top6-global",
                           "top1+shared", "random", "esft:0.15"};
    bool round_trip = true;
    for (int i = 0; i < 9; i++) {
        trainable_set_parse(names[i], &spec);
        trainable_set_name(&spec, name, sizeof name);
        round_trip &= strcmp(name, names[i]) == 0;
    }
    tap_ok(round_trip, "every set's name reads back to itself");
    model_free(&m);
    return tap_done();
}
