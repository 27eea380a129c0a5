#include "tui_state.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* Histories: enough steps for a long run at one point per step; older ones drop. */
enum { STEP_HISTORY = 4096, EVAL_HISTORY = 1024, OVERLAP_HISTORY = 1024, LOG_LINES = 500,
       RESULTS = 32 };

void tui_view_init(TuiView *view)
{
    memset(view, 0, sizeof *view);
    ring_init(&view->step_history, sizeof(UnlearnStep), STEP_HISTORY);
    ring_init(&view->eval_history, sizeof(UnlearnEval), EVAL_HISTORY);
    ring_init(&view->overlap_history, sizeof(TuiOverlapPoint), OVERLAP_HISTORY);
    ring_init(&view->log, sizeof(TuiLogLine), LOG_LINES);
    ring_init(&view->results, sizeof(WorkbenchRunResult), RESULTS);
}

static void free_probe(TuiProbe *probe)
{
    free(probe->counts);
    free(probe->prob_sum);
    free(probe->start_counts);
    free(probe->shift);
    memset(probe, 0, sizeof *probe);
}

void tui_view_free(TuiView *view)
{
    free(view->gate_score);
    free_probe(&view->forget);
    free_probe(&view->retain);
    ring_free(&view->step_history);
    ring_free(&view->eval_history);
    ring_free(&view->overlap_history);
    ring_free(&view->log);
    ring_free(&view->results);
    memset(view, 0, sizeof *view);
}

/* *dst becomes a copy of src (count elements of size bytes), or NULL. */
static void copy_array(void **dst, const void *src, size_t count, size_t size)
{
    if (!src) {
        free(*dst);
        *dst = NULL;
        return;
    }
    *dst = xrealloc(*dst, count * size);
    memcpy(*dst, src, count * size);
}

static void copy_probe(TuiProbe *dst, const TuiProbe *src, size_t cells, size_t layers)
{
    TuiProbe kept = *dst;
    *dst = *src;
    dst->counts = kept.counts;
    dst->prob_sum = kept.prob_sum;
    dst->start_counts = kept.start_counts;
    dst->shift = kept.shift;
    copy_array((void **)&dst->counts, src->counts, cells, sizeof(double));
    copy_array((void **)&dst->prob_sum, src->prob_sum, cells, sizeof(double));
    copy_array((void **)&dst->start_counts, src->start_counts, cells, sizeof(double));
    copy_array((void **)&dst->shift, src->shift, layers, sizeof(LayerShift));
}

void tui_view_copy(TuiView *dst, const TuiView *src)
{
    TuiView kept = *dst;
    *dst = *src;
    size_t cells = (size_t)src->layers * src->experts, layers = (size_t)src->layers;
    dst->gate_score = kept.gate_score;
    copy_array((void **)&dst->gate_score, src->gate_score, cells, sizeof(double));
    dst->forget = kept.forget;
    dst->retain = kept.retain;
    copy_probe(&dst->forget, &src->forget, cells, layers);
    copy_probe(&dst->retain, &src->retain, cells, layers);
    Ring *rings[] = {&dst->step_history, &dst->eval_history, &dst->overlap_history, &dst->log,
                     &dst->results};
    const Ring *kept_rings[] = {&kept.step_history, &kept.eval_history, &kept.overlap_history,
                                &kept.log, &kept.results};
    const Ring *src_rings[] = {&src->step_history, &src->eval_history, &src->overlap_history,
                               &src->log, &src->results};
    for (int i = 0; i < 5; i++) {
        *rings[i] = *kept_rings[i];
        ring_copy(rings[i], src_rings[i]);
    }
}

void tui_view_log(TuiView *view, const char *fmt, ...)
{
    TuiLogLine line;
    va_list args;
    va_start(args, fmt);
    vsnprintf(line.text, sizeof line.text, fmt, args);
    va_end(args);
    ring_push(&view->log, &line);
    view->version++;
}

void tui_shared_init(TuiShared *shared)
{
    memset(shared, 0, sizeof *shared);
    pthread_mutex_init(&shared->lock, NULL);
    pthread_cond_init(&shared->posted, NULL);
    tui_view_init(&shared->view);
}

void tui_shared_free(TuiShared *shared)
{
    tui_view_free(&shared->view);
    pthread_cond_destroy(&shared->posted);
    pthread_mutex_destroy(&shared->lock);
}

bool tui_shared_post(TuiShared *shared, TuiCommand command)
{
    pthread_mutex_lock(&shared->lock);
    bool room = shared->queue_count < TUI_QUEUE_SIZE || command.kind == TUI_COMMAND_QUIT;
    if (command.kind == TUI_COMMAND_QUIT) {
        shared->quit = true;
        shared->view.stopping = true;
        shared->view.version++;
        pthread_cond_signal(&shared->posted);
    } else if (room) {
        shared->queue[(shared->queue_head + shared->queue_count) % TUI_QUEUE_SIZE] = command;
        shared->queue_count++;
        pthread_cond_signal(&shared->posted);
    }
    pthread_mutex_unlock(&shared->lock);
    return room;
}

bool tui_shared_fetch(TuiShared *shared, TuiView *copy)
{
    pthread_mutex_lock(&shared->lock);
    bool moved = shared->view.version != copy->version;
    if (moved)
        tui_view_copy(copy, &shared->view);
    pthread_mutex_unlock(&shared->lock);
    return moved;
}

void tui_shared_set_phase(TuiShared *shared, TuiPhase phase, const char *failure)
{
    pthread_mutex_lock(&shared->lock);
    TuiView *v = &shared->view;
    if (v->phase != phase || failure) {
        v->phase = phase;
        if (failure) {
            snprintf(v->failure, sizeof v->failure, "%s", failure);
            tui_view_log(v, "error: %s", failure);
        }
        v->version++;
    }
    pthread_mutex_unlock(&shared->lock);
}

void tui_shared_set_script(TuiShared *shared, const char *path)
{
    pthread_mutex_lock(&shared->lock);
    snprintf(shared->view.script, sizeof shared->view.script, "%s", path);
    shared->view.version++;
    pthread_mutex_unlock(&shared->lock);
}

void tui_shared_set_knobs(TuiShared *shared, float alpha, float learning_rate)
{
    pthread_mutex_lock(&shared->lock);
    shared->view.alpha = alpha;
    shared->view.learning_rate = learning_rate;
    shared->view.version++;
    pthread_mutex_unlock(&shared->lock);
}

/* ---- the sink: the worker's events into the view ---- */

static TuiView *lock_view(void *ctx)
{
    TuiShared *shared = ctx;
    pthread_mutex_lock(&shared->lock);
    return &shared->view;
}

static void unlock_view(void *ctx)
{
    TuiShared *shared = ctx;
    shared->view.version++;
    pthread_mutex_unlock(&shared->lock);
}

static void on_run_begin(void *ctx, const WorkbenchRunInfo *info)
{
    TuiView *v = lock_view(ctx);
    snprintf(v->label, sizeof v->label, "%s", info->label);
    snprintf(v->dir, sizeof v->dir, "%s", info->dir);
    snprintf(v->model_dir, sizeof v->model_dir, "%s", info->model_dir);
    v->run_number = info->number;
    v->runs_after = info->remaining;
    v->steps = info->config->steps;
    v->started = v->have_step = v->have_first_eval = v->have_snapshot = false;
    ring_clear(&v->step_history);
    ring_clear(&v->eval_history);
    ring_clear(&v->overlap_history);
    v->phase = TUI_PREPARING;
    snprintf(v->activity, sizeof v->activity, "attribution and the step-0 evaluation");
    tui_view_log(v, "== %d-%s: %s", info->number, info->label, info->dir);
    unlock_view(ctx);
}

static void resize_probe(TuiProbe *probe, size_t cells, size_t layers)
{
    free_probe(probe);
    probe->counts = xcalloc(cells, sizeof(double));
    probe->prob_sum = xcalloc(cells, sizeof(double));
    probe->start_counts = xcalloc(cells, sizeof(double));
    probe->shift = xcalloc(layers, sizeof(LayerShift));
}

static void on_start(void *ctx, const UnlearnRun *run)
{
    TuiView *v = lock_view(ctx);
    const UnlearnConfig *c = &run->config;
    const ModelConfig *mc = &run->model->config;
    snprintf(v->method, sizeof v->method, "%s", unlearn_method_name(c->method));
    trainable_set_name(&c->trainable, v->set_name, sizeof v->set_name);
    v->steps = c->steps;
    v->eval_every = c->eval_every;
    v->learning_rate = c->learning_rate;
    v->alpha = c->anchor_alpha;
    v->tunable_fraction = run->selection.fraction;
    v->target_layer = run->target_layer;
    v->target_expert = run->target_expert;
    v->target_movable = workbench_set_picks_experts(&c->trainable);
    v->layers = mc->num_layers;
    v->experts = mc->num_experts;
    v->experts_per_token = mc->experts_per_token;
    memcpy(v->is_moe, mc->layer_is_moe, sizeof v->is_moe);
    size_t cells = (size_t)v->layers * v->experts;
    v->gate_score = xrealloc(v->gate_score, cells * sizeof(double));
    memcpy(v->gate_score, run->attribution.gate_score, cells * sizeof(double));
    resize_probe(&v->forget, cells, (size_t)v->layers);
    resize_probe(&v->retain, cells, (size_t)v->layers);
    v->started = true;
    unlock_view(ctx);
}

static void on_step(void *ctx, const UnlearnStep *step)
{
    TuiView *v = lock_view(ctx);
    v->last_step = *step;
    v->have_step = true;
    ring_push(&v->step_history, step);
    bool eval_due = step->step % v->eval_every == 0 || step->step == v->steps;
    snprintf(v->activity, sizeof v->activity, "%s", eval_due ? "evaluating FE and UT" : "");
    unlock_view(ctx);
}

static void on_eval(void *ctx, const UnlearnEval *eval)
{
    TuiView *v = lock_view(ctx);
    ring_push(&v->eval_history, eval);
    if (eval->step == 0) {
        v->first_eval = *eval;
        v->have_first_eval = true;
    }
    v->activity[0] = '\0';
    unlock_view(ctx);
}

static void take_probe(TuiProbe *probe, const ProbeRouting *routing, const LayerShift *shift,
                       double overlap, bool at_start, int layers)
{
    size_t cells = (size_t)routing->num_layers * routing->num_experts;
    memcpy(probe->counts, routing->counts, cells * sizeof(double));
    memcpy(probe->prob_sum, routing->prob_sum, cells * sizeof(double));
    memcpy(probe->shift, shift, (size_t)layers * sizeof(LayerShift));
    probe->tokens = routing->tokens;
    probe->token_overlap = overlap;
    if (at_start) {
        memcpy(probe->start_counts, routing->counts, cells * sizeof(double));
        probe->start_tokens = routing->tokens;
    }
}

static void on_snapshot(void *ctx, const UnlearnSnapshot *s)
{
    TuiView *v = lock_view(ctx);
    if (v->started && s->forget->num_layers == v->layers && s->forget->num_experts == v->experts) {
        take_probe(&v->forget, s->forget, s->forget_shift, s->forget_token_overlap, s->step == 0,
                   v->layers);
        take_probe(&v->retain, s->retain, s->retain_shift, s->retain_token_overlap, s->step == 0,
                   v->layers);
        v->have_snapshot = true;
        v->snapshot_step = s->step;
        v->target_layer = s->target_layer;
        v->target_expert = s->target_expert;
        v->target_rank = s->target_rank;
        v->target_prob = s->target_prob;
        TuiOverlapPoint point = {s->step, s->forget_token_overlap, s->retain_token_overlap};
        ring_push(&v->overlap_history, &point);
    }
    unlock_view(ctx);
}

static void on_log(void *ctx, const char *line)
{
    TuiView *v = lock_view(ctx);
    tui_view_log(v, "%s", line);
    unlock_view(ctx);
}

static void on_run_end(void *ctx, const WorkbenchRunResult *result)
{
    TuiView *v = lock_view(ctx);
    ring_push(&v->results, result);
    tui_view_log(v, "%d-%s %s after %d steps: FE %.4f UT %.4f (step %d), forget overlap %.4f%s%s",
                 result->number, result->label, result->finished ? "finished" : "ended",
                 result->steps, result->selected.fe, result->selected.ut, result->selected.step,
                 result->forget_overlap, result->stop_reason[0] ? "; " : "", result->stop_reason);
    unlock_view(ctx);
}

WorkbenchSink tui_shared_sink(TuiShared *shared)
{
    return (WorkbenchSink){
        .ctx = shared,
        .events = {.on_start = on_start, .on_step = on_step, .on_eval = on_eval,
                   .on_snapshot = on_snapshot, .on_log = on_log},
        .on_run_begin = on_run_begin,
        .on_run_end = on_run_end,
    };
}
