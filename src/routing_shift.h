/* Expert-selection shift: how far unlearning moves the routing of a fixed
 * probe batch. The routing at step 0 and at step s are two ProbeRouting
 * captures of the same probe tokens, compared per MoE layer by:
 *   token overlap    mean over probe tokens t of |TopK_0(t) ∩ TopK_s(t)| / K;
 *   set overlap      |S_0 ∩ S_s| / K, S the K experts receiving the most
 *                    selections in the layer (ties go to the lower index);
 *   total variation  0.5 * sum_e |p0_e - ps_e|;
 *   KL(p0 || ps)     sum_e p0_e * ln(p0_e / ps_e), in nats,
 * where p_e = selections of e / (K * tokens) is the layer's selection
 * distribution. For KL both distributions are smoothed first: EPSILON is added
 * to every entry and the result renormalised, p'_e = (p_e + EPSILON) /
 * (1 + E * EPSILON), so that an expert that stops being selected gives a large
 * but finite divergence.
 * Beside these, the rank of a target expert in its layer by selection count
 * and its mean router probability over the probe tokens.
 *
 * The metric functions take raw arrays, so that they work on any routing. */
#ifndef UOE_ROUTING_SHIFT_H
#define UOE_ROUTING_SHIFT_H

#include <stdbool.h>

#include "model.h"

/* The smoothing added to each entry of a selection distribution before KL. */
#define ROUTING_KL_EPSILON 1e-6

/* The routing of a probe batch, copied out of the activations of a forward.
 * Only the masked-in tokens are kept, in batch order. */
typedef struct {
    int num_layers;             /* L */
    int num_experts;            /* E */
    int experts_per_token;      /* K */
    int tokens;                 /* N_used, masked-in tokens */
    bool is_moe[MODEL_MAX_LAYERS]; /* per layer; dense layers have no routing */
    int *topk;                  /* (L, N_used, K) chosen experts; rows of dense layers are -1 */
    double *counts;             /* (L, E) times each expert was chosen; dense rows are 0 */
    double *prob_sum;           /* (L, E) sums of full softmax router probabilities; dense
                                   rows are 0 */
} ProbeRouting;

/* Copies the routing of the latest model_forward, whose N = acts.B * acts.T
 * tokens are selected by token_mask (N), 1 = real token; NULL keeps all. */
void probe_routing_capture(ProbeRouting *out, const Model *model,
                           const unsigned char *token_mask);
void probe_routing_free(ProbeRouting *probe);

/* Mean over the probe tokens of the router probability of expert in layer
 * (0 when the probe has no tokens). */
double probe_routing_mean_prob(const ProbeRouting *probe, int layer, int expert);

/* Mean over tokens of the fraction of the K experts of topk0 (tokens, K)
 * also chosen in topk1 (tokens, K). tokens > 0; a row holds K distinct experts. */
double routing_token_overlap(const int *topk0, const int *topk1, int tokens, int K);
/* Fraction of the K most selected experts of counts0 (E) that are also among
 * the K most selected of counts1 (E). */
double routing_set_overlap(const double *counts0, const double *counts1, int E, int K);
/* Total-variation distance between the selection distributions of counts0
 * (E) and counts1 (E); each must have a positive total. */
double routing_total_variation(const double *counts0, const double *counts1, int E);
/* KL(p0 || p1) in nats between the smoothed selection distributions of
 * counts0 (E) and counts1 (E); each must have a positive total. */
double routing_kl_divergence(const double *counts0, const double *counts1, int E);
/* Rank of expert by counts (E): 1 = most selected; equal counts are ordered
 * by lower expert index first, so ranks are distinct. */
int routing_expert_rank(const double *counts, int E, int expert);

typedef struct {
    double token_overlap, set_overlap, total_variation, kl;
} LayerShift;

/* Compares two captures of the same probe batch. Fills per_layer (L), rows of
 * dense layers zero, and the means over MoE layers of the two overlaps.
 * Returns -1 with the error recorded when the captures differ in layers,
 * experts, K, tokens or which layers are MoE, or hold no tokens. */
int routing_shift_compare(const ProbeRouting *before, const ProbeRouting *after,
                          LayerShift *per_layer, double *mean_token_overlap,
                          double *mean_set_overlap);

#endif
