#include "attribution.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "json_util.h"
#include "rng.h"

/* Sequences per forward pass: short texts are padded to the longest of the
 * batch, and the padding never enters the statistics. */
#define ATTRIBUTION_BATCH 32

/* Adds the per-token gates of row b (its first T tokens) of the latest
 * forward, of width Tmax, for every MoE layer. */
static void accumulate_sequence(const Model *m, int b, int T, int Tmax, Attribution *a)
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
            size_t n = (size_t)b * Tmax + t;
            for (int k = 0; k < K; k++) {
                int e = la->topk_index[n * K + k];
                score[e] += la->topk_gate[n * K + k] / T;   /* the 1/L_j of Eq. 2 */
                share[e] += 1.0;
            }
            for (int e = 0; e < E; e++)
                prob[e] += la->router_probs[n * E + e];
        }
    }
}

/* Tokenises text i, cut to the model's context; checks the ids fit the model. */
static int encode_sequence(const Model *model, const Tokenizer *tokenizer, const char *text,
                           int index, int **ids, int *length)
{
    const ModelConfig *c = &model->config;
    if (tokenizer_encode(tokenizer, text, strlen(text), ids, length) < 0)
        return error_prefix("text %d", index + 1);
    for (int t = 0; t < *length; t++) {
        if ((*ids)[t] >= c->vocab_size) {
            error_set("text %d: token id %d is outside the model's vocabulary (%d)", index + 1,
                      (*ids)[t], c->vocab_size);
            free(*ids);
            return -1;
        }
    }
    if (*length > c->max_position_embeddings)
        *length = c->max_position_embeddings;
    return 0;
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
    int *ids[ATTRIBUTION_BATCH], lengths[ATTRIBUTION_BATCH];
    for (int first = 0; first < count; first += ATTRIBUTION_BATCH) {
        int rows = count - first < ATTRIBUTION_BATCH ? count - first : ATTRIBUTION_BATCH;
        int Tmax = 0, encoded = 0, rc = 0;
        for (; encoded < rows && rc == 0; encoded++) {
            rc = encode_sequence(model, tokenizer, corpus->texts[first + encoded], first + encoded,
                                 &ids[encoded], &lengths[encoded]);
            if (rc == 0 && lengths[encoded] > Tmax)
                Tmax = lengths[encoded];
        }
        if (rc < 0) {
            for (int b = 0; b < encoded - 1; b++)
                free(ids[b]);
            attribution_free(a);
            return -1;
        }
        if (Tmax > 0) {
            int *batch = xcalloc((size_t)rows * Tmax, sizeof(int)); /* (rows, Tmax), padded with id 0 */
            for (int b = 0; b < rows; b++)
                memcpy(batch + (size_t)b * Tmax, ids[b], (size_t)lengths[b] * sizeof(int));
            model_forward(model, batch, NULL, rows, Tmax);
            free(batch);
        }
        for (int b = 0; b < rows; b++) {
            if (lengths[b] > 0) {
                accumulate_sequence(model, b, lengths[b], Tmax, a);
                a->sequences++;
                a->tokens += lengths[b];
            }
            free(ids[b]);
        }
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

static const char *const statistic_names[] = {"gate", "selection", "prob"};

int attribution_statistic_parse(const char *text, AttributionStatistic *statistic)
{
    for (int i = 0; i < 3; i++) {
        if (strcmp(text, statistic_names[i]) == 0) {
            *statistic = (AttributionStatistic)i;
            return 0;
        }
    }
    return error_set("unknown attribution statistic '%s' (expected gate, selection or prob)", text);
}

const char *attribution_statistic_name(AttributionStatistic statistic)
{
    return statistic_names[statistic];
}

const double *attribution_statistic(const Attribution *a, AttributionStatistic statistic)
{
    switch (statistic) {
    case ATTRIBUTION_SELECTION_SHARE: return a->selection_share;
    case ATTRIBUTION_PROB_MEAN: return a->prob_mean;
    default: return a->gate_score;
    }
}

int attribution_rank_by(const Attribution *a, const ModelConfig *config,
                        AttributionStatistic statistic, int *layers, int *experts, int max)
{
    const double *value = attribution_statistic(a, statistic); /* (L, E) */
    int n = 0, E = a->num_experts;
    /* insertion into a sorted prefix: the ranking wanted is short */
    for (int l = 0; l < a->num_layers; l++) {
        if (!config->layer_is_moe[l])
            continue;
        for (int e = 0; e < E; e++) {
            double score = value[(size_t)l * E + e];
            int at = n < max ? n : max;
            while (at > 0 && value[(size_t)layers[at - 1] * E + experts[at - 1]] < score)
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

int attribution_rank(const Attribution *a, const ModelConfig *config, int *layers, int *experts,
                     int max)
{
    return attribution_rank_by(a, config, ATTRIBUTION_GATE_SCORE, layers, experts, max);
}

int attribution_half_overlap(Model *model, const Tokenizer *tokenizer, const TextCorpus *corpus,
                             int max_sequences, uint64_t seed, AttributionStatistic statistic,
                             const int *top_m, int count, double *overlap)
{
    int total = max_sequences > 0 && max_sequences < corpus->count ? max_sequences : corpus->count;
    if (total < 2)
        return error_set("two halves need at least 2 texts; there are %d", total);
    int ranked_max = model->config.num_layers * model->config.num_experts;
    for (int i = 0; i < count; i++)
        if (top_m[i] < 1 || top_m[i] > ranked_max)
            return error_set("cannot compare the top %d of %d (layer, expert) pairs", top_m[i],
                             ranked_max);
    int *order = xmalloc((size_t)corpus->count * sizeof(int));
    for (int i = 0; i < corpus->count; i++)
        order[i] = i;
    Rng rng;
    rng_seed(&rng, seed);
    for (int i = corpus->count - 1; i > 0; i--) {
        int j = (int)rng_below(&rng, (uint64_t)i + 1), swap = order[i];
        order[i] = order[j];
        order[j] = swap;
    }
    /* each half's whole ranking: (ranked_max) pairs */
    int *layers[2], *experts[2], ranked[2] = {0, 0}, rc = 0;
    for (int h = 0; h < 2; h++) {
        int first = h == 0 ? 0 : total / 2, size = h == 0 ? total / 2 : total - total / 2;
        char **texts = xmalloc((size_t)size * sizeof(char *));
        for (int i = 0; i < size; i++)
            texts[i] = corpus->texts[order[first + i]];
        TextCorpus half = {texts, size};
        Attribution a;
        layers[h] = xmalloc((size_t)ranked_max * sizeof(int));
        experts[h] = xmalloc((size_t)ranked_max * sizeof(int));
        if (rc == 0 && (rc = attribution_compute(model, tokenizer, &half, 0, &a)) == 0) {
            ranked[h] = attribution_rank_by(&a, &model->config, statistic, layers[h], experts[h],
                                            ranked_max);
            attribution_free(&a);
        }
        free(texts);
    }
    for (int i = 0; rc == 0 && i < count; i++) {
        int m = top_m[i], shared = 0;
        if (m > ranked[0]) {
            rc = error_set("the model has %d routed experts; cannot compare the top %d", ranked[0], m);
            break;
        }
        for (int a = 0; a < m; a++)
            for (int b = 0; b < m; b++)
                shared += layers[0][a] == layers[1][b] && experts[0][a] == experts[1][b];
        overlap[i] = (double)shared / m;
    }
    for (int h = 0; h < 2; h++) {
        free(layers[h]);
        free(experts[h]);
    }
    free(order);
    return rc;
}
/* Reads an (L, E) matrix of numbers, key `key` of root, into out (L*E). */
static int read_matrix(const json_t *root, const char *path, const char *key, int L, int E,
                       double *out)
{
    const json_t *rows = json_object_get(root, key);
    if (!json_is_array(rows) || (int)json_array_size(rows) != L)
        return error_set("%s: \"%s\" must be an array of %d layers", path, key, L);
    for (int l = 0; l < L; l++) {
        const json_t *row = json_array_get(rows, (size_t)l);
        if (!json_is_array(row) || (int)json_array_size(row) != E)
            return error_set("%s: \"%s\" layer %d must hold %d experts", path, key, l, E);
        for (int e = 0; e < E; e++) {
            const json_t *value = json_array_get(row, (size_t)e);
            if (!json_is_number(value))
                return error_set("%s: \"%s\"[%d][%d] is not a number", path, key, l, e);
            out[(size_t)l * E + e] = json_number_value(value);
        }
    }
    return 0;
}

int attribution_load(Attribution *a, const char *path, const ModelConfig *config)
{
    memset(a, 0, sizeof *a);
    json_t *root = json_load_object(path);
    if (!root)
        return -1;
    int L = config->num_layers, E = config->num_experts;
    a->num_layers = L;
    a->num_experts = E;
    a->gate_score = xcalloc((size_t)L * E, sizeof(double));
    a->selection_share = xcalloc((size_t)L * E, sizeof(double));
    a->prob_mean = xcalloc((size_t)L * E, sizeof(double));
    const char *const sequences_key[] = {"sequences", NULL};
    int rc = json_read_int(root, path, sequences_key, true, &a->sequences);
    const json_t *tokens = json_object_get(root, "tokens");
    if (rc == 0 && !json_is_integer(tokens))
        rc = error_set("%s: \"tokens\" must be an integer", path);
    if (rc == 0) {
        a->tokens = (long)json_integer_value(tokens);
        rc = read_matrix(root, path, "gate_score", L, E, a->gate_score);
    }
    if (rc == 0)
        rc = read_matrix(root, path, "selection_share", L, E, a->selection_share);
    if (rc == 0)
        rc = read_matrix(root, path, "prob_mean", L, E, a->prob_mean);
    json_decref(root);
    if (rc < 0)
        attribution_free(a);
    return rc;
}
