/* Routing taps: per-expert statistics gathered during the forward pass that
 * already runs (never in a second pass). */
#ifndef UOE_ROUTING_H
#define UOE_ROUTING_H

#include <stdbool.h>

#include "model_config.h"

typedef struct {
    bool enabled;
    int num_layers;           /* L; rows for dense layers stay zero */
    int num_experts;          /* E */
    double tokens[MODEL_MAX_LAYERS];      /* tokens seen per layer */
    double *selected;         /* (L, E) times the expert was in the top-k */
    double *gate_mass;        /* (L, E) sum of top-k-masked gate values */
    double *prob_mass;        /* (L, E) sum of full softmax probabilities */
} RoutingTaps;

void routing_taps_init(RoutingTaps *taps, int num_layers, int num_experts);
void routing_taps_free(RoutingTaps *taps);
void routing_taps_reset(RoutingTaps *taps);

/* Adds one layer's routing of N tokens: topk_index and topk_gate (N, K),
 * router_probs (N, E). */
void routing_taps_accumulate(RoutingTaps *taps, int layer, const int *topk_index,
                             const float *topk_gate, const float *router_probs,
                             int N, int K);

#endif
