/* The run directory (DESIGN.md, "Files"): one observer of an unlearning run,
 * writing as the run goes:
 *   config.json      the resolved experiment, written at the start;
 *   metrics.jsonl    one object per step, evaluation or snapshot, each line
 *                    written whole by a single write;
 *   routing/step_NNNNNN.json  per-layer, per-expert statistics of both
 *                    probes at each snapshot, with the shift from step 0;
 *   summary.json     final FE, UT, shift and tunable fraction, at the end;
 *   state/           the run's resumable state, after each snapshot (run_state.h).
 * JSON files are written atomically (a temporary file, then a rename). The
 * first error is kept and reported by run_dir_close; the run goes on. */
#ifndef UOE_RUN_DIR_H
#define UOE_RUN_DIR_H

#include <jansson.h>
#include <stdbool.h>

#include "unlearn.h"

typedef struct {
    char *path;
    int metrics_fd;
    json_t *experiment;     /* what the caller adds to config.json: model, data paths */
    int failed;             /* an error was recorded */
    char error[512];
    double step_seconds;    /* sum over steps, for the summary */
    int steps;
    int kept_through_step;  /* resumed: records up to this step are on file already */
    const UnlearnRun *run;  /* from on_start: its state is saved at each snapshot */
} RunDir;

/* Creates the directory (and routing/); refuses one that already holds a run. */
int run_dir_open(RunDir *dir, const char *path, json_t *experiment);
/* Reopens a directory that holds a run, to resume it after step
 * keep_through_step (-1: from the start): metrics.jsonl keeps its lines up
 * to the first record of a later step, routing snapshots of later steps and
 * summary.json are removed, and the run's events up to that step (its
 * begin's evaluation and snapshot of step 0) are not written again. */
int run_dir_open_resumed(RunDir *dir, const char *path, json_t *experiment, int keep_through_step);
/* The step of a file named step_N.EXT (the routing snapshots and the saved
 * states), or -1 when the name is not one. */
int run_dir_file_step(const char *name, const char *extension);
/* Removes the .json and .safetensors step files of folder whose step is
 * after `step` (later_only), or other than `step`. */
void run_dir_remove_step_files(const char *folder, int step, bool later_only);
/* An observer that writes this directory's files. */
UnlearnObserver run_dir_observer(RunDir *dir);
void run_dir_on_start(void *ctx, const UnlearnRun *run);
void run_dir_on_step(void *ctx, const UnlearnStep *step);
void run_dir_on_eval(void *ctx, const UnlearnEval *eval);
void run_dir_on_snapshot(void *ctx, const UnlearnSnapshot *snapshot);
/* Writes summary.json for a finished (or stopped) run. */
/* An evaluation as the files record it: {step, fe, fe_norm, ut, ut_norm,
 * forget_nll, retain_nll}. */
json_t *run_dir_eval_json(const UnlearnEval *eval);
int run_dir_write_summary(RunDir *dir, const UnlearnRun *run);
/* Closes the files; returns -1 with the first error if any write failed. */
int run_dir_close(RunDir *dir);

#endif
