/* Expert attribution (Eq. 2) on the small fixture model: checked against the
 * same quantity assembled from the routing taps, per sequence, and for the
 * ranking and normalisation of the three statistics. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attribution.h"
#include "checkpoint.h"
#include "error.h"
#include "tap.h"
#include "test_util.h"

static char *texts[] = {
    "The river runs north of the old mill.",
    "Question: who founded the club?\nAnswer: a baker",
    "Seven",
};

int main(void)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/fixtures/mcq/model", test_data_dir());
    Model model;
    Tokenizer *tokenizer;
    if (!tap_ok(checkpoint_load(&model, dir, NULL) == 0 && tokenizer_load(&tokenizer, dir) == 0,
                "load the fixture model and its tokenizer")) {
        tap_diag("%s", error_message());
        return tap_done();
    }
    TextCorpus corpus = {texts, 3};
    Attribution a;
    int rc = attribution_compute(&model, tokenizer, &corpus, 0, &a);
    tap_ok(rc == 0 && a.sequences == 3, "attribution over 3 sequences");

    /* Eq. 2 from the routing taps: per sequence, the top-k gate mass over its length */
    const ModelConfig *c = &model.config;
    int L = c->num_layers, E = c->num_experts;
    double *expected = calloc((size_t)L * E, sizeof(double));
    long tokens = 0;
    model.taps.enabled = true;
    for (int i = 0; i < 3; i++) {
        int *ids, T;
        tokenizer_encode(tokenizer, texts[i], strlen(texts[i]), &ids, &T);
        routing_taps_reset(&model.taps);
        model_forward(&model, ids, NULL, 1, T);
        for (size_t j = 0; j < (size_t)L * E; j++)
            expected[j] += model.taps.gate_mass[j] / T / 3.0;
        tokens += T;
        free(ids);
    }
    double worst = 0.0, share_error = 0.0, prob_error = 0.0;
    for (int l = 0; l < L; l++) {
        double share_sum = 0.0, prob_sum = 0.0;
        for (int e = 0; e < E; e++) {
            worst = fmax(worst, fabs(a.gate_score[l * E + e] - expected[l * E + e]));
            share_sum += a.selection_share[l * E + e];
            prob_sum += a.prob_mean[l * E + e];
        }
        if (c->layer_is_moe[l]) {
            share_error = fmax(share_error, fabs(share_sum - 1.0));
            prob_error = fmax(prob_error, fabs(prob_sum - 1.0));
        }
    }
    tap_ok(a.tokens == tokens && worst < 1e-7,
           "Eq. 2 scores equal the per-sequence mean gate built from the routing taps (max diff %.2g)",
           worst);
    tap_ok(share_error < 1e-9 && prob_error < 1e-6,
           "in each MoE layer the selection shares and the mean probabilities sum to 1");

    int layers[8], experts[8];
    int n = attribution_rank(&a, c, layers, experts, 8);
    bool sorted = n == 8, moe_only = true;
    for (int i = 0; i < n; i++) {
        moe_only &= c->layer_is_moe[layers[i]];
        if (i > 0)
            sorted &= a.gate_score[layers[i - 1] * E + experts[i - 1]] >= a.gate_score[layers[i] * E + experts[i]];
    }
    double best = 0.0;
    for (int l = 0; l < L; l++)
        for (int e = 0; e < E; e++)
            best = fmax(best, a.gate_score[l * E + e]);
    tap_ok(sorted && moe_only && a.gate_score[layers[0] * E + experts[0]] == best,
           "the ranking starts at the global argmax and decreases, over MoE layers only");

    n = attribution_rank_by(&a, c, ATTRIBUTION_SELECTION_SHARE, layers, experts, 8);
    sorted = n == 8;
    for (int i = 1; i < n; i++)
        sorted &= a.selection_share[layers[i - 1] * E + experts[i - 1]] >=
                  a.selection_share[layers[i] * E + experts[i]];
    tap_ok(sorted, "ranking by selection share orders the pairs by that statistic");

    /* Table 8: halves of a corpus of one repeated text rank identically */
    char *same[6];
    for (int i = 0; i < 6; i++)
        same[i] = texts[0];
    TextCorpus repeated = {same, 6};
    const int sizes[2] = {1, 4};
    double overlaps[2] = {-1, -1};
    int rc_same = attribution_half_overlap(&model, tokenizer, &repeated, 0, 3, ATTRIBUTION_GATE_SCORE,
                                           sizes, 2, overlaps);
    tap_ok(rc_same == 0 && overlaps[0] == 1.0 && overlaps[1] == 1.0,
           "two halves of one repeated text share their top 1 and top 4 (%.2f, %.2f)", overlaps[0],
           overlaps[1]);
    double overlap_mixed = -1;
    tap_ok(attribution_half_overlap(&model, tokenizer, &corpus, 0, 3, ATTRIBUTION_GATE_SCORE, sizes + 1,
                                    1, &overlap_mixed) == 0 && overlap_mixed >= 0 && overlap_mixed <= 1,
           "halves of different texts give an overlap in [0, 1] (%.2f)", overlap_mixed);
    TextCorpus single = {texts, 1};
    tap_ok(attribution_half_overlap(&model, tokenizer, &single, 0, 3, ATTRIBUTION_GATE_SCORE, sizes, 1,
                                    &overlap_mixed) < 0 && strstr(error_message(), "2 texts"),
           "one text cannot be split into halves");
    const int too_many = 999;
    tap_ok(attribution_half_overlap(&model, tokenizer, &corpus, 0, 3, ATTRIBUTION_GATE_SCORE, &too_many,
                                    1, &overlap_mixed) < 0 && strstr(error_message(), "top 999"),
           "a top larger than the (layer, expert) pairs is refused");

    TextCorpus empty_texts = {(char *[]){""}, 1};
    Attribution none;
    tap_ok(attribution_compute(&model, tokenizer, &empty_texts, 0, &none) == -1 &&
           strstr(error_message(), "empty"), "a corpus of empty texts is refused");

    free(expected);
    attribution_free(&a);
    tokenizer_free(tokenizer);
    model_free(&model);
    return tap_done();
}
