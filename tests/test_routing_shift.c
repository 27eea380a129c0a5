/* Expert-selection shift: the metrics on hand-made routings whose answers are
 * worked out in the comments, then captures of real forwards of the small
 * fixture model (a run against itself, masking, shape checks). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "error.h"
#include "routing_shift.h"
#include "tap.h"
#include "test_util.h"

static void test_token_overlap(void)
{
    /* K = 2, 3 tokens */
    int before[] = {0, 1,  2, 3,  1, 2};
    int disjoint[] = {2, 3,  0, 1,  0, 3};
    /* shares 2 of {0,1}, 1 of {2,3} (the 2), 0 of {1,2}: (2 + 1 + 0) / (3 * 2) = 0.5 */
    int partial[] = {1, 0,  2, 0,  3, 0};
    tap_ok(routing_token_overlap(before, before, 3, 2) == 1.0,
           "token overlap of a routing with itself is 1");
    tap_ok(routing_token_overlap(before, disjoint, 3, 2) == 0.0,
           "token overlap of disjoint top-K is 0");
    tap_ok(routing_token_overlap(before, partial, 3, 2) == 0.5,
           "token overlap with per-token overlaps 2, 1, 0 of K = 2 is 0.5");
}

static void test_set_overlap_and_rank(void)
{
    /* E = 4, K = 2. Top 2 of {3,5,5,1}: experts 1, 2. Top 2 of {4,4,4,0}: the tie
     * between 0, 1, 2 goes to the lower indices, experts 0, 1. Shared: {1}, 1/2. */
    double counts[] = {3, 5, 5, 1};
    double three_tied[] = {4, 4, 4, 0};
    tap_ok(routing_set_overlap(counts, counts, 4, 2) == 1.0,
           "set overlap of a routing with itself is 1");
    tap_ok(routing_set_overlap(counts, three_tied, 4, 2) == 0.5,
           "set overlap breaks a three-way tie by lower expert index (0.5)");
    /* all tied: top 2 is {0, 1}; against {2, 3}: nothing shared */
    double uniform[] = {1, 1, 1, 1};
    double last_two[] = {0, 0, 7, 7};
    tap_ok(routing_set_overlap(uniform, last_two, 4, 2) == 0.0,
           "set overlap of a uniform routing (top {0,1}) and one on {2,3} is 0");

    /* {3,5,5,1}: expert 1 and 2 tie at 5, the lower index first */
    tap_ok(routing_expert_rank(counts, 4, 1) == 1 && routing_expert_rank(counts, 4, 2) == 2 &&
           routing_expert_rank(counts, 4, 0) == 3 && routing_expert_rank(counts, 4, 3) == 4,
           "ranks of {3,5,5,1} are 3, 1, 2, 4 (ties by lower index)");
    tap_ok(routing_expert_rank(uniform, 4, 0) == 1 && routing_expert_rank(uniform, 4, 3) == 4,
           "in a uniform routing the rank is the index plus one");
}

static void test_distances(void)
{
    double counts[] = {3, 5, 5, 1};
    tap_ok(routing_total_variation(counts, counts, 4) == 0.0 &&
           routing_kl_divergence(counts, counts, 4) == 0.0,
           "TV and KL of a routing with itself are 0");

    /* p = {6,2}/8 = (0.75, 0.25), q = {1,1}/2 = (0.5, 0.5): totals differ on purpose.
     * TV = 0.5 (0.25 + 0.25) = 0.25.
     * KL = 0.75 ln 1.5 + 0.25 ln 0.5 = 0.304099 - 0.173287 = 0.130812; the
     * smoothing lowers it by about 5e-7. */
    double skewed[] = {6, 2}, even[] = {1, 1};
    double tv = routing_total_variation(skewed, even, 2);
    double kl = routing_kl_divergence(skewed, even, 2);
    tap_ok(fabs(tv - 0.25) < 1e-15, "TV of (0.75, 0.25) and (0.5, 0.5) is 0.25 (got %.17g)", tv);
    tap_ok(fabs(kl - 0.130812) < 2e-6,
           "KL of (0.75, 0.25) from (0.5, 0.5) is 0.130812 (got %.9f)", kl);

    /* p = (0.5, 0.5, 0, 0), q = uniform: TV = 0.5 (4 * 0.25) = 0.5.
     * Unsmoothed KL(p||q) = 2 * 0.5 ln 2 = ln 2 = 0.693147. Smoothed, with
     * n = 1 + 4e-6: 2 (0.500001 / n) ln(0.500001 / 0.250001)
     * + 2 (1e-6 / n) ln(1e-6 / 0.250001) = 0.693144 - 0.000025 = 0.693119. */
    double half[] = {2, 2, 0, 0}, uniform[] = {1, 1, 1, 1};
    tap_ok(fabs(routing_total_variation(half, uniform, 4) - 0.5) < 1e-15,
           "TV of (.5,.5,0,0) and uniform is 0.5");
    kl = routing_kl_divergence(half, uniform, 4);
    tap_ok(fabs(kl - 0.693119) < 1e-6,
           "KL of (.5,.5,0,0) from uniform is 0.693119, ln 2 smoothed (got %.9f)", kl);
    /* The other way round the second distribution has empty experts, which
     * smoothing keeps at 1e-6 / n: KL = 2 (0.250001 / n) ln(0.250001 / 0.500001)
     * + 2 (0.250001 / n) ln(0.250001 / 1e-6), and 2 * 0.250001 / n = 0.5:
     * -0.346573 + 6.214610 = 5.868037, large but finite. */
    kl = routing_kl_divergence(uniform, half, 4);
    tap_ok(fabs(kl - 5.868037) < 1e-6,
           "KL from a routing with empty experts is finite, 5.868037 (got %.7f)", kl);
}

/* Two layers, the first dense, the second MoE with E = 4, K = 2, 3 tokens. */
static void hand_made_probe(ProbeRouting *probe, const int *moe_topk)
{
    memset(probe, 0, sizeof *probe);
    probe->num_layers = 2;
    probe->num_experts = 4;
    probe->experts_per_token = 2;
    probe->tokens = 3;
    probe->is_moe[1] = true;
    probe->topk = xmalloc(2 * 3 * 2 * sizeof(int));
    probe->counts = xcalloc(2 * 4, sizeof(double));
    probe->prob_sum = xcalloc(2 * 4, sizeof(double));
    for (int i = 0; i < 6; i++) {
        probe->topk[i] = -1;
        probe->topk[6 + i] = moe_topk[i];
        probe->counts[4 + moe_topk[i]] += 1.0;
    }
}

static void test_compare_hand_made(void)
{
    /* counts {1,2,2,1} against {3,1,1,1}: top 2 {1,2} against {0,1}, set
     * overlap 0.5; TV = 0.5 (2 + 1 + 1 + 0) / 6 = 1/3; token overlap 0.5 as in
     * test_token_overlap. The dense layer takes no part in the means. */
    int before_topk[] = {0, 1,  2, 3,  1, 2};
    int after_topk[] = {1, 0,  2, 0,  3, 0};
    ProbeRouting before, after;
    hand_made_probe(&before, before_topk);
    hand_made_probe(&after, after_topk);
    LayerShift shift[2];
    double mean_token, mean_set;
    int rc = routing_shift_compare(&before, &after, shift, &mean_token, &mean_set);
    tap_ok(rc == 0 && shift[1].token_overlap == 0.5 && shift[1].set_overlap == 0.5 &&
           fabs(shift[1].total_variation - 1.0 / 3.0) < 1e-15 && shift[1].kl > 0.0,
           "compare: the MoE layer has token overlap 0.5, set overlap 0.5, TV 1/3, KL > 0");
    tap_ok(rc == 0 && mean_token == 0.5 && mean_set == 0.5 &&
           shift[0].token_overlap == 0.0 && shift[0].total_variation == 0.0,
           "compare: the means cover MoE layers only; the dense row stays zero");

    after.num_experts = 5;
    error_clear();
    rc = routing_shift_compare(&before, &after, shift, &mean_token, &mean_set);
    tap_ok(rc == -1 && strstr(error_message(), "experts"),
           "captures with different expert counts are refused: %s", error_message());
    after.num_experts = 4;
    after.is_moe[0] = true;
    rc = routing_shift_compare(&before, &after, shift, &mean_token, &mean_set);
    tap_ok(rc == -1 && strstr(error_message(), "layer 0"),
           "captures that disagree on which layers are MoE are refused: %s", error_message());
    probe_routing_free(&before);
    probe_routing_free(&after);
}

/* Max |a - b| over n entries. */
static double max_difference(const double *a, const double *b, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(a[i] - b[i]));
    return worst;
}

static void test_capture(Model *model)
{
    const ModelConfig *c = &model->config;
    int L = c->num_layers, E = c->num_experts, K = c->experts_per_token;
    enum { B = 2, T = 6, PREFIX = 3 };
    int ids[B * T] = {5, 17, 240, 3, 99, 312,  44, 8, 150, 7, 201, 63};
    model_forward(model, ids, NULL, B, T);
    ProbeRouting first, second;
    probe_routing_capture(&first, model, NULL);
    model_forward(model, ids, NULL, B, T);
    probe_routing_capture(&second, model, NULL);

    bool sums_ok = first.tokens == B * T;
    double prob_error = 0.0;
    for (int l = 0; l < L; l++) {
        double count_sum = 0.0, prob_sum = 0.0;
        for (int e = 0; e < E; e++) {
            count_sum += first.counts[l * E + e];
            prob_sum += first.prob_sum[l * E + e];
        }
        sums_ok &= count_sum == (c->layer_is_moe[l] ? (double)K * B * T : 0.0);
        if (c->layer_is_moe[l])
            prob_error = fmax(prob_error, fabs(prob_sum - B * T));
    }
    tap_ok(sums_ok && prob_error < 1e-4,
           "capture of %d tokens: per MoE layer counts sum to K*tokens, probabilities to tokens",
           B * T);

    LayerShift shift[MODEL_MAX_LAYERS];
    double mean_token, mean_set;
    int rc = routing_shift_compare(&first, &second, shift, &mean_token, &mean_set);
    bool unchanged = rc == 0 && mean_token == 1.0 && mean_set == 1.0;
    for (int l = 0; l < L; l++)
        unchanged &= shift[l].total_variation == 0.0 && shift[l].kl == 0.0;
    tap_ok(unchanged, "two forwards of the same probe: overlaps exactly 1, TV and KL 0");

    int top_layer = -1, top_expert = 0;
    for (int l = 0; l < L && top_layer < 0; l++)
        if (c->layer_is_moe[l])
            top_layer = l;
    const double *counts = first.counts + (size_t)top_layer * E;
    for (int e = 1; e < E; e++)
        if (counts[e] > counts[top_expert])
            top_expert = e;
    double prob = 0.0;
    for (int n = 0; n < B * T; n++)
        prob += model->acts.layer[top_layer].router_probs[n * E + top_expert];
    tap_ok(routing_expert_rank(counts, E, top_expert) == 1 &&
           fabs(probe_routing_mean_prob(&first, top_layer, top_expert) - prob / (B * T)) < 1e-9,
           "the most selected expert of layer %d ranks 1; mean probability as in the activations",
           top_layer);

    /* The model is causal and routes each token alone, so the first PREFIX
     * tokens of each row route as in a forward of those prefixes only. */
    unsigned char mask[B * T] = {0};
    int prefix_ids[B * PREFIX];
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < PREFIX; t++) {
            mask[b * T + t] = 1;
            prefix_ids[b * PREFIX + t] = ids[b * T + t];
        }
    }
    ProbeRouting masked, prefix;
    probe_routing_capture(&masked, model, mask);
    model_forward(model, prefix_ids, NULL, B, PREFIX);
    probe_routing_capture(&prefix, model, NULL);
    size_t topk_size = (size_t)L * B * PREFIX * K;
    tap_ok(masked.tokens == B * PREFIX &&
           memcmp(masked.topk, prefix.topk, topk_size * sizeof(int)) == 0 &&
           max_difference(masked.counts, prefix.counts, (size_t)L * E) == 0.0 &&
           max_difference(masked.prob_sum, prefix.prob_sum, (size_t)L * E) < 1e-5,
           "masked-out tokens are excluded: the masked capture equals a forward of the prefixes");

    error_clear();
    rc = routing_shift_compare(&first, &masked, shift, &mean_token, &mean_set);
    tap_ok(rc == -1 && strstr(error_message(), "tokens"),
           "captures with different token counts are refused: %s", error_message());

    ProbeRouting empty;
    memset(mask, 0, sizeof mask);
    model_forward(model, ids, NULL, B, T);
    probe_routing_capture(&empty, model, mask);
    ProbeRouting empty_again;
    probe_routing_capture(&empty_again, model, mask);
    rc = routing_shift_compare(&empty, &empty_again, shift, &mean_token, &mean_set);
    tap_ok(empty.tokens == 0 && rc == -1 && strstr(error_message(), "no tokens"),
           "a probe with every token masked out is refused: %s", error_message());

    probe_routing_free(&first);
    probe_routing_free(&second);
    probe_routing_free(&masked);
    probe_routing_free(&prefix);
    probe_routing_free(&empty);
    probe_routing_free(&empty_again);
}

int main(void)
{
    test_token_overlap();
    test_set_overlap_and_rank();
    test_distances();
    test_compare_hand_made();

    char dir[4096];
    snprintf(dir, sizeof dir, "%s/fixtures/mcq/model", test_data_dir());
    Model model;
    if (!tap_ok(checkpoint_load(&model, dir, NULL) == 0, "load the fixture model")) {
        tap_diag("%s", error_message());
        return tap_done();
    }
    test_capture(&model);
    model_free(&model);
    return tap_done();
}
