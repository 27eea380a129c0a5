#include "routing.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

void routing_taps_init(RoutingTaps *taps, int num_layers, int num_experts)
{
    CHECK(num_layers <= MODEL_MAX_LAYERS);
    memset(taps, 0, sizeof *taps);
    taps->num_layers = num_layers;
    taps->num_experts = num_experts;
    size_t cells = (size_t)num_layers * (size_t)(num_experts > 0 ? num_experts : 1);
    taps->selected = xcalloc(cells, sizeof(double));
    taps->gate_mass = xcalloc(cells, sizeof(double));
    taps->prob_mass = xcalloc(cells, sizeof(double));
}

void routing_taps_free(RoutingTaps *taps)
{
    free(taps->selected);
    free(taps->gate_mass);
    free(taps->prob_mass);
    memset(taps, 0, sizeof *taps);
}

void routing_taps_reset(RoutingTaps *taps)
{
    size_t cells = (size_t)taps->num_layers * (size_t)(taps->num_experts > 0 ? taps->num_experts : 1);
    memset(taps->tokens, 0, sizeof taps->tokens);
    memset(taps->selected, 0, cells * sizeof(double));
    memset(taps->gate_mass, 0, cells * sizeof(double));
    memset(taps->prob_mass, 0, cells * sizeof(double));
}

void routing_taps_accumulate(RoutingTaps *taps, int layer, const int *topk_index,
                             const float *topk_gate, const float *router_probs,
                             int N, int K)
{
    int E = taps->num_experts;
    double *selected = taps->selected + (size_t)layer * E;
    double *gate_mass = taps->gate_mass + (size_t)layer * E;
    double *prob_mass = taps->prob_mass + (size_t)layer * E;
    for (int n = 0; n < N; n++) {
        for (int k = 0; k < K; k++) {
            int e = topk_index[n * K + k];
            selected[e] += 1.0;
            gate_mass[e] += topk_gate[n * K + k];
        }
        for (int e = 0; e < E; e++)
            prob_mass[e] += router_probs[(size_t)n * E + e];
    }
    taps->tokens[layer] += N;
}
