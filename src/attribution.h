/* Expert attribution (METHOD.md §3): which routed experts a corpus uses.
 *
 * Eq. 2 scores expert i of layer l by the top-k-masked gate averaged over
 * the tokens of each sequence, then over the sequences:
 *   score_i^(l) = (1/Z) sum_j (1/L_j) sum_t g_{i,t}^(l)
 * Beside it: the share of token selections (a count) and the mean full-softmax
 * probability, the two alternatives the paper compares against. */
#ifndef UOE_ATTRIBUTION_H
#define UOE_ATTRIBUTION_H

#include <stdint.h>

#include "dataset.h"
#include "model.h"
#include "tokenizer.h"

typedef struct {
    int num_layers;           /* L; rows of dense layers stay zero */
    int num_experts;          /* E */
    int sequences;            /* Z */
    long tokens;
    double *gate_score;       /* (L, E) Eq. 2 */
    double *selection_share;  /* (L, E) fraction of the layer's K*tokens selections */
    double *prob_mean;        /* (L, E) mean softmax probability per token */
} Attribution;

/* Scores the first max_sequences texts of corpus (all when <= 0), one
 * sequence each, cut to the model's context. */
int attribution_compute(Model *model, const Tokenizer *tokenizer, const TextCorpus *corpus,
                        int max_sequences, Attribution *out);
void attribution_free(Attribution *attribution);
/* Reads what `uoe-wb attribute --json` wrote (its sequences, tokens and the
 * three (L, E) matrices), checked against the model's shape; errors name the
 * file and the key. */
int attribution_load(Attribution *attribution, const char *path, const ModelConfig *config);

typedef enum {
    ATTRIBUTION_GATE_SCORE,      /* Eq. 2, the paper's */
    ATTRIBUTION_SELECTION_SHARE, /* how often the expert is in the top-k */
    ATTRIBUTION_PROB_MEAN,       /* the mean full-softmax probability */
} AttributionStatistic;

/* Reads "gate", "selection" or "prob". */
int attribution_statistic_parse(const char *text, AttributionStatistic *statistic);
const char *attribution_statistic_name(AttributionStatistic statistic);
/* The (L, E) matrix of a statistic. */
const double *attribution_statistic(const Attribution *attribution, AttributionStatistic statistic);

/* The (layer, expert) pairs in decreasing order of a statistic, over MoE
 * layers only; writes up to max pairs into layers/experts and returns how
 * many. attribution_rank ranks by Eq. 2. */
int attribution_rank_by(const Attribution *attribution, const ModelConfig *config,
                        AttributionStatistic statistic, int *layers, int *experts, int max);
int attribution_rank(const Attribution *attribution, const ModelConfig *config, int *layers,
                     int *experts, int max);

/* The stability of the ranking (the paper's Table 8): the corpus is split
 * into two disjoint halves by a seeded shuffle (at most max_sequences texts
 * in all when > 0), each half is scored once, and overlap[i] is the fraction
 * of the top_m[i] (layer, expert) pairs of one half that are also in the
 * other's, for each of the count sizes. */
int attribution_half_overlap(Model *model, const Tokenizer *tokenizer, const TextCorpus *corpus,
                             int max_sequences, uint64_t seed, AttributionStatistic statistic,
                             const int *top_m, int count, double *overlap);

#endif
