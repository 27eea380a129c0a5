/* What the workbench's worker thread publishes and its UI thread draws.
 *
 * The worker turns the experiment's events (workbench.h: each run's steps,
 * evaluations, routing snapshots and log lines) into a TuiView under the
 * mutex: the newest step, the histories in ring buffers, the routing of both
 * probes at the latest snapshot and at step 0, and the shift per layer. The
 * UI thread copies the view out under the same mutex when its version has
 * moved, and draws from the copy. The view holds the events as the run sent
 * them: nothing is computed for the screen.
 *
 * Commands go the other way through a queue under the same mutex: the UI
 * thread posts them, the worker takes them between steps. */
#ifndef UOE_TUI_STATE_H
#define UOE_TUI_STATE_H

#include <pthread.h>
#include <stdbool.h>

#include "ring.h"
#include "workbench.h"

typedef enum {
    TUI_PREPARING,   /* loading, attribution, the step-0 evaluation and snapshot */
    TUI_RUNNING,
    TUI_PAUSED,
    TUI_FINISHED,    /* every run ended */
    TUI_STOPPED,     /* the user stopped the experiment */
    TUI_FAILED,      /* an error ended it: failure says which */
} TuiPhase;

/* The mean token overlap of both probes with step 0, at one snapshot. */
typedef struct {
    int step;
    double forget, retain;
} TuiOverlapPoint;

#define TUI_LOG_LINE 200
typedef struct {
    char text[TUI_LOG_LINE];
} TuiLogLine;

/* One probe's routing (routing_shift.h's ProbeRouting, its counts kept). */
typedef struct {
    double *counts;          /* (L, E) selections at the latest snapshot */
    double *prob_sum;        /* (L, E) summed router probabilities, same tokens */
    double *start_counts;    /* (L, E) selections at step 0 */
    int tokens, start_tokens;
    LayerShift *shift;       /* (L) against step 0 */
    double token_overlap;    /* mean over MoE layers */
} TuiProbe;

typedef struct {
    unsigned long version;   /* moves on every change */
    TuiPhase phase;
    char activity[96];       /* what the worker is doing now */
    char failure[512];
    bool stopping;           /* QUIT was posted; the run stops after its step */
    /* the experiment */
    char model_dir[WORKBENCH_PATH_SIZE];
    char script[WORKBENCH_PATH_SIZE]; /* the Lua script that runs it; empty for the C runs */
    int run_number, runs_after;
    /* the current run: from on_run_begin, then on_start (started) */
    char label[WORKBENCH_LABEL_SIZE], dir[WORKBENCH_PATH_SIZE];
    bool started;
    char method[16], set_name[48];
    int steps, eval_every;
    float learning_rate, alpha; /* the peak learning rate and α now */
    double tunable_fraction;
    int target_layer, target_expert;
    bool target_movable;     /* the trainable set picks experts: `t` may move the target */
    int layers, experts, experts_per_token;
    bool is_moe[MODEL_MAX_LAYERS];
    double *gate_score;      /* (L, E) Eq. 2 attribution on the forget set */
    bool have_step;
    UnlearnStep last_step;
    bool have_first_eval;
    UnlearnEval first_eval;
    Ring step_history;       /* UnlearnStep */
    Ring eval_history;       /* UnlearnEval */
    Ring overlap_history;    /* TuiOverlapPoint */
    bool have_snapshot;
    int snapshot_step, target_rank;
    double target_prob;
    TuiProbe forget, retain;
    Ring log;                /* TuiLogLine: the runs' log lines and the workbench's notes */
    Ring results;            /* WorkbenchRunResult of the runs that ended */
} TuiView;

void tui_view_init(TuiView *view);
void tui_view_free(TuiView *view);
/* Makes dst a deep copy of src. */
void tui_view_copy(TuiView *dst, const TuiView *src);

typedef enum {
    TUI_COMMAND_PAUSE,
    TUI_COMMAND_RESUME,
    TUI_COMMAND_STEP,        /* one step, then pause */
    TUI_COMMAND_QUIT,        /* end the run in progress and the experiment, and the thread */
    TUI_COMMAND_SET_ALPHA,
    TUI_COMMAND_SET_LEARNING_RATE,
    TUI_COMMAND_RETARGET,    /* start the run again on (layer, expert); a script's runs cannot */
    TUI_COMMAND_EXPORT,      /* the plots of the run directories so far */
} TuiCommandKind;

typedef struct {
    TuiCommandKind kind;
    double value;
    int layer, expert;
} TuiCommand;

#define TUI_QUEUE_SIZE 64

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t posted;   /* a command arrived */
    TuiView view;
    TuiCommand queue[TUI_QUEUE_SIZE];
    int queue_head, queue_count;
    bool quit;               /* QUIT was posted: it bypasses the queue, so it always arrives */
} TuiShared;

void tui_shared_init(TuiShared *shared);
void tui_shared_free(TuiShared *shared);
/* UI thread: queues a command (a full queue drops it and returns false);
 * QUIT is never dropped. */
bool tui_shared_post(TuiShared *shared, TuiCommand command);
/* UI thread: copies the view into *copy when its version differs from
 * copy's; returns whether it did. */
bool tui_shared_fetch(TuiShared *shared, TuiView *copy);

/* Worker thread: the sink that publishes a run's events into the view. */
WorkbenchSink tui_shared_sink(TuiShared *shared);
/* Worker thread: sets the phase (and the failure, for TUI_FAILED). */
void tui_shared_set_phase(TuiShared *shared, TuiPhase phase, const char *failure);
/* Worker thread: the Lua script that runs the experiment. */
void tui_shared_set_script(TuiShared *shared, const char *path);
/* Worker thread: α and the peak learning rate now. */
void tui_shared_set_knobs(TuiShared *shared, float alpha, float learning_rate);
/* Adds a line to the view's log; the caller holds the lock. */
void tui_view_log(TuiView *view, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
