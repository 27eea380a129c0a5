/* Expert attribution (METHOD.md §3): which routed experts a corpus uses.
 *
 * Eq. 2 scores expert i of layer l by the top-k-masked gate averaged over
 * the tokens of each sequence, then over the sequences:
 *   score_i^(l) = (1/Z) sum_j (1/L_j) sum_t g_{i,t}^(l)
 * Beside it: the share of token selections (a count) and the mean full-softmax
 * probability, the two alternatives the paper compares against. */
#ifndef UOE_ATTRIBUTION_H
#define UOE_ATTRIBUTION_H

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

/* The (layer, expert) pairs in decreasing Eq. 2 score, over MoE layers only;
 * writes up to max pairs into layers/experts and returns how many. */
int attribution_rank(const Attribution *attribution, const ModelConfig *config, int *layers,
                     int *experts, int max);

#endif
