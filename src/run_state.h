/* The resumable state of an unlearning run, kept in its run directory so
 * that a killed or stopped run goes on from its last saved step, bit for bit
 * (`uoe-wb unlearn --resume`, `uoe-wb run --resume`):
 *   state/step_NNNNNN.safetensors  the trainable set's values, the state the
 *                                  selection rule picked, AdamW's moments;
 *   state/step_NNNNNN.json         the step, the optimizer's step count, the
 *                                  RNG states and epoch orders of both sides,
 *                                  the selection, and what the run was
 *                                  (seed, method, batches, target), checked
 *                                  when resuming.
 * Each file is written atomically, the JSON last, and a state counts only
 * once its JSON exists: a kill between the two leaves the previous state in
 * force. Other states are removed once a new one is complete. */
#ifndef UOE_RUN_STATE_H
#define UOE_RUN_STATE_H

#include "run_dir.h"
#include "unlearn.h"

int run_state_save(const UnlearnRun *run, const char *run_dir);
/* The step of the latest complete state of run_dir, or -1 when it has none:
 * what run_dir_open_resumed keeps, before the run begins. */
int run_state_latest(const char *run_dir);
/* Reads the latest complete state of run_dir into point, after checking that
 * it was saved by a run like this one: returns 1 when found, 0 when there is
 * none, -1 with an error naming the file. */
int run_state_load(const UnlearnRun *run, const char *run_dir, UnlearnResumePoint *point);

/* Opens the run directory at path and begins the run in it
 * (run_dir_open, unlearn_begin): afresh, or, with resume, after the latest
 * saved state of a run that path holds (run_dir_open_resumed, then
 * unlearn_restore); a path without a saved state starts afresh. */
int run_state_begin(RunDir *dir, const char *path, json_t *experiment, bool resume,
                    UnlearnRun *run, Model *model, const Tokenizer *tokenizer,
                    const UnlearnData *data, const UnlearnConfig *config,
                    const UnlearnObserver *observer);

#endif
