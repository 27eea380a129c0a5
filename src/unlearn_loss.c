#include "unlearn_loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "rng.h"

void sequence_batch_fill(SequenceBatch *batch, const Document *documents, const int *indices,
                         int count, int max_len)
{
    int T = 1;
    for (int b = 0; b < count; b++) {
        int length = documents[indices[b]].length;
        T = length > T ? length : T;
    }
    T = T < max_len ? T : max_len;
    if (count * T > batch->capacity) {
        batch->capacity = count * T;
        batch->ids = xrealloc(batch->ids, (size_t)batch->capacity * sizeof(int));
        batch->targets = xrealloc(batch->targets, (size_t)batch->capacity * sizeof(int));
    }
    batch->lengths = xrealloc(batch->lengths, (size_t)(count > 0 ? count : 1) * sizeof(int));
    batch->B = count;
    batch->T = T;
    for (int b = 0; b < count; b++) {
        const Document *d = &documents[indices[b]];
        int length = d->length < T ? d->length : T;
        int *row_ids = batch->ids + (size_t)b * T, *row_targets = batch->targets + (size_t)b * T;
        batch->lengths[b] = length;
        for (int t = 0; t < T; t++) {
            row_ids[t] = t < length ? d->ids[t] : 0;
            row_targets[t] = t + 1 < length ? d->ids[t + 1] : -1;
        }
    }
}

void sequence_batch_free(SequenceBatch *batch)
{
    free(batch->ids);
    free(batch->targets);
    free(batch->lengths);
    memset(batch, 0, sizeof *batch);
}

const float *model_layer_output(const Model *model, int layer)
{
    return layer + 1 < model->config.num_layers ? model->acts.layer[layer + 1].input
                                                : model->acts.output;
}

double log_sigmoid(double z)
{
    return z >= 0 ? -log1p(exp(-z)) : z - log1p(exp(z));
}

void sequence_nll(const Model *model, const SequenceBatch *batch, double *seq_nll)
{
    const Activations *a = &model->acts;
    for (int b = 0; b < batch->B; b++) {
        double total = 0.0;
        for (int t = 0; t < batch->T; t++) {
            int n = b * batch->T + t;
            if (a->targets[n] >= 0)
                total += a->token_nll[n];
        }
        seq_nll[b] = total;
    }
}

/* Targets of each row: row_targets (B). */
static void row_target_counts(const Model *model, const SequenceBatch *batch, int *row_targets)
{
    for (int b = 0; b < batch->B; b++) {
        row_targets[b] = 0;
        for (int t = 0; t < batch->T; t++)
            row_targets[b] += model->acts.targets[b * batch->T + t] >= 0;
    }
}

double nll_term(const Model *model, float weight, float *d_token_nll)
{
    const Activations *a = &model->acts;
    int N = a->B * a->T, counted = 0;
    double total = 0.0;
    for (int n = 0; n < N; n++) {
        if (a->targets[n] >= 0) {
            total += a->token_nll[n];
            counted++;
        }
    }
    for (int n = 0; n < N; n++)
        d_token_nll[n] = a->targets[n] >= 0 ? weight / (float)counted : 0.0f;
    return counted ? weight * total / counted : 0.0;
}

void spread_row_gradient(const Model *model, const SequenceBatch *batch, const double *d_row,
                         float *d_token_nll)
{
    for (int b = 0; b < batch->B; b++) {
        for (int t = 0; t < batch->T; t++) {
            int n = b * batch->T + t;
            d_token_nll[n] = model->acts.targets[n] >= 0 ? (float)d_row[b] : 0.0f;
        }
    }
}

double npo_term(const Model *model, const SequenceBatch *batch, const double *ref_seq_nll,
                float beta, float *d_token_nll)
{
    int B = batch->B;
    double *seq = xmalloc((size_t)B * sizeof(double)), *d_row = xmalloc((size_t)B * sizeof(double));
    sequence_nll(model, batch, seq);
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        /* log(π_θ/π_ref) = seqNLL_ref - seqNLL_θ */
        double log_ratio = ref_seq_nll[b] - seq[b];
        total += log_sigmoid(-beta * log_ratio);
        /* d/d seqNLL_θ of -(2/β)/B log σ(β (seqNLL_θ - ref)) */
        d_row[b] = -2.0 / B * exp(log_sigmoid(beta * log_ratio));
    }
    spread_row_gradient(model, batch, d_row, d_token_nll);
    free(seq);
    free(d_row);
    return -2.0 / beta * total / B;
}

double simnpo_term(const Model *model, const SequenceBatch *batch, float beta, float delta,
                   float *d_token_nll)
{
    int B = batch->B;
    double *seq = xmalloc((size_t)B * sizeof(double)), *d_row = xmalloc((size_t)B * sizeof(double));
    int *targets = xmalloc((size_t)B * sizeof(int));
    sequence_nll(model, batch, seq);
    row_target_counts(model, batch, targets);
    double total = 0.0;
    for (int b = 0; b < B; b++) {
        int length = targets[b] > 0 ? targets[b] : 1;
        double z = beta * seq[b] / length - delta;
        total += log_sigmoid(z);
        d_row[b] = -2.0 / B / length * exp(log_sigmoid(-z));
    }
    spread_row_gradient(model, batch, d_row, d_token_nll);
    free(seq);
    free(d_row);
    free(targets);
    return -2.0 / beta * total / B;
}

/* Real tokens of the batch. */
static int real_token_count(const SequenceBatch *batch)
{
    int count = 0;
    for (int b = 0; b < batch->B; b++)
        count += batch->lengths[b];
    return count;
}

double router_anchor_term(const Model *model, const SequenceBatch *batch, int layer, int expert,
                          AnchorScale scale, float alpha, float *d_router_probs)
{
    int E = model->config.num_experts, N = batch->B * batch->T;
    const float *probs = model->acts.layer[layer].router_probs; /* (N, E) */
    double divisor = (double)real_token_count(batch) * (scale == ANCHOR_SCALE_CODE ? E : 1);
    double total = 0.0;
    for (int n = 0; n < N; n++) {
        bool real = sequence_batch_is_real(batch, n);
        for (int e = 0; e < E; e++) {
            double diff = probs[(size_t)n * E + e] - (e == expert ? 1.0 : 0.0);
            if (real)
                total += diff * diff;
            d_router_probs[(size_t)n * E + e] = real ? (float)(alpha * 2.0 * diff / divisor) : 0.0f;
        }
    }
    return divisor > 0 ? alpha * total / divisor : 0.0;
}

double activation_mse_term(const Model *model, const SequenceBatch *batch, int layer,
                           const float *target, int per_token_target, float weight,
                           float *d_hidden)
{
    int C = model->config.hidden_size, N = batch->B * batch->T;
    const float *h = model_layer_output(model, layer); /* (N, C) */
    double divisor = (double)real_token_count(batch) * C;
    double total = 0.0;
    for (int n = 0; n < N; n++) {
        bool real = sequence_batch_is_real(batch, n);
        const float *goal = per_token_target ? target + (size_t)n * C : target;
        for (int i = 0; i < C; i++) {
            double diff = h[(size_t)n * C + i] - goal[i];
            if (real)
                total += diff * diff;
            d_hidden[(size_t)n * C + i] = real ? (float)(weight * 2.0 * diff / divisor) : 0.0f;
        }
    }
    return divisor > 0 ? weight * total / divisor : 0.0;
}

void rmu_control_vector(float *control, int C, float coeff, uint64_t seed)
{
    Rng rng;
    rng_seed(&rng, seed);
    double norm = 0.0;
    for (int i = 0; i < C; i++) {
        control[i] = (float)rng_uniform(&rng);
        norm += (double)control[i] * control[i];
    }
    norm = sqrt(norm);
    for (int i = 0; i < C; i++)
        control[i] = (float)(coeff * control[i] / norm);
}
