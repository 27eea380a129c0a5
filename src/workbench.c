#include "workbench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checkpoint.h"
#include "error.h"
#include "run_setup.h"
#include "run_state.h"
#include "tokenizer.h"

void workbench_label(const UnlearnConfig *config, char *label, size_t size)
{
    char set[48];
    trainable_set_name(&config->trainable, set, sizeof set);
    snprintf(label, size, "%s-%s", unlearn_method_name(config->method), set);
}

int workbench_make_directories(const char *dir)
{
    char *path = xstrdup(dir);
    int rc = 0;
    for (char *slash = strchr(path + 1, '/'); slash && rc == 0; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        if (mkdir(path, 0777) < 0 && errno != EEXIST)
            rc = error_set("%s: cannot create: %s", path, strerror(errno));
        *slash = '/';
    }
    free(path);
    return rc < 0 ? rc : checkpoint_make_directory(dir);
}

void workbench_log_lines(const WorkbenchSink *sink, const char *text)
{
    if (!sink->events.on_log)
        return;
    enum { TAB_WIDTH = 4 };
    char line[WORKBENCH_PATH_SIZE];
    size_t length = 0;
    for (const char *c = text;; c++) {
        if (*c == '\n' || *c == '\0') {
            line[length] = '\0';
            sink->events.on_log(sink->ctx, line);
            length = 0;
            if (*c == '\0')
                return;
        } else if (length + TAB_WIDTH < sizeof line) {
            /* a tab as spaces to the next stop, other control characters as one */
            size_t width = *c == '\t' ? TAB_WIDTH - length % TAB_WIDTH : 1;
            char shown = (unsigned char)*c < ' ' || *c == 0x7f ? ' ' : *c;
            for (size_t i = 0; i < width; i++)
                line[length++] = shown;
        }
    }
}

/* The run's events, to its run directory and then to the sink. */
typedef struct {
    RunDir *dir;
    const WorkbenchSink *sink;
} Tee;

static void tee_start(void *ctx, const UnlearnRun *run)
{
    Tee *t = ctx;
    run_dir_on_start(t->dir, run);
    if (t->sink->events.on_start)
        t->sink->events.on_start(t->sink->ctx, run);
}

static void tee_step(void *ctx, const UnlearnStep *step)
{
    Tee *t = ctx;
    run_dir_on_step(t->dir, step);
    if (t->sink->events.on_step)
        t->sink->events.on_step(t->sink->ctx, step);
}

static void tee_eval(void *ctx, const UnlearnEval *eval)
{
    Tee *t = ctx;
    run_dir_on_eval(t->dir, eval);
    if (t->sink->events.on_eval)
        t->sink->events.on_eval(t->sink->ctx, eval);
}

static void tee_snapshot(void *ctx, const UnlearnSnapshot *snapshot)
{
    Tee *t = ctx;
    run_dir_on_snapshot(t->dir, snapshot);
    if (t->sink->events.on_snapshot)
        t->sink->events.on_snapshot(t->sink->ctx, snapshot);
}

static void tee_log(void *ctx, const char *line)
{
    Tee *t = ctx;
    if (t->sink->events.on_log)
        t->sink->events.on_log(t->sink->ctx, line);
}

/* The parts of the experiment that every run shares. */
typedef struct {
    const WorkbenchExperiment *experiment;
    const WorkbenchSink *sink;
    const WorkbenchControl *control;
    Tokenizer *tokenizer;
    int number;              /* of the run being begun */
} Session;

void workbench_result(WorkbenchRunResult *r, const UnlearnRun *run, int number, const char *label,
                      const char *dir, bool finished)
{
    memset(r, 0, sizeof *r);
    r->number = number;
    snprintf(r->label, sizeof r->label, "%s", label);
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    r->finished = finished;
    snprintf(r->stop_reason, sizeof r->stop_reason, "%s", run->stop_reason);
    r->steps = run->step;
    r->first = run->first_eval;
    r->selected = run->selected_eval;
    r->forget_overlap = run->last_forget_overlap;
    r->tunable_fraction = run->selection.fraction;
}

/* Steps a begun run until it ends or the control stops or retargets it.
 * Returns 1 when it took every step, 0 when it stopped (a non-finite value,
 * or the control's *decision), -1 on an engine error. */
static int step_run(Session *s, UnlearnRun *run, Tee *tee, WorkbenchCurrent *current,
                    WorkbenchDecision *decision)
{
    for (;;) {
        if (s->control) {
            *decision = s->control->between_steps(s->control->ctx, current);
            if (decision->action != WORKBENCH_STEP)
                return 0;
        }
        int rc = unlearn_step(run);
        if (rc == 0)
            return 1;
        if (rc < 0 && !run->stop_reason[0])
            return -1;
        if (rc < 0) { /* the non-finite guard: the last good state stays */
            tee_log(tee, run->stop_reason);
            if (!run->have_selected)
                run->selected_eval = run->last_eval;
            return 0;
        }
    }
}

/* Begins, steps and ends one run into OUT/<number>-<label>. Returns
 * WORKBENCH_FINISHED when the run ended by itself (all its steps, or a
 * non-finite value), WORKBENCH_STOPPED when the control ended it (see
 * *decision), or WORKBENCH_FAILED. */
static int one_run(Session *s, const WorkbenchRunSpec *spec, int remaining,
                   WorkbenchDecision *decision)
{
    const WorkbenchExperiment *x = s->experiment;
    char dir_path[WORKBENCH_PATH_SIZE];
    snprintf(dir_path, sizeof dir_path, "%s/%d-%s", x->out_dir, s->number, spec->label);
    WorkbenchRunInfo info = {.number = s->number, .remaining = remaining, .label = spec->label,
                             .dir = dir_path, .model_dir = x->model_dir, .config = &spec->config};
    if (s->sink->on_run_begin)
        s->sink->on_run_begin(s->sink->ctx, &info);

    Model model = {0};
    RunDir dir = {.metrics_fd = -1};
    UnlearnRun run = {0};
    Tee tee = {&dir, s->sink};
    UnlearnObserver observer = {.ctx = &tee, .on_start = tee_start, .on_step = tee_step,
                                .on_eval = tee_eval, .on_snapshot = tee_snapshot, .on_log = tee_log};
    int outcome = WORKBENCH_FAILED;
    if (checkpoint_load(&model, x->model_dir, NULL) < 0)
        goto done;
    json_t *experiment = run_setup_experiment_json(x->model_dir, &x->data);
    json_object_set_new(experiment, "workbench_run", json_string(spec->label));
    int rc = run_state_begin(&dir, dir_path, experiment, x->resume, &run, &model, s->tokenizer,
                             &x->data, &spec->config, &observer);
    json_decref(experiment);
    if (rc < 0)
        goto done;
    WorkbenchCurrent current = {&run, &dir, dir_path};
    *decision = (WorkbenchDecision){.action = WORKBENCH_STEP};
    int stepped = step_run(s, &run, &tee, &current, decision);
    if (stepped < 0)
        goto done;
    if (decision->action == WORKBENCH_RETARGET)
        snprintf(run.stop_reason, sizeof run.stop_reason,
                 "retargeted to layer %d expert %d after step %d of %d", decision->layer,
                 decision->expert, run.step, run.config.steps);
    else if (decision->action == WORKBENCH_STOP)
        snprintf(run.stop_reason, sizeof run.stop_reason, "%s", decision->reason);
    /* a stopped run keeps its state for a resume, before the selection changes the model */
    if (decision->action == WORKBENCH_STOP && run_state_save(&run, dir_path) < 0)
        goto done;
    if (!run.stop_reason[0] || decision->action != WORKBENCH_STEP)
        unlearn_finish(&run);
    if (run_dir_write_summary(&dir, &run) < 0 ||
        (x->save_model && run_setup_save_model(dir_path, x->model_dir, &model) < 0))
        goto done;
    outcome = decision->action == WORKBENCH_STEP ? WORKBENCH_FINISHED : WORKBENCH_STOPPED;
    WorkbenchRunResult result;
    workbench_result(&result, &run, s->number, spec->label, dir_path, stepped == 1);
    if (s->sink->on_run_end)
        s->sink->on_run_end(s->sink->ctx, &result);
done:
    unlearn_end(&run);
    if (dir.path && run_dir_close(&dir) < 0)
        outcome = WORKBENCH_FAILED;
    model_free(&model);
    return outcome;
}

int workbench_run(const WorkbenchExperiment *x, const WorkbenchSink *sink,
                  const WorkbenchControl *control)
{
    Session s = {.experiment = x, .sink = sink, .control = control};
    if (workbench_make_directories(x->out_dir) < 0 || tokenizer_load(&s.tokenizer, x->model_dir) < 0)
        return WORKBENCH_FAILED;
    int outcome = WORKBENCH_FINISHED;
    WorkbenchRunSpec retargeted;
    TrainableTarget target;
    const WorkbenchRunSpec *spec = x->run_count > 0 ? &x->runs[0] : NULL;
    for (int i = 0; spec && outcome == WORKBENCH_FINISHED;) {
        s.number++;
        WorkbenchDecision decision = {.action = WORKBENCH_STEP};
        int rc = one_run(&s, spec, x->run_count - i - 1, &decision);
        if (rc == WORKBENCH_STOPPED && decision.action == WORKBENCH_RETARGET) {
            /* the same run again, training and anchoring the chosen expert */
            retargeted = *spec;
            target = (TrainableTarget){decision.layer, decision.expert};
            retargeted.config.trainable.kind = TRAINABLE_EXPLICIT;
            retargeted.config.trainable.targets = &target;
            retargeted.config.trainable.target_count = 1;
            retargeted.config.trainable.target_routers = true;
            snprintf(retargeted.label, sizeof retargeted.label, "%s-L%dE%d",
                     unlearn_method_name(spec->config.method), target.layer, target.expert);
            spec = &retargeted;
            continue;
        }
        outcome = rc;
        i++;
        spec = i < x->run_count ? &x->runs[i] : NULL;
    }
    tokenizer_free(s.tokenizer);
    return outcome;
}
