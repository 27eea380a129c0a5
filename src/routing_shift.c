/* Expert-selection shift (routing_shift.h): probe captures and the metrics
 * comparing two of them. */
#include "routing_shift.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

void probe_routing_capture(ProbeRouting *out, const Model *model, const unsigned char *token_mask)
{
    const ModelConfig *c = &model->config;
    int L = c->num_layers, E = c->num_experts, K = c->experts_per_token;
    int N = model->acts.B * model->acts.T;
    memset(out, 0, sizeof *out);
    out->num_layers = L;
    out->num_experts = E;
    out->experts_per_token = K;
    for (int n = 0; n < N; n++)
        out->tokens += !token_mask || token_mask[n];
    memcpy(out->is_moe, c->layer_is_moe, sizeof out->is_moe);
    size_t row = (size_t)out->tokens * K;
    out->topk = xmalloc((size_t)L * row * sizeof(int));
    out->counts = xcalloc((size_t)L * E, sizeof(double));
    out->prob_sum = xcalloc((size_t)L * E, sizeof(double));
    for (int l = 0; l < L; l++) {
        int *topk = out->topk + (size_t)l * row;
        if (!c->layer_is_moe[l]) {
            for (size_t i = 0; i < row; i++)
                topk[i] = -1;
            continue;
        }
        const LayerActs *la = &model->acts.layer[l];
        double *counts = out->counts + (size_t)l * E;
        double *prob_sum = out->prob_sum + (size_t)l * E;
        int used = 0;
        for (int n = 0; n < N; n++) {
            if (token_mask && !token_mask[n])
                continue;
            const int *chosen = la->topk_index + (size_t)n * K;
            memcpy(topk + (size_t)used * K, chosen, (size_t)K * sizeof(int));
            for (int k = 0; k < K; k++)
                counts[chosen[k]] += 1.0;
            for (int e = 0; e < E; e++)
                prob_sum[e] += la->router_probs[(size_t)n * E + e];
            used++;
        }
    }
}

void probe_routing_free(ProbeRouting *probe)
{
    free(probe->topk);
    free(probe->counts);
    free(probe->prob_sum);
    memset(probe, 0, sizeof *probe);
}

double probe_routing_mean_prob(const ProbeRouting *probe, int layer, int expert)
{
    if (probe->tokens == 0)
        return 0.0;
    return probe->prob_sum[(size_t)layer * probe->num_experts + expert] / probe->tokens;
}

double routing_token_overlap(const int *topk0, const int *topk1, int tokens, int K)
{
    CHECK(tokens > 0 && K > 0);
    long shared = 0;
    for (int t = 0; t < tokens; t++) {
        const int *row0 = topk0 + (size_t)t * K, *row1 = topk1 + (size_t)t * K;
        for (int i = 0; i < K; i++)
            for (int j = 0; j < K; j++)
                shared += row0[i] == row1[j];
    }
    return (double)shared / ((double)tokens * K);
}

int routing_expert_rank(const double *counts, int E, int expert)
{
    int rank = 1;
    for (int e = 0; e < E; e++)
        rank += counts[e] > counts[expert] || (counts[e] == counts[expert] && e < expert);
    return rank;
}

double routing_set_overlap(const double *counts0, const double *counts1, int E, int K)
{
    CHECK(K > 0 && K <= E);
    int shared = 0;
    for (int e = 0; e < E; e++)
        shared += routing_expert_rank(counts0, E, e) <= K &&
                  routing_expert_rank(counts1, E, e) <= K;
    return (double)shared / K;
}

/* Sum of counts (E), which must be positive to define a distribution. */
static double positive_total(const double *counts, int E)
{
    double total = 0.0;
    for (int e = 0; e < E; e++)
        total += counts[e];
    CHECK(total > 0.0);
    return total;
}

double routing_total_variation(const double *counts0, const double *counts1, int E)
{
    double total0 = positive_total(counts0, E), total1 = positive_total(counts1, E);
    double distance = 0.0;
    for (int e = 0; e < E; e++)
        distance += fabs(counts0[e] / total0 - counts1[e] / total1);
    return 0.5 * distance;
}

double routing_kl_divergence(const double *counts0, const double *counts1, int E)
{
    double total0 = positive_total(counts0, E), total1 = positive_total(counts1, E);
    double normaliser = 1.0 + E * ROUTING_KL_EPSILON;
    double divergence = 0.0;
    for (int e = 0; e < E; e++) {
        double p = (counts0[e] / total0 + ROUTING_KL_EPSILON) / normaliser;
        double q = (counts1[e] / total1 + ROUTING_KL_EPSILON) / normaliser;
        divergence += p * log(p / q);
    }
    return divergence;
}

int routing_shift_compare(const ProbeRouting *before, const ProbeRouting *after,
                          LayerShift *per_layer, double *mean_token_overlap,
                          double *mean_set_overlap)
{
    if (before->num_layers != after->num_layers || before->num_experts != after->num_experts ||
        before->experts_per_token != after->experts_per_token)
        return error_set("routing shift: captures of different models (%d layers, %d experts, "
                         "top-%d against %d layers, %d experts, top-%d)",
                         before->num_layers, before->num_experts, before->experts_per_token,
                         after->num_layers, after->num_experts, after->experts_per_token);
    if (before->tokens != after->tokens)
        return error_set("routing shift: captures of different probes (%d tokens against %d)",
                         before->tokens, after->tokens);
    if (before->tokens == 0)
        return error_set("routing shift: the probe holds no tokens");
    int L = before->num_layers, E = before->num_experts, K = before->experts_per_token;
    for (int l = 0; l < L; l++)
        if (before->is_moe[l] != after->is_moe[l])
            return error_set("routing shift: layer %d is MoE in one capture and dense in the other",
                             l);
    size_t row = (size_t)before->tokens * K;
    double token_sum = 0.0, set_sum = 0.0;
    int moe_layers = 0;
    for (int l = 0; l < L; l++) {
        LayerShift *shift = &per_layer[l];
        memset(shift, 0, sizeof *shift);
        if (!before->is_moe[l])
            continue;
        const double *counts0 = before->counts + (size_t)l * E;
        const double *counts1 = after->counts + (size_t)l * E;
        shift->token_overlap = routing_token_overlap(before->topk + l * row, after->topk + l * row,
                                                     before->tokens, K);
        shift->set_overlap = routing_set_overlap(counts0, counts1, E, K);
        shift->total_variation = routing_total_variation(counts0, counts1, E);
        shift->kl = routing_kl_divergence(counts0, counts1, E);
        token_sum += shift->token_overlap;
        set_sum += shift->set_overlap;
        moe_layers++;
    }
    *mean_token_overlap = moe_layers > 0 ? token_sum / moe_layers : 0.0;
    *mean_set_overlap = moe_layers > 0 ? set_sum / moe_layers : 0.0;
    return 0;
}
