#include "attribution.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

/* Adds one sequence's per-token gates of every MoE layer. */
static void accumulate_sequence(const Model *m, int T, Attribution *a)
{
    const ModelConfig *c = &m->config;
    int E = c->num_experts, K = c->experts_per_token;
    for (int l = 0; l < c->num_layers; l++) {
        if (!c->layer_is_moe[l])
            continue;
        const LayerActs *la = &m->acts.layer[l];
        double *score = a->gate_score + (size_t)l * E;
        double *share = a->selection_share + (size_t)l * E;
        double *prob = a->prob_mean + (size_t)l * E;
        for (int t = 0; t < T; t++) {
            for (int k = 0; k < K; k++) {
                int e = la->topk_index[t * K + k];
                score[e] += la->topk_gate[t * K + k] / T;   /* the 1/L_j of Eq. 2 */
                share[e] += 1.0;
            }
            for (int e = 0; e < E; e++)
                prob[e] += la->router_probs[(size_t)t * E + e];
        }
    }
}

int attribution_compute(Model *model, const Tokenizer *tokenizer, const TextCorpus *corpus,
                        int max_sequences, Attribution *a)
{
    const ModelConfig *c = &model->config;
    int L = c->num_layers, E = c->num_experts, K = c->experts_per_token;
    memset(a, 0, sizeof *a);
    a->num_layers = L;
    a->num_experts = E;
    a->gate_score = xcalloc((size_t)L * E, sizeof(double));
    a->selection_share = xcalloc((size_t)L * E, sizeof(double));
    a->prob_mean = xcalloc((size_t)L * E, sizeof(double));
    int count = max_sequences > 0 && max_sequences < corpus->count ? max_sequences : corpus->count;
    for (int i = 0; i < count; i++) {
        int *ids, T;
        if (tokenizer_encode(tokenizer, corpus->texts[i], strlen(corpus->texts[i]), &ids, &T) < 0) {
            attribution_free(a);
            return error_prefix("text %d", i + 1);
        }
        for (int t = 0; t < T; t++) {
            if (ids[t] >= c->vocab_size) {
                free(ids);
                attribution_free(a);
                return error_set("text %d: token id %d is outside the model's vocabulary (%d)",
                                 i + 1, ids[t], c->vocab_size);
            }
        }
        if (T > c->max_position_embeddings)
            T = c->max_position_embeddings;
        if (T > 0) {
            model_forward(model, ids, NULL, 1, T);
            accumulate_sequence(model, T, a);
            a->sequences++;
            a->tokens += T;
        }
        free(ids);
    }
    if (a->sequences == 0) {
        attribution_free(a);
        return error_set("no text to attribute (every text is empty)");
    }
    for (size_t i = 0; i < (size_t)L * E; i++) {
        a->gate_score[i] /= a->sequences;
        a->selection_share[i] /= (double)a->tokens * K;
        a->prob_mean[i] /= (double)a->tokens;
    }
    return 0;
}

void attribution_free(Attribution *a)
{
    free(a->gate_score);
    free(a->selection_share);
    free(a->prob_mean);
    memset(a, 0, sizeof *a);
}

int attribution_rank(const Attribution *a, const ModelConfig *config, int *layers, int *experts,
                     int max)
{
    int n = 0, E = a->num_experts;
    /* insertion into a sorted prefix: the ranking wanted is short */
    for (int l = 0; l < a->num_layers; l++) {
        if (!config->layer_is_moe[l])
            continue;
        for (int e = 0; e < E; e++) {
            double score = a->gate_score[(size_t)l * E + e];
            int at = n < max ? n : max;
            while (at > 0 && a->gate_score[(size_t)layers[at - 1] * E + experts[at - 1]] < score)
                at--;
            if (at >= max)
                continue;
            int last = n < max ? n : max - 1;
            memmove(layers + at + 1, layers + at, (size_t)(last - at) * sizeof(int));
            memmove(experts + at + 1, experts + at, (size_t)(last - at) * sizeof(int));
            layers[at] = l;
            experts[at] = e;
            if (n < max)
                n++;
        }
    }
    return n;
}
