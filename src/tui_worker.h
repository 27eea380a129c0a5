/* The workbench's worker thread: it runs the experiment (workbench.h) with
 * its own model and runs, publishes the events into the shared view
 * (tui_state.h), and takes the UI's commands between steps: pause, resume,
 * one step, stop, α, learning rate, a new target, plot export. Once the
 * experiment has ended it still exports on request, until told to quit.
 * The thread never touches the screen, and blocks the signals that the UI
 * thread handles. */
#ifndef UOE_TUI_WORKER_H
#define UOE_TUI_WORKER_H

#include <pthread.h>
#include <stdbool.h>

#include "tui_state.h"
#include "workbench.h"

typedef struct {
    TuiShared *shared;
    const WorkbenchExperiment *experiment;
    pthread_t thread;
    int outcome;             /* workbench_run's, once the thread has ended */
    /* the worker thread's own */
    bool paused;
    int granted_steps;       /* steps to take while paused */
    bool quit;               /* QUIT was seen between steps */
} TuiWorker;

/* Starts the thread; `paused` holds it before step 1. */
void tui_worker_start(TuiWorker *worker, TuiShared *shared, const WorkbenchExperiment *experiment,
                      bool paused);
/* Posts QUIT and waits for the thread: the current run stops after its
 * step, writing its summary. Returns workbench_run's outcome. */
int tui_worker_finish(TuiWorker *worker);

#endif
