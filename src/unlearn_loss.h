/* The unlearning objectives (METHOD.md §5, §6) as loss terms on the outputs
 * of the latest forward pass. Each term returns its value and writes the
 * upstream gradient that model_backward takes: per-token NLL weights, a
 * gradient on one layer's router probabilities, or a gradient on the
 * residual stream leaving one layer. Every term names its reduction.
 *
 * A batch holds one document per row, right padded: the losses that work per
 * sequence (NPO, SimNPO) need the rows to be whole sequences, and padding is
 * left out of every term. */
#ifndef UOE_UNLEARN_LOSS_H
#define UOE_UNLEARN_LOSS_H

#include <stdint.h>

#include "model.h"
#include "train.h"

typedef struct {
    int B, T;               /* rows, and the length of the longest row */
    int *ids;               /* (B, T); padding is id 0 */
    int *targets;           /* (B, T) the next token; -1 at padding and at a row's last token */
    int *lengths;           /* (B) real tokens per row */
    int capacity;           /* allocated B*T */
} SequenceBatch;

/* Fills batch with documents[indices[0..count)], one per row, each cut to its
 * first max_len tokens. */
void sequence_batch_fill(SequenceBatch *batch, const Document *documents, const int *indices,
                         int count, int max_len);
void sequence_batch_free(SequenceBatch *batch);
/* Whether token n = b*T + t of the batch is a real token (not padding). */
static inline int sequence_batch_is_real(const SequenceBatch *batch, int n)
{
    return n % batch->T < batch->lengths[n / batch->T];
}

/* The residual stream (N, C) leaving layer `layer` in the latest forward. */
const float *model_layer_output(const Model *model, int layer);

/* Summed NLL of each row, over its targets: seq_nll (B). */
void sequence_nll(const Model *model, const SequenceBatch *batch, double *seq_nll);

/* Spreads a per-row gradient d_row (B), d loss / d seqNLL of each row, onto
 * the row's target tokens: writes d_token_nll (N). */
void spread_row_gradient(const Model *model, const SequenceBatch *batch, const double *d_row,
                         float *d_token_nll);

/* weight * mean token NLL over every target of the batch ("token mean").
 * GA is weight -1 on the forget batch, the retain term weight λ. Writes
 * d_token_nll (N). */
double nll_term(const Model *model, float weight, float *d_token_nll);

/* NPO: -(2/β) mean_rows log σ(-β (seqNLL_ref - seqNLL_θ)) ("row mean of the
 * per-row summed NLL"), with ref_seq_nll (B) from the frozen reference.
 * Writes d_token_nll (N). */
double npo_term(const Model *model, const SequenceBatch *batch, const double *ref_seq_nll,
                float beta, float *d_token_nll);

/* SimNPO: -(2/β) mean_rows log σ(β seqNLL_θ / len - δ), len the row's target
 * count ("row mean of the per-row mean NLL"). Writes d_token_nll (N). */
double simnpo_term(const Model *model, const SequenceBatch *batch, float beta, float delta,
                   float *d_token_nll);

typedef enum {
    ANCHOR_SCALE_PAPER, /* ||s_t - onehot||² summed over experts, mean over tokens */
    ANCHOR_SCALE_CODE,  /* mse_loss(mean) over tokens x experts: the paper's / E */
} AnchorScale;

/* The router anchor (Eq. 3): alpha * the distance of the full softmax s at
 * `layer` from onehot(expert), over the batch's real tokens, at the given
 * scale. Writes d_router_probs (N, E). */
double router_anchor_term(const Model *model, const SequenceBatch *batch, int layer, int expert,
                          AnchorScale scale, float alpha, float *d_router_probs);

/* weight * mean over real tokens and hidden units of (h - target)², h the
 * residual stream leaving `layer` (torch's mse_loss with mean reduction, as
 * RMU's code uses). target is one (C) vector for every token when
 * per_token_target is 0 (RMU's c·u), else (N, C) (the reference's stream).
 * Writes d_hidden (N, C). */
double activation_mse_term(const Model *model, const SequenceBatch *batch, int layer,
                           const float *target, int per_token_target, float weight,
                           float *d_hidden);

/* RMU's control vector c·u (C): u uniform in [0, 1) per unit, then scaled to
 * unit length, drawn from seed. */
void rmu_control_vector(float *control, int C, float coeff, uint64_t seed);

/* log σ(z), computed without overflow. */
double log_sigmoid(double z);

#endif
