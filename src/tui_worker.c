#include "tui_worker.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "plot_export.h"

static void count_written(void *ctx, const char *path)
{
    (void)path;
    (*(int *)ctx)++;
}

/* Renders the plots of run directories into `out`; says in the log what it did. */
static void export_plots(TuiWorker *w, const char *const *dirs, int count, bool compare,
                         const char *out)
{
    PlotExport request = {.out_dir = out, .compare = compare, .share_layer = -1};
    int written = 0;
    int rc = plot_export(dirs, count, &request, count_written, &written);
    pthread_mutex_lock(&w->shared->lock);
    if (rc < 0)
        tui_view_log(&w->shared->view, "export failed: %s", error_message());
    else
        tui_view_log(&w->shared->view, "exported %d plot%s to %s", written, written == 1 ? "" : "s",
                     out);
    pthread_mutex_unlock(&w->shared->lock);
}

static void plots_folder(char *out, size_t size, const char *dir)
{
    snprintf(out, size, "%s/plots", dir);
}

/* The current run's plots: summary.json is written as it stands (the run
 * rewrites it when it ends), since the plots read it. */
static void export_current(TuiWorker *w, WorkbenchCurrent *current)
{
    UnlearnRun so_far = *current->run;
    snprintf(so_far.stop_reason, sizeof so_far.stop_reason,
             "in progress at step %d of %d (written for a plot export)", so_far.step,
             so_far.config.steps);
    if (!so_far.have_selected)
        so_far.selected_eval = so_far.last_eval;
    char out[WORKBENCH_PATH_SIZE + 8];
    plots_folder(out, sizeof out, current->dir_path);
    if (run_dir_write_summary(current->dir, &so_far) < 0) {
        pthread_mutex_lock(&w->shared->lock);
        tui_view_log(&w->shared->view, "export failed: %s", error_message());
        pthread_mutex_unlock(&w->shared->lock);
        return;
    }
    const char *dirs[] = {current->dir_path};
    export_plots(w, dirs, 1, false, out);
}

/* Where the comparison of the ended runs goes: OUT/plots, OUT the
 * experiment's folder, or for a script the folder of its first run. */
static void comparison_folder(const TuiWorker *w, const char *first_run, char *out, size_t size)
{
    if (w->experiment.runs) {
        plots_folder(out, size, w->experiment.runs->out_dir);
        return;
    }
    const char *slash = strrchr(first_run, '/');
    if (slash)
        snprintf(out, size, "%.*s/plots", (int)(slash - first_run), first_run);
    else
        snprintf(out, size, "plots");
}

/* After the experiment: each ended run's plots, and with two runs or more
 * the comparison of them all. */
static void export_ended(TuiWorker *w)
{
    pthread_mutex_lock(&w->shared->lock);
    Ring results = {0};
    ring_copy(&results, &w->shared->view.results);
    pthread_mutex_unlock(&w->shared->lock);
    const char *dirs[64];
    int count = 0;
    char out[WORKBENCH_PATH_SIZE + 8];
    for (int i = 0; i < results.count && count < 64; i++) {
        const WorkbenchRunResult *r = ring_at(&results, i);
        dirs[count++] = r->dir;
        plots_folder(out, sizeof out, r->dir);
        export_plots(w, dirs + count - 1, 1, false, out);
    }
    if (count >= 2) {
        comparison_folder(w, dirs[0], out, sizeof out);
        export_plots(w, dirs, count, true, out);
    }
    ring_free(&results);
}

static int take_commands(TuiShared *shared, TuiCommand *out)
{
    int n = shared->queue_count;
    for (int i = 0; i < n; i++)
        out[i] = shared->queue[(shared->queue_head + i) % TUI_QUEUE_SIZE];
    shared->queue_head = (shared->queue_head + n) % TUI_QUEUE_SIZE;
    shared->queue_count = 0;
    return n;
}

static void note(TuiWorker *w, const char *line)
{
    pthread_mutex_lock(&w->shared->lock);
    tui_view_log(&w->shared->view, "%s", line);
    pthread_mutex_unlock(&w->shared->lock);
}

/* Carries out one command between steps; a stop or a new target goes into *d. */
static void apply(TuiWorker *w, WorkbenchCurrent *current, const TuiCommand *c,
                  WorkbenchDecision *d)
{
    UnlearnRun *run = current->run;
    switch (c->kind) {
    case TUI_COMMAND_PAUSE:
        w->paused = true;
        w->granted_steps = 0;
        break;
    case TUI_COMMAND_RESUME:
        w->paused = false;
        break;
    case TUI_COMMAND_STEP:
        w->paused = true;
        w->granted_steps++;
        break;
    case TUI_COMMAND_QUIT: /* never queued (tui_shared_post): added when seen */
        d->action = WORKBENCH_STOP;
        snprintf(d->reason, sizeof d->reason, "stopped from the workbench after step %d of %d",
                 run->step, run->config.steps);
        break;
    case TUI_COMMAND_SET_ALPHA:
        unlearn_set_anchor_alpha(run, (float)c->value);
        tui_shared_set_knobs(w->shared, run->config.anchor_alpha, run->config.learning_rate);
        break;
    case TUI_COMMAND_SET_LEARNING_RATE:
        unlearn_set_learning_rate(run, (float)c->value);
        tui_shared_set_knobs(w->shared, run->config.anchor_alpha, run->config.learning_rate);
        break;
    case TUI_COMMAND_RETARGET:
        if (w->experiment.script)
            note(w, "retarget is not available for Lua scripts: the script chooses its runs' "
                    "trainable sets (uoe-wb tui MODEL_DIR retargets)");
        else if (!workbench_set_picks_experts(&run->config.trainable))
            note(w, "this run trains whole tensors: its target stays");
        else if (c->layer < 0 || c->layer >= run->model->config.num_layers ||
                 !run->model->config.layer_is_moe[c->layer] || c->expert < 0 ||
                 c->expert >= run->model->config.num_experts)
            note(w, "the target must be an expert of an MoE layer");
        else if (d->action == WORKBENCH_STEP)
            *d = (WorkbenchDecision){.action = WORKBENCH_RETARGET, .layer = c->layer,
                                     .expert = c->expert};
        break;
    case TUI_COMMAND_EXPORT:
        export_current(w, current);
        break;
    }
}

/* The control of workbench_run: the commands that came since the last step,
 * and a wait while paused with no step granted. */
static WorkbenchDecision between_steps(void *ctx, WorkbenchCurrent *current)
{
    TuiWorker *w = ctx;
    TuiShared *shared = w->shared;
    WorkbenchDecision d = {.action = WORKBENCH_STEP};
    TuiCommand commands[TUI_QUEUE_SIZE + 1];
    for (;;) {
        pthread_mutex_lock(&shared->lock);
        if (w->paused && w->granted_steps == 0 && shared->queue_count == 0 && !shared->quit) {
            if (shared->view.phase != TUI_PAUSED) {
                shared->view.phase = TUI_PAUSED;
                shared->view.version++;
            }
            pthread_cond_wait(&shared->posted, &shared->lock);
        }
        int n = take_commands(shared, commands);
        w->quit = shared->quit;
        pthread_mutex_unlock(&shared->lock);
        if (w->quit)
            commands[n++] = (TuiCommand){.kind = TUI_COMMAND_QUIT};
        for (int i = 0; i < n; i++)
            apply(w, current, &commands[i], &d);
        if (d.action != WORKBENCH_STEP)
            return d;
        if (!w->paused)
            break;
        if (w->granted_steps > 0) {
            w->granted_steps--;
            break;
        }
    }
    tui_shared_set_phase(shared, TUI_RUNNING, NULL);
    return d;
}

/* After the experiment: exports on request until QUIT. */
static void serve_until_quit(TuiWorker *w)
{
    TuiShared *shared = w->shared;
    TuiCommand commands[TUI_QUEUE_SIZE];
    for (;;) {
        pthread_mutex_lock(&shared->lock);
        while (shared->queue_count == 0 && !shared->quit)
            pthread_cond_wait(&shared->posted, &shared->lock);
        int n = take_commands(shared, commands);
        bool quit = shared->quit;
        pthread_mutex_unlock(&shared->lock);
        if (quit)
            return;
        for (int i = 0; i < n; i++) {
            if (commands[i].kind == TUI_COMMAND_EXPORT)
                export_ended(w);
            else
                note(w, "the experiment has ended: press e to export its plots, q to quit");
        }
    }
}

/* ---- a Lua script ---- */

static void keep_script_error(void *ctx, const char *message)
{
    TuiWorker *w = ctx;
    size_t kept = w->script_error ? strlen(w->script_error) + 1 : 0;
    w->script_error = xrealloc(w->script_error, kept + strlen(message) + 1);
    if (kept)
        w->script_error[kept - 1] = '\n';
    strcpy(w->script_error + kept, message);
}

static bool quit_requested(void *ctx)
{
    TuiWorker *w = ctx;
    pthread_mutex_lock(&w->shared->lock);
    w->quit = w->quit || w->shared->quit;
    pthread_mutex_unlock(&w->shared->lock);
    return w->quit;
}

/* Runs the script in a Lua state of this thread's own, its runs reporting
 * to the sink and asking the control. */
static int run_script(TuiWorker *w, const WorkbenchSink *sink, const WorkbenchControl *control)
{
    tui_shared_set_script(w->shared, w->experiment.script->path);
    LuaHostWorkbench workbench = {.sink = *sink, .control = *control, .ctx = w,
                                  .on_error = keep_script_error, .quit_requested = quit_requested};
    int status = lua_host_run(w->experiment.script, &workbench);
    if (status == SCRIPT_OK)
        return WORKBENCH_FINISHED;
    return status >= SCRIPT_INTERRUPTED ? WORKBENCH_STOPPED : WORKBENCH_FAILED;
}

/* The failure into the view: the error's first line, then the rest of what
 * the script's host reported (a traceback) in the log. */
static void publish_failure(TuiWorker *w, const WorkbenchSink *sink)
{
    const char *text = error_message();
    if (w->experiment.script)
        text = w->script_error ? w->script_error : "the script failed";
    size_t first = strcspn(text, "\n");
    char failure[sizeof w->shared->view.failure];
    snprintf(failure, sizeof failure, "%.*s", (int)first, text);
    tui_shared_set_phase(w->shared, TUI_FAILED, failure);
    if (text[first])
        workbench_log_lines(sink, text + first + 1);
}

static void *worker_main(void *arg)
{
    TuiWorker *w = arg;
    WorkbenchSink sink = tui_shared_sink(w->shared);
    WorkbenchControl control = {.ctx = w, .between_steps = between_steps};
    w->outcome = w->experiment.script ? run_script(w, &sink, &control)
                                      : workbench_run(w->experiment.runs, &sink, &control);
    if (w->quit)
        return NULL;
    if (w->outcome == WORKBENCH_FAILED)
        publish_failure(w, &sink);
    else
        tui_shared_set_phase(w->shared, w->outcome == WORKBENCH_STOPPED ? TUI_STOPPED : TUI_FINISHED,
                             NULL);
    serve_until_quit(w);
    return NULL;
}

void tui_worker_start(TuiWorker *w, TuiShared *shared, TuiExperiment experiment, bool paused)
{
    memset(w, 0, sizeof *w);
    w->shared = shared;
    w->experiment = experiment;
    w->paused = paused;
    /* the thread inherits a mask without the UI's signals, so they reach the UI thread */
    sigset_t blocked, previous;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGINT);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGWINCH);
    sigaddset(&blocked, SIGTSTP);
    pthread_sigmask(SIG_BLOCK, &blocked, &previous);
    int rc = pthread_create(&w->thread, NULL, worker_main, w);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    CHECK(rc == 0);
}

int tui_worker_finish(TuiWorker *w)
{
    tui_shared_post(w->shared, (TuiCommand){.kind = TUI_COMMAND_QUIT});
    pthread_join(w->thread, NULL);
    free(w->script_error);
    w->script_error = NULL;
    return w->outcome;
}
