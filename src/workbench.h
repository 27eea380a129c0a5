/* The workbench's experiment: unlearning runs on one model and one data
 * set, one after another, each into its own run directory OUT/<n>-<label>
 * (`uoe-wb tui MODEL_DIR`: the run the options describe, then its
 * baseline).
 *
 * Interactive and headless use run it through this one loop: each run's
 * events go to its run directory and to a sink (the TUI's shared state, or
 * the progress printer), and before every step a control says what to do
 * next (the TUI's command queue, which may block while paused, or the
 * interrupt flag). A Lua script in the workbench (lua_host.h) reports to
 * the same sink and asks the same control from each of its runs. */
#ifndef UOE_WORKBENCH_H
#define UOE_WORKBENCH_H

#include <stdbool.h>

#include "run_dir.h"
#include "unlearn.h"

#define WORKBENCH_LABEL_SIZE 64
#define WORKBENCH_PATH_SIZE 1024

typedef struct {
    char label[WORKBENCH_LABEL_SIZE];  /* "ga-uoe": the method and the trainable set */
    UnlearnConfig config;
} WorkbenchRunSpec;

typedef struct {
    const char *model_dir;
    UnlearnData data;
    const char *out_dir;               /* created when missing, with its parents */
    const WorkbenchRunSpec *runs;      /* (run_count) in order */
    int run_count;
    bool save_model;                   /* each run's selected weights to its RUN_DIR/model/ */
    bool resume;                       /* each run goes on from the state its directory saved */
} WorkbenchExperiment;

/* A run of the experiment as it begins. */
typedef struct {
    int number;                        /* 1, 2, ...: runs begun so far, restarts included */
    int remaining;                     /* runs of the experiment after this one */
    const char *label, *dir, *model_dir;
    const UnlearnConfig *config;
} WorkbenchRunInfo;

/* A run as it ended. */
typedef struct {
    int number;
    char label[WORKBENCH_LABEL_SIZE];
    char dir[WORKBENCH_PATH_SIZE];
    bool finished;                     /* all its steps; else stop_reason says why not */
    char stop_reason[256];
    int steps;                         /* steps taken */
    UnlearnEval first, selected;       /* step 0, and what the selection rule picked */
    double forget_overlap;             /* mean token overlap of the last snapshot */
    double tunable_fraction;
} WorkbenchRunResult;

typedef struct {
    void *ctx;
    UnlearnObserver events;            /* each run's events, called with this ctx (events.ctx unused) */
    void (*on_run_begin)(void *ctx, const WorkbenchRunInfo *info);
    void (*on_run_end)(void *ctx, const WorkbenchRunResult *result);
} WorkbenchSink;

typedef enum {
    WORKBENCH_STEP,                    /* take the next step */
    WORKBENCH_STOP,                    /* end this run here and the experiment with it */
    WORKBENCH_RETARGET,                /* start this run again from step 0 on another expert */
} WorkbenchAction;

typedef struct {
    WorkbenchAction action;
    int layer, expert;                 /* RETARGET: the expert to unlearn and anchor */
    char reason[160];                  /* STOP: why, for the run's summary.json */
} WorkbenchDecision;

/* The run in progress, as the control may use it between steps. */
typedef struct {
    UnlearnRun *run;
    RunDir *dir;
    const char *dir_path;
} WorkbenchCurrent;

typedef struct {
    void *ctx;
    WorkbenchDecision (*between_steps)(void *ctx, WorkbenchCurrent *current);
} WorkbenchControl;

/* Whether `t` can move a run's target: the sets that train chosen experts. */
static inline bool workbench_set_picks_experts(const TrainableSetSpec *spec)
{
    return spec->kind != TRAINABLE_ALL && spec->kind != TRAINABLE_EXPERTS &&
           spec->kind != TRAINABLE_ROUTERS;
}
/* A run's label: "<method>-<set>", e.g. "ga-uoe", "npo-top4-layer". */
void workbench_label(const UnlearnConfig *config, char *label, size_t size);
/* Makes dir and the folders above it that are missing. */
int workbench_make_directories(const char *dir);
/* A run's end as the sink sees it: finished when it took all its steps. */
void workbench_result(WorkbenchRunResult *result, const UnlearnRun *run, int number,
                      const char *label, const char *dir, bool finished);
/* Gives the sink each line of text (split at newlines) as a log line, tabs
 * expanded and other control characters made spaces, for the screen. */
void workbench_log_lines(const WorkbenchSink *sink, const char *text);

enum { WORKBENCH_FINISHED = 0, WORKBENCH_STOPPED = 1, WORKBENCH_FAILED = -1 };

/* Runs the experiment: every run, or until the control stops it. Returns
 * WORKBENCH_FINISHED, WORKBENCH_STOPPED, or WORKBENCH_FAILED with the error
 * set (a file that cannot be read or written, an engine error). A run that
 * a non-finite value stops ends with its reason, and the next one starts. */
int workbench_run(const WorkbenchExperiment *experiment, const WorkbenchSink *sink,
                  const WorkbenchControl *control);

#endif
