#include "unlearn.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "mcq_eval.h"
#include "rng.h"
#include "trainable_copy.h"

/* The residual stream entering the first non-frozen layer, per document:
 * frozen layers give the same output for the same tokens at every step. */
typedef struct {
    int layer;               /* 0 = no cache */
    float **rows;            /* (documents) each (length, C), NULL until first seen */
} PrefixCache;

/* A side of the data (forget or retain): documents, an epoch order, a probe. */
typedef struct {
    Document *documents;
    int count;
    int *order;              /* (count) the current epoch's permutation */
    int next;                /* position in order */
    Rng rng;
    PrefixCache cache;
    SequenceBatch batch;     /* the step's batch */
    SequenceBatch probe;     /* fixed probe batch */
    unsigned char *probe_mask; /* (probe B*T) real tokens */
    ProbeRouting probe_start; /* routing of the probe at step 0 */
} Side;

typedef struct UnlearnState {
    Side forget, retain;
    McqSet forget_mcq, utility_mcq;   /* as loaded */
    McqSet fe_questions, ut_questions; /* the evaluated samples; items shared with the above */
    char *forget_mcq_path, *utility_mcq_path; /* for errors */
    AdamW optimizer;
    TrainableCopy reference;          /* originals of the trainable set (NPO, RMU) */
    TrainableCopy selected;           /* the state at the evaluation the rule picked */
    double *reference_seq_nll;        /* (forget count) NaN until computed */
    float *control;                   /* (C) RMU's c·u */
    float *reference_stream;          /* (N, C) RMU: the reference's stream on the retain batch */
    float *prefix_input;              /* (N, C) a batch's cached layer input */
    float *d_token_nll, *d_router_probs, *d_hidden; /* (N), (N, E), (N, C) */
    size_t gradient_tokens;           /* N the gradient buffers hold */
    UnlearnObserver observer;
} UnlearnState;

UnlearnConfig unlearn_default_config(void)
{
    UnlearnConfig c = {
        .method = METHOD_GA,
        .trainable = {.kind = TRAINABLE_UOE, .top_m = 1, .esft_threshold = 0.15},
        .steps = 100,
        .forget_batch = 8,
        .retain_batch = 8,
        .max_seq_len = 128,
        .learning_rate = 1e-3f,
        .schedule = SCHEDULE_CONSTANT,
        .warmup_steps = 0,
        .weight_decay = 0.0f,
        .max_grad_norm = 1.0f,
        .retain_weight = 1.0f,
        .npo_beta = 0.1f,
        .simnpo_beta = 4.5f,
        .simnpo_delta = 0.0f,
        .rmu_layer = -1,
        .rmu_coeff = 20.0f,
        .anchor_alpha = 1.0f,
        .anchor_scale = ANCHOR_SCALE_PAPER,
        .attribution_sequences = 0,
        .eval_every = 10,
        .snapshot_every = 10,
        .eval_questions = 300,
        .probe_sequences = 32,
        .selection = SELECT_FINAL,
        .fe_target = 0.30,
        .prefix_cache = true,
        .seed = 1,
    };
    return c;
}

static const char *const method_names[] = {"ga", "graddiff", "npo", "simnpo", "rmu"};

const char *unlearn_method_name(UnlearnMethod method) { return method_names[method]; }

int unlearn_method_parse(const char *text, UnlearnMethod *method)
{
    for (int i = 0; i < (int)(sizeof method_names / sizeof method_names[0]); i++) {
        if (strcmp(text, method_names[i]) == 0) {
            *method = (UnlearnMethod)i;
            return 0;
        }
    }
    return error_set("unknown method '%s' (expected ga, graddiff, npo, simnpo or rmu)", text);
}

static void log_line(UnlearnRun *run, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void log_line(UnlearnRun *run, const char *fmt, ...)
{
    char line[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(line, sizeof line, fmt, args);
    va_end(args);
    if (run->state->observer.on_log)
        run->state->observer.on_log(run->state->observer.ctx, line);
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The next `count` documents of the side's epoch order, reshuffling at each epoch. */
static void next_indices(Side *side, int *indices, int count)
{
    for (int i = 0; i < count; i++) {
        if (side->next == side->count) {
            rng_shuffle(&side->rng, side->order, side->count);
            side->next = 0;
        }
        indices[i] = side->order[side->next++];
    }
}

static int load_side(Side *side, const char *path, const Tokenizer *tokenizer, uint64_t seed,
                     int probe_sequences, int max_len)
{
    TextCorpus corpus;
    if (text_corpus_load(&corpus, path) < 0)
        return -1;
    int rc = documents_append(&side->documents, &side->count, tokenizer, &corpus, path);
    text_corpus_free(&corpus);
    if (rc < 0)
        return -1;
    if (side->count == 0)
        return error_set("%s: no texts", path);
    rng_seed(&side->rng, seed);
    side->order = xmalloc((size_t)side->count * sizeof(int));
    for (int i = 0; i < side->count; i++)
        side->order[i] = i;
    /* the probe is a fixed seeded sample; training then walks its own shuffles */
    rng_shuffle(&side->rng, side->order, side->count);
    int probe = probe_sequences < side->count ? probe_sequences : side->count;
    sequence_batch_fill(&side->probe, side->documents, side->order, probe, max_len);
    int N = side->probe.B * side->probe.T;
    side->probe_mask = xmalloc((size_t)N);
    for (int n = 0; n < N; n++)
        side->probe_mask[n] = (unsigned char)sequence_batch_is_real(&side->probe, n);
    side->next = side->count; /* the first batch starts a fresh shuffle */
    return 0;
}

static void free_side(Side *side)
{
    documents_free(side->documents, side->count);
    free(side->order);
    if (side->cache.rows)
        for (int i = 0; i < side->count; i++)
            free(side->cache.rows[i]);
    free(side->cache.rows);
    sequence_batch_free(&side->batch);
    sequence_batch_free(&side->probe);
    free(side->probe_mask);
    probe_routing_free(&side->probe_start);
}

static void ensure_gradient_buffers(UnlearnRun *run, int N)
{
    UnlearnState *s = run->state;
    if ((size_t)N <= s->gradient_tokens)
        return;
    const ModelConfig *c = &run->model->config;
    s->gradient_tokens = (size_t)N;
    s->d_token_nll = xrealloc(s->d_token_nll, (size_t)N * sizeof(float));
    s->d_router_probs = xrealloc(s->d_router_probs, (size_t)N * c->num_experts * sizeof(float));
    s->d_hidden = xrealloc(s->d_hidden, (size_t)N * c->hidden_size * sizeof(float));
    s->reference_stream = xrealloc(s->reference_stream, (size_t)N * c->hidden_size * sizeof(float));
    s->prefix_input = xrealloc(s->prefix_input, (size_t)N * c->hidden_size * sizeof(float));
}

/* The residual stream entering the cache's layer for one document, computed
 * on that document alone, so that it never depends on which documents
 * shared its first batch (a run resumed from its saved state recomputes it
 * and must find the same bits). */
static void cache_document(UnlearnRun *run, Side *side, int document)
{
    Model *m = run->model;
    PrefixCache *cache = &side->cache;
    SequenceBatch one = {0};
    sequence_batch_fill(&one, side->documents, &document, 1, run->config.max_seq_len);
    model_forward(m, one.ids, one.targets, 1, one.T);
    size_t floats = (size_t)one.lengths[0] * m->config.hidden_size;
    cache->rows[document] = xmalloc(floats * sizeof(float));
    memcpy(cache->rows[document], m->acts.layer[cache->layer].input, floats * sizeof(float));
    sequence_batch_free(&one);
}

/* Forward of the side's batch (rows: the documents `indices`), starting from
 * the prefix cache when there is one. Returns the mean NLL. */
static float forward_batch(UnlearnRun *run, Side *side, const int *indices)
{
    Model *m = run->model;
    const SequenceBatch *b = &side->batch;
    PrefixCache *cache = &side->cache;
    if (cache->layer == 0)
        return model_forward(m, b->ids, b->targets, b->B, b->T);
    int C = m->config.hidden_size;
    for (int r = 0; r < b->B; r++)
        if (!cache->rows[indices[r]])
            cache_document(run, side, indices[r]);
    float *input = run->state->prefix_input; /* (B*T, C); padding rows zero */
    memset(input, 0, (size_t)b->B * b->T * C * sizeof(float));
    for (int r = 0; r < b->B; r++)
        memcpy(input + (size_t)r * b->T * C, cache->rows[indices[r]],
               (size_t)b->lengths[r] * C * sizeof(float));
    return model_forward_from_layer(m, cache->layer, input, b->ids, b->targets, b->B, b->T);
}

static void fill_batch(UnlearnRun *run, Side *side, int *indices, int count)
{
    next_indices(side, indices, count);
    sequence_batch_fill(&side->batch, side->documents, indices, count, run->config.max_seq_len);
    ensure_gradient_buffers(run, side->batch.B * side->batch.T);
}

/* NPO's reference log-likelihoods of the forget batch: computed once per
 * document, the first time it is in a batch, with the original trainable
 * tensors swapped in; at step 1 the reference and the model give the same
 * bits. */
static void reference_sequence_nll(UnlearnRun *run, const int *indices, double *out)
{
    UnlearnState *s = run->state;
    SequenceBatch *b = &s->forget.batch;
    bool missing = false;
    for (int r = 0; r < b->B; r++)
        missing |= isnan(s->reference_seq_nll[indices[r]]);
    if (missing) {
        trainable_copy_swap(&s->reference);
        forward_batch(run, &s->forget, indices);
        trainable_copy_swap(&s->reference);
        double *seq = xmalloc((size_t)b->B * sizeof(double));
        sequence_nll(run->model, b, seq);
        for (int r = 0; r < b->B; r++)
            if (isnan(s->reference_seq_nll[indices[r]]))
                s->reference_seq_nll[indices[r]] = seq[r];
        free(seq);
    }
    for (int r = 0; r < b->B; r++)
        out[r] = s->reference_seq_nll[indices[r]];
}

static bool stop_if_not_finite(UnlearnRun *run, double value, const char *what)
{
    if (isfinite(value))
        return false;
    snprintf(run->stop_reason, sizeof run->stop_reason,
             "step %d: the %s is not finite (%g); stopped, keeping the state after step %d",
             run->step + 1, what, value, run->step);
    return true;
}

static float learning_rate_at(const UnlearnConfig *c, int step)
{
    if (step < c->warmup_steps)
        return c->learning_rate * (float)(step + 1) / (float)c->warmup_steps;
    if (c->schedule == SCHEDULE_CONSTANT)
        return c->learning_rate;
    int decay = c->steps - c->warmup_steps;
    double progress = decay > 1 ? (double)(step - c->warmup_steps) / (decay - 1) : 1.0;
    return c->learning_rate * (float)(0.5 * (1.0 + cos(M_PI * fmin(progress, 1.0))));
}

static void scale_floats(float *values, size_t count, float factor)
{
    for (size_t i = 0; i < count; i++)
        values[i] *= factor;
}

/* A custom forget loss: the named terms are measured unweighted, the loss
 * chooses its value, row coefficients and weights, and the gradient buffers
 * are scaled to match. */
static int custom_forget_term(UnlearnRun *run, const SequenceBatch *b, const double *reference,
                              float alpha, UnlearnStep *out, LossGradient *g)
{
    UnlearnState *s = run->state;
    const UnlearnConfig *c = &run->config;
    Model *m = run->model;
    size_t N = (size_t)b->B * b->T;
    double *seq = xmalloc((size_t)b->B * sizeof(double));
    double *d_row = xcalloc((size_t)b->B, sizeof(double));
    sequence_nll(m, b, seq);
    CustomForgetInput in = {.batch = b, .seq_nll = seq, .ref_seq_nll = reference, .rmu = NAN};
    in.anchor = router_anchor_term(m, b, run->target_layer, run->target_expert, c->anchor_scale,
                                   1.0f, s->d_router_probs);
    if (c->rmu_layer >= run->prefix_layer) /* below it the stream is not recomputed */
        in.rmu = activation_mse_term(m, b, c->rmu_layer, s->control, 0, 1.0f, s->d_hidden);
    CustomForgetOutput o = {.row_gradient = d_row, .anchor_weight = NAN, .rmu_weight = NAN};
    int rc = c->custom_loss.forget(c->custom_loss.ctx, &in, &o);
    if (rc == 0) {
        out->forget_term = o.value;
        if (o.row_gradient_given) {
            spread_row_gradient(m, b, d_row, s->d_token_nll);
            g->d_token_nll = s->d_token_nll;
        }
        out->anchor_alpha = isnan(o.anchor_weight) ? alpha : (float)o.anchor_weight;
        if (out->anchor_alpha != 0.0f) {
            out->anchor_term = out->anchor_alpha * in.anchor;
            scale_floats(s->d_router_probs, N * m->config.num_experts, out->anchor_alpha);
            g->router_layer = run->target_layer;
            g->d_router_probs = s->d_router_probs;
        }
        if (!isnan(o.rmu_weight) && o.rmu_weight != 0.0 && !isnan(in.rmu)) {
            out->forget_term += o.rmu_weight * in.rmu;
            scale_floats(s->d_hidden, N * m->config.hidden_size, (float)o.rmu_weight);
            g->hidden_layer = c->rmu_layer;
            g->d_hidden = s->d_hidden;
        }
    }
    free(seq);
    free(d_row);
    return rc;
}

/* The forget side: the method's term and the anchor, then backward. */
static int forget_side(UnlearnRun *run, float alpha, UnlearnStep *out)
{
    UnlearnState *s = run->state;
    const UnlearnConfig *c = &run->config;
    Model *m = run->model;
    int indices[c->forget_batch];
    fill_batch(run, &s->forget, indices, c->forget_batch);
    SequenceBatch *b = &s->forget.batch;
    double *reference = NULL;
    bool custom = c->custom_loss.forget != NULL;
    if (c->method == METHOD_NPO || custom) {
        reference = xmalloc((size_t)b->B * sizeof(double));
        reference_sequence_nll(run, indices, reference);
    }
    forward_batch(run, &s->forget, indices);
    LossGradient g = {.router_layer = -1, .hidden_layer = -1};
    out->anchor_alpha = alpha;
    if (custom) {
        int rc = custom_forget_term(run, b, reference, alpha, out, &g);
        free(reference);
        if (rc < 0)
            return -1;
    } else {
        switch (c->method) {
        case METHOD_GA:
        case METHOD_GRADDIFF:
            out->forget_term = nll_term(m, -1.0f, s->d_token_nll);
            g.d_token_nll = s->d_token_nll;
            break;
        case METHOD_NPO:
            out->forget_term = npo_term(m, b, reference, c->npo_beta, s->d_token_nll);
            g.d_token_nll = s->d_token_nll;
            break;
        case METHOD_SIMNPO:
            out->forget_term = simnpo_term(m, b, c->simnpo_beta, c->simnpo_delta, s->d_token_nll);
            g.d_token_nll = s->d_token_nll;
            break;
        case METHOD_RMU:
            out->forget_term = activation_mse_term(m, b, c->rmu_layer, s->control, 0, 1.0f, s->d_hidden);
            g.hidden_layer = c->rmu_layer;
            g.d_hidden = s->d_hidden;
            break;
        }
        free(reference);
        if (alpha > 0.0f) {
            out->anchor_term = router_anchor_term(m, b, run->target_layer, run->target_expert,
                                                  c->anchor_scale, alpha, s->d_router_probs);
            g.router_layer = run->target_layer;
            g.d_router_probs = s->d_router_probs;
        }
    }
    char what[64];
    snprintf(what, sizeof what, "forget term (%s)", custom ? "custom loss" : unlearn_method_name(c->method));
    if (stop_if_not_finite(run, out->forget_term, what) ||
        stop_if_not_finite(run, out->anchor_term, "router anchor term"))
        return -1;
    model_backward(m, &g);
    return 0;
}

/* (N) whether each real token's top-k at the target layer holds the target. */
static void mark_target_hits(const UnlearnRun *run, const SequenceBatch *b, unsigned char *hit)
{
    const Model *m = run->model;
    int K = m->config.experts_per_token, N = b->B * b->T;
    const int *topk = m->acts.layer[run->target_layer].topk_index;
    for (int n = 0; n < N; n++) {
        hit[n] = 0;
        for (int k = 0; k < K && sequence_batch_is_real(b, n); k++)
            hit[n] |= topk[(size_t)n * K + k] == run->target_expert;
    }
}

/* A custom retain loss on the batch just run forward. */
static int custom_retain_term(UnlearnRun *run, const SequenceBatch *b, UnlearnStep *out,
                              LossGradient *g)
{
    UnlearnState *s = run->state;
    const UnlearnConfig *c = &run->config;
    const ModelConfig *mc = &run->model->config;
    int N = b->B * b->T;
    unsigned char *hit = xmalloc((size_t)N);
    mark_target_hits(run, b, hit);
    double share = run->attribution.selection_share[(size_t)run->target_layer * mc->num_experts +
                                                    run->target_expert];
    CustomRetainInput in = {.batch = b, .token_nll = run->model->acts.token_nll, .target_hit = hit,
                            .forget_target_rate = share * mc->experts_per_token,
                            .retain_weight = c->retain_weight};
    memset(s->d_token_nll, 0, (size_t)N * sizeof(float));
    CustomRetainOutput o = {.token_gradient = s->d_token_nll};
    int rc = c->custom_loss.retain(c->custom_loss.ctx, &in, &o);
    free(hit);
    out->retain_term = o.value;
    g->d_token_nll = s->d_token_nll;
    return rc;
}

/* The retain side: λ·NLL (or a custom retain loss), or RMU's α_r·‖h − h_ref‖²,
 * then backward. */
static int retain_side(UnlearnRun *run, UnlearnStep *out)
{
    UnlearnState *s = run->state;
    const UnlearnConfig *c = &run->config;
    Model *m = run->model;
    if (c->method == METHOD_GA || c->retain_weight == 0.0f)
        return 0;
    int indices[c->retain_batch];
    fill_batch(run, &s->retain, indices, c->retain_batch);
    SequenceBatch *b = &s->retain.batch;
    LossGradient g = {.router_layer = -1, .hidden_layer = -1};
    if (c->method == METHOD_RMU) {
        int C = m->config.hidden_size;
        trainable_copy_swap(&s->reference);
        forward_batch(run, &s->retain, indices);
        trainable_copy_swap(&s->reference);
        memcpy(s->reference_stream, model_layer_output(m, c->rmu_layer),
               (size_t)b->B * b->T * C * sizeof(float));
        forward_batch(run, &s->retain, indices);
        out->retain_term = activation_mse_term(m, b, c->rmu_layer, s->reference_stream, 1,
                                               c->retain_weight, s->d_hidden);
        g.hidden_layer = c->rmu_layer;
        g.d_hidden = s->d_hidden;
    } else if (c->custom_loss.retain) {
        forward_batch(run, &s->retain, indices);
        if (custom_retain_term(run, b, out, &g) < 0)
            return -1;
    } else {
        forward_batch(run, &s->retain, indices);
        out->retain_term = nll_term(m, c->retain_weight, s->d_token_nll);
        g.d_token_nll = s->d_token_nll;
    }
    if (stop_if_not_finite(run, out->retain_term, "retain term"))
        return -1;
    model_backward(m, &g);
    return 0;
}

static double probe_nll(UnlearnRun *run, const SequenceBatch *probe)
{
    return model_forward(run->model, probe->ids, probe->targets, probe->B, probe->T);
}

static int evaluate(UnlearnRun *run, UnlearnEval *e)
{
    UnlearnState *s = run->state;
    McqScore fe, ut;
    e->step = run->step;
    if (mcq_evaluate(run->model, run->tokenizer, &s->fe_questions, &fe, NULL, NULL) < 0)
        return error_prefix("%s", s->forget_mcq_path);
    if (mcq_evaluate(run->model, run->tokenizer, &s->ut_questions, &ut, NULL, NULL) < 0)
        return error_prefix("%s", s->utility_mcq_path);
    e->fe = fe.acc;
    e->fe_norm = fe.acc_norm;
    e->ut = ut.acc;
    e->ut_norm = ut.acc_norm;
    e->forget_nll = probe_nll(run, &s->forget.probe);
    e->retain_nll = probe_nll(run, &s->retain.probe);
    return 0;
}

/* Keeps the evaluation, and the state behind it when the rule prefers it. */
static void consider_for_selection(UnlearnRun *run, const UnlearnEval *e)
{
    const UnlearnConfig *c = &run->config;
    bool better;
    if (c->selection == SELECT_FINAL)
        better = true;
    else
        better = e->fe <= c->fe_target && (!run->have_selected || e->ut > run->selected_eval.ut);
    if (!better)
        return;
    run->have_selected = true;
    run->selected_eval = *e;
    if (c->selection == SELECT_BEST_UT)
        trainable_copy_update(&run->state->selected);
}

static void capture_probe(UnlearnRun *run, Side *side, ProbeRouting *out)
{
    probe_nll(run, &side->probe);
    probe_routing_capture(out, run->model, side->probe_mask);
}

static int snapshot(UnlearnRun *run)
{
    UnlearnState *s = run->state;
    const ModelConfig *mc = &run->model->config;
    ProbeRouting forget = {0}, retain = {0};
    LayerShift *forget_shift = xcalloc((size_t)mc->num_layers, sizeof(LayerShift));
    LayerShift *retain_shift = xcalloc((size_t)mc->num_layers, sizeof(LayerShift));
    capture_probe(run, &s->forget, &forget);
    capture_probe(run, &s->retain, &retain);
    UnlearnSnapshot snap = {.step = run->step, .target_layer = run->target_layer,
                            .target_expert = run->target_expert, .forget = &forget, .retain = &retain,
                            .forget_shift = forget_shift, .retain_shift = retain_shift};
    int rc = routing_shift_compare(&s->forget.probe_start, &forget, forget_shift,
                                   &snap.forget_token_overlap, &snap.forget_set_overlap);
    if (rc == 0)
        rc = routing_shift_compare(&s->retain.probe_start, &retain, retain_shift,
                                   &snap.retain_token_overlap, &snap.retain_set_overlap);
    if (rc == 0) {
        int E = mc->num_experts;
        snap.target_rank = routing_expert_rank(forget.counts + (size_t)run->target_layer * E, E,
                                               run->target_expert);
        snap.target_prob = probe_routing_mean_prob(&forget, run->target_layer, run->target_expert);
        run->last_forget_overlap = snap.forget_token_overlap;
        if (s->observer.on_snapshot)
            s->observer.on_snapshot(s->observer.ctx, &snap);
    }
    probe_routing_free(&forget);
    probe_routing_free(&retain);
    free(forget_shift);
    free(retain_shift);
    return rc;
}

static int evaluate_and_report(UnlearnRun *run)
{
    UnlearnEval e;
    if (evaluate(run, &e) < 0)
        return -1;
    if (run->step == 0)
        run->first_eval = e;
    run->last_eval = e;
    consider_for_selection(run, &e);
    if (run->state->observer.on_eval)
        run->state->observer.on_eval(run->state->observer.ctx, &e);
    return 0;
}

static void choose_target(UnlearnRun *run)
{
    if (run->selection.count > 0) {
        run->target_layer = run->selection.layers[0];
        run->target_expert = run->selection.experts[0];
        return;
    }
    attribution_rank(&run->attribution, &run->model->config, &run->target_layer,
                     &run->target_expert, 1);
}

static int check_config(const UnlearnConfig *c, const ModelConfig *mc)
{
    if (c->steps < 0 || c->forget_batch < 1 || c->retain_batch < 1 || c->max_seq_len < 2)
        return error_set("steps must be >= 0, batches >= 1 and the sequence length >= 2");
    if (c->eval_every < 1 || c->snapshot_every < 1)
        return error_set("evaluation and snapshot intervals must be >= 1 step");
    if (c->method == METHOD_RMU && c->rmu_layer >= mc->num_layers)
        return error_set("RMU steering layer %d: the model has layers 0 to %d", c->rmu_layer,
                         mc->num_layers - 1);
    if (c->probe_sequences < 1)
        return error_set("a probe needs at least one sequence");
    if (c->custom_loss.retain && (c->method == METHOD_GA || c->method == METHOD_RMU))
        return error_set("a custom retain loss replaces a token-NLL retain term; %s has none",
                         unlearn_method_name(c->method));
    return 0;
}

int unlearn_begin(UnlearnRun *run, Model *model, const Tokenizer *tokenizer,
                  const UnlearnData *data, const UnlearnConfig *config,
                  const UnlearnObserver *observer)
{
    memset(run, 0, sizeof *run);
    run->config = *config;
    run->model = model;
    run->tokenizer = tokenizer;
    UnlearnState *s = run->state = xcalloc(1, sizeof *s);
    if (observer)
        s->observer = *observer;
    UnlearnConfig *c = &run->config;
    const ModelConfig *mc = &model->config;
    if (check_config(c, mc) < 0)
        return -1;
    int max_len = c->max_seq_len < mc->max_position_embeddings ? c->max_seq_len
                                                               : mc->max_position_embeddings;
    c->max_seq_len = max_len;

    TextCorpus forget_texts;
    if (load_side(&s->forget, data->forget_path, tokenizer, c->seed * 2 + 1, c->probe_sequences, max_len) < 0 ||
        load_side(&s->retain, data->retain_path, tokenizer, c->seed * 2 + 2, c->probe_sequences, max_len) < 0 ||
        mcq_set_load(&s->forget_mcq, data->forget_mcq_path) < 0 ||
        mcq_set_load(&s->utility_mcq, data->utility_mcq_path) < 0 ||
        text_corpus_load(&forget_texts, data->forget_path) < 0)
        return -1;
    s->forget_mcq_path = xstrdup(data->forget_mcq_path);
    s->utility_mcq_path = xstrdup(data->utility_mcq_path);
    mcq_set_sample(&s->forget_mcq, c->eval_questions, c->seed + 3, &s->fe_questions);
    mcq_set_sample(&s->utility_mcq, c->eval_questions, c->seed + 4, &s->ut_questions);

    int rc = data->attribution_path
                 ? attribution_load(&run->attribution, data->attribution_path, mc)
                 : attribution_compute(model, tokenizer, &forget_texts, c->attribution_sequences,
                                       &run->attribution);
    text_corpus_free(&forget_texts);
    if (rc < 0 && !data->attribution_path)
        return error_prefix("attribution on %s", data->forget_path);
    if (rc < 0)
        return -1;
    c->trainable.seed = c->seed;
    if (trainable_set_apply(model, &c->trainable, &run->attribution, &run->selection) < 0)
        return -1;
    choose_target(run);
    if ((c->method == METHOD_RMU || c->custom_loss.forget) && c->rmu_layer < 0)
        c->rmu_layer = run->target_layer;

    int lowest = model_lowest_trainable_layer(model);
    run->prefix_layer = c->prefix_cache && lowest > 0 ? lowest : 0;
    s->forget.cache = (PrefixCache){run->prefix_layer,
                                    xcalloc((size_t)s->forget.count, sizeof(float *))};
    s->retain.cache = (PrefixCache){run->prefix_layer,
                                    xcalloc((size_t)s->retain.count, sizeof(float *))};

    AdamWConfig adamw = adamw_default_config();
    adamw.learning_rate = c->learning_rate;
    adamw.weight_decay = c->weight_decay;
    adamw.max_grad_norm = c->max_grad_norm;
    adamw_init(&s->optimizer, model, adamw);
    trainable_copy_take(&s->reference, model);
    trainable_copy_take(&s->selected, model);
    s->reference_seq_nll = xmalloc((size_t)s->forget.count * sizeof(double));
    for (int i = 0; i < s->forget.count; i++)
        s->reference_seq_nll[i] = NAN;
    s->control = xmalloc((size_t)mc->hidden_size * sizeof(float));
    rmu_control_vector(s->control, mc->hidden_size, c->rmu_coeff, c->seed + 5);

    if (s->observer.on_start)
        s->observer.on_start(s->observer.ctx, run);
    log_line(run, "target layer %d expert %d; trainable set %zu of %zu parameters (%.4f%%)",
             run->target_layer, run->target_expert, run->selection.trainable, run->selection.total,
             100.0 * run->selection.fraction);
    capture_probe(run, &s->forget, &s->forget.probe_start);
    capture_probe(run, &s->retain, &s->retain.probe_start);
    if (evaluate_and_report(run) < 0 || snapshot(run) < 0)
        return -1;
    return 0;
}

/* A value of the step schedule: the function's, checked, when there is one. */
static int scheduled_value(UnlearnRun *run, int (*function)(void *, int, float *), const char *what,
                           float *value)
{
    if (!function)
        return 0;
    if (function(run->config.step_schedule.ctx, run->step + 1, value) < 0)
        return error_prefix("the %s of step %d", what, run->step + 1);
    if (!isfinite(*value) || *value < 0.0f)
        return error_set("the %s of step %d is %g; it must be a finite number >= 0", what,
                         run->step + 1, (double)*value);
    return 0;
}

int unlearn_step(UnlearnRun *run)
{
    UnlearnState *s = run->state;
    const UnlearnConfig *c = &run->config;
    if (run->step >= c->steps)
        return 0;
    double started = seconds_now();
    UnlearnStep out = {.step = run->step + 1, .learning_rate = learning_rate_at(c, run->step)};
    float alpha = c->anchor_alpha;
    if (scheduled_value(run, c->step_schedule.learning_rate, "learning rate", &out.learning_rate) < 0 ||
        scheduled_value(run, c->step_schedule.anchor_alpha, "router anchor alpha", &alpha) < 0)
        return -1;
    model_zero_grad(run->model);
    if (forget_side(run, alpha, &out) < 0 || retain_side(run, &out) < 0)
        return -1;
    out.loss = out.forget_term + out.retain_term + out.anchor_term;
    out.grad_norm = model_grad_norm(run->model);
    if (stop_if_not_finite(run, out.grad_norm, "gradient norm"))
        return -1;
    s->optimizer.config.learning_rate = out.learning_rate;
    adamw_update(&s->optimizer, run->model, out.grad_norm);
    run->step++;
    out.seconds = seconds_now() - started;
    if (s->observer.on_step)
        s->observer.on_step(s->observer.ctx, &out);

    bool last = run->step == c->steps;
    if ((run->step % c->eval_every == 0 || last) && evaluate_and_report(run) < 0)
        return -1;
    if ((run->step % c->snapshot_every == 0 || last) && snapshot(run) < 0)
        return -1;
    return last ? 0 : 1;
}

void unlearn_set_anchor_alpha(UnlearnRun *run, float alpha)
{
    CHECK(alpha >= 0.0f);
    log_line(run, "after step %d: router anchor alpha %g (was %g)", run->step, alpha,
             run->config.anchor_alpha);
    run->config.anchor_alpha = alpha;
}

void unlearn_set_learning_rate(UnlearnRun *run, float learning_rate)
{
    CHECK(learning_rate > 0.0f);
    log_line(run, "after step %d: peak learning rate %g (was %g)", run->step, learning_rate,
             run->config.learning_rate);
    run->config.learning_rate = learning_rate;
}

void unlearn_finish(UnlearnRun *run)
{
    if (run->config.selection != SELECT_BEST_UT)
        return;
    if (!run->have_selected) {
        log_line(run, "no evaluation reached FE <= %.3f; keeping the final state",
                 run->config.fe_target);
        run->selected_eval = run->last_eval;
        run->have_selected = true;
        return;
    }
    run->fe_target_met = true;
    trainable_copy_restore(&run->state->selected);
    log_line(run, "selected step %d: FE %.4f, UT %.4f (best UT with FE <= %.3f)",
             run->selected_eval.step, run->selected_eval.fe, run->selected_eval.ut,
             run->config.fe_target);
}

int unlearn_run_all(UnlearnRun *run)
{
    int rc;
    while ((rc = unlearn_step(run)) > 0)
        ;
    if (rc < 0 && run->stop_reason[0]) {
        log_line(run, "%s", run->stop_reason);
        if (!run->have_selected)
            run->selected_eval = run->last_eval;
        return -1;
    }
    if (rc < 0)
        return -1;
    unlearn_finish(run);
    return 0;
}

void unlearn_end(UnlearnRun *run)
{
    UnlearnState *s = run->state;
    if (s) {
        free_side(&s->forget);
        free_side(&s->retain);
        free(s->fe_questions.items);
        free(s->ut_questions.items);
        mcq_set_free(&s->forget_mcq);
        mcq_set_free(&s->utility_mcq);
        free(s->forget_mcq_path);
        free(s->utility_mcq_path);
        adamw_free(&s->optimizer);
        trainable_copy_free(&s->reference);
        trainable_copy_free(&s->selected);
        free(s->reference_seq_nll);
        free(s->control);
        free(s->reference_stream);
        free(s->prefix_input);
        free(s->d_token_nll);
        free(s->d_router_probs);
        free(s->d_hidden);
        free(s);
    }
    attribution_free(&run->attribution);
    trainable_selection_free(&run->selection);
    memset(run, 0, sizeof *run);
}

static int *copy_ints(const int *values, int count)
{
    int *copy = xmalloc((size_t)(count > 0 ? count : 1) * sizeof(int));
    memcpy(copy, values, (size_t)count * sizeof(int));
    return copy;
}

void unlearn_resume_point(const UnlearnRun *run, UnlearnResumePoint *p)
{
    const UnlearnState *s = run->state;
    memset(p, 0, sizeof *p);
    p->step = run->step;
    p->optimizer_step = s->optimizer.step;
    p->trainable_floats = s->reference.floats;
    p->moment_floats = s->optimizer.size;
    p->trainable = xmalloc((p->trainable_floats + 1) * sizeof(float));
    p->selected = xmalloc((p->trainable_floats + 1) * sizeof(float));
    trainable_copy_gather(&s->reference, true, p->trainable);
    trainable_copy_gather(&s->selected, false, p->selected);
    p->first_moment = xmalloc((p->moment_floats + 1) * sizeof(float));
    p->second_moment = xmalloc((p->moment_floats + 1) * sizeof(float));
    memcpy(p->first_moment, s->optimizer.first_moment, p->moment_floats * sizeof(float));
    memcpy(p->second_moment, s->optimizer.second_moment, p->moment_floats * sizeof(float));
    p->forget_rng = s->forget.rng;
    p->retain_rng = s->retain.rng;
    p->forget_count = s->forget.count;
    p->retain_count = s->retain.count;
    p->forget_order = copy_ints(s->forget.order, s->forget.count);
    p->retain_order = copy_ints(s->retain.order, s->retain.count);
    p->forget_next = s->forget.next;
    p->retain_next = s->retain.next;
    p->have_selected = run->have_selected;
    p->selected_eval = run->selected_eval;
    p->last_eval = run->last_eval;
    p->last_forget_overlap = run->last_forget_overlap;
    p->reference_nll = xmalloc((size_t)(p->forget_count > 0 ? p->forget_count : 1) * sizeof(double));
    memcpy(p->reference_nll, s->reference_seq_nll, (size_t)p->forget_count * sizeof(double));
}

static bool is_permutation(const int *order, int count)
{
    bool ok = true;
    unsigned char *seen = xcalloc((size_t)(count > 0 ? count : 1), 1);
    for (int i = 0; i < count && ok; i++) {
        ok = order[i] >= 0 && order[i] < count && !seen[order[i]];
        if (ok)
            seen[order[i]] = 1;
    }
    free(seen);
    return ok;
}

int unlearn_restore(UnlearnRun *run, const UnlearnResumePoint *p)
{
    UnlearnState *s = run->state;
    if (p->trainable_floats != s->reference.floats || p->moment_floats != s->optimizer.size)
        return error_set("the saved state holds %zu trainable values and %zu optimizer moments; "
                         "this run has %zu and %zu (another model or trainable set?)",
                         p->trainable_floats, p->moment_floats, s->reference.floats,
                         s->optimizer.size);
    if (p->forget_count != s->forget.count || p->retain_count != s->retain.count)
        return error_set("the saved state was made on %d forget and %d retain documents; this "
                         "run has %d and %d", p->forget_count, p->retain_count, s->forget.count,
                         s->retain.count);
    if (p->step < 0 || p->step > run->config.steps)
        return error_set("the saved state is at step %d; this run has %d steps", p->step,
                         run->config.steps);
    if (!is_permutation(p->forget_order, p->forget_count) ||
        !is_permutation(p->retain_order, p->retain_count) || p->forget_next < 0 ||
        p->forget_next > p->forget_count || p->retain_next < 0 || p->retain_next > p->retain_count)
        return error_set("the saved epoch orders are not permutations of the documents");
    run->step = p->step;
    s->optimizer.step = p->optimizer_step;
    trainable_copy_scatter(&s->reference, true, p->trainable);
    trainable_copy_scatter(&s->selected, false, p->selected);
    memcpy(s->optimizer.first_moment, p->first_moment, p->moment_floats * sizeof(float));
    memcpy(s->optimizer.second_moment, p->second_moment, p->moment_floats * sizeof(float));
    s->forget.rng = p->forget_rng;
    s->retain.rng = p->retain_rng;
    memcpy(s->forget.order, p->forget_order, (size_t)p->forget_count * sizeof(int));
    memcpy(s->retain.order, p->retain_order, (size_t)p->retain_count * sizeof(int));
    s->forget.next = p->forget_next;
    s->retain.next = p->retain_next;
    run->have_selected = p->have_selected;
    run->selected_eval = p->selected_eval;
    run->last_eval = p->last_eval;
    run->last_forget_overlap = p->last_forget_overlap;
    memcpy(s->reference_seq_nll, p->reference_nll, (size_t)p->forget_count * sizeof(double));
    log_line(run, "resumed after step %d of %d", run->step, run->config.steps);
    return 0;
}

void unlearn_resume_point_free(UnlearnResumePoint *p)
{
    free(p->trainable);
    free(p->selected);
    free(p->first_moment);
    free(p->second_moment);
    free(p->forget_order);
    free(p->retain_order);
    free(p->reference_nll);
    memset(p, 0, sizeof *p);
}
