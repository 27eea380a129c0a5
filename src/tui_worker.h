/* The workbench's worker thread: it runs the experiment (workbench.h), or a
 * Lua experiment script in a Lua state of its own (lua_host.h), with its own
 * model and runs; publishes the events into the shared view (tui_state.h);
 * and takes the UI's commands between steps: pause, resume, one step, stop,
 * α, learning rate, a new target (not for a script's runs), plot export.
 * Once the experiment has ended it still exports on request, until told to
 * quit. The thread never touches the screen, and blocks the signals that
 * the UI thread handles. */
#ifndef UOE_TUI_WORKER_H
#define UOE_TUI_WORKER_H

#include <pthread.h>
#include <stdbool.h>

#include "lua_host.h"
#include "tui_state.h"
#include "workbench.h"

/* What the worker runs: one of the two. */
typedef struct {
    const WorkbenchExperiment *runs;   /* the runs the options describe */
    const LuaHostScript *script;       /* a Lua experiment script */
} TuiExperiment;

typedef struct {
    TuiShared *shared;
    TuiExperiment experiment;
    pthread_t thread;
    int outcome;             /* WORKBENCH_FINISHED, _STOPPED or _FAILED, once the thread has ended */
    /* the worker thread's own */
    bool paused;
    int granted_steps;       /* steps to take while paused */
    bool quit;               /* QUIT was seen */
    char *script_error;      /* what the script's host reported, lines joined; NULL = nothing */
} TuiWorker;

/* Starts the thread; `paused` holds it before step 1. */
void tui_worker_start(TuiWorker *worker, TuiShared *shared, TuiExperiment experiment, bool paused);
/* Posts QUIT and waits for the thread: the current run stops after its
 * step, writing its summary (a script stops with it). Returns the outcome. */
int tui_worker_finish(TuiWorker *worker);

#endif
