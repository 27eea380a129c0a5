/* The run directory (DESIGN.md, "Files"): one observer of an unlearning run,
 * writing as the run goes:
 *   config.json      the resolved experiment, written at the start;
 *   metrics.jsonl    one object per step, evaluation or snapshot, each line
 *                    written whole by a single write;
 *   routing/step_NNNNNN.json  per-layer, per-expert statistics of both
 *                    probes at each snapshot, with the shift from step 0;
 *   summary.json     final FE, UT, shift and tunable fraction, at the end.
 * JSON files are written atomically (a temporary file, then a rename). The
 * first error is kept and reported by run_dir_close; the run goes on. */
#ifndef UOE_RUN_DIR_H
#define UOE_RUN_DIR_H

#include <jansson.h>

#include "unlearn.h"

typedef struct {
    char *path;
    int metrics_fd;
    json_t *experiment;     /* what the caller adds to config.json: model, data paths */
    int failed;             /* an error was recorded */
    char error[512];
    double step_seconds;    /* sum over steps, for the summary */
    int steps;
} RunDir;

/* Creates the directory (and routing/); refuses one that already holds a run. */
int run_dir_open(RunDir *dir, const char *path, json_t *experiment);
/* An observer that writes this directory's files. */
UnlearnObserver run_dir_observer(RunDir *dir);
void run_dir_on_start(void *ctx, const UnlearnRun *run);
void run_dir_on_step(void *ctx, const UnlearnStep *step);
void run_dir_on_eval(void *ctx, const UnlearnEval *eval);
void run_dir_on_snapshot(void *ctx, const UnlearnSnapshot *snapshot);
/* Writes summary.json for a finished (or stopped) run. */
int run_dir_write_summary(RunDir *dir, const UnlearnRun *run);
/* Closes the files; returns -1 with the first error if any write failed. */
int run_dir_close(RunDir *dir);

#endif
