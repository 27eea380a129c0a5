/* Setting up an unlearning run from the command line, as `uoe-wb unlearn`
 * and `uoe-wb tui` share it: the options (data, method, optimisation,
 * evaluation; the list is unlearn --help's), the data files of a --world
 * folder, the experiment record for config.json, the memory a run needs,
 * stopping on SIGINT and SIGTERM, progress lines, and saving the unlearned
 * model. */
#ifndef UOE_RUN_SETUP_H
#define UOE_RUN_SETUP_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "memory_budget.h"
#include "model.h"
#include "unlearn.h"

typedef struct {
    const char *out_dir, *world;
    UnlearnData data;
    UnlearnConfig config;
    bool save_model, quiet;
    bool resume;              /* go on from the saved state in out_dir */
    bool beta_given;
    float beta;
    char **positional;        /* the arguments that are not options, in order */
    int positional_count;
    char *owned[4];           /* data paths made from --world */
} RunSetup;

/* A command's own options beside the shared ones: their `val`s must be at
 * least RUN_SETUP_FIRST_EXTRA; handle() stores one and returns 0, or -1
 * with an error set. */
#define RUN_SETUP_FIRST_EXTRA 1000
typedef struct {
    const struct option *options; /* ends with a zero entry */
    int (*handle)(void *ctx, int opt, const char *arg);
    void *ctx;
} RunSetupExtra;

/* What run_setup_parse found. */
enum { RUN_SETUP_OK = 0, RUN_SETUP_HELP = 1, RUN_SETUP_USAGE = 2, RUN_SETUP_BAD_VALUE = -1 };

/* Reads argv[1..] into setup, whose config holds the command's defaults;
 * extra may be NULL. -h/--help gives RUN_SETUP_HELP, an unknown option
 * RUN_SETUP_USAGE (getopt has said which), a bad value RUN_SETUP_BAD_VALUE
 * with the error set. The positional arguments are left for the caller. */
int run_setup_parse(int argc, char **argv, RunSetup *setup, const RunSetupExtra *extra);
/* Fills the data paths that --world gives and the options did not; returns
 * -1 (error set) when a data file is still missing. */
int run_setup_resolve_data(RunSetup *setup);
void run_setup_free(RunSetup *setup);

/* The experiment record that config.json holds beside the run's config:
 * the model and the data files. */
json_t *run_setup_experiment_json(const char *model_dir, const UnlearnData *data);
/* Writes the model and the tokenizer.json of model_dir to RUN_DIR/model/. */
int run_setup_save_model(const char *run_dir, const char *model_dir, const Model *model);

/* What the run will allocate beside the model's parameters, known before
 * loading: per trainable float, its gradient, the two AdamW moments and the
 * reference and selected copies (trainable_copy.h). For the sets chosen by
 * attribution it counts their size at most (M experts of the largest
 * stack, M routers, the largest shared expert). Activations are not
 * counted. layout is a model_layout of the checkpoint's config. */
void run_setup_training_need(const Model *layout, const UnlearnConfig *config, MemoryNeed *need);

/* A clean stop on SIGINT and SIGTERM: the first one is only recorded, for
 * the run to stop after the step in progress and save what it has; a second
 * one ends the process at once. */
void run_setup_catch_stop_signals(void);
/* The signal caught (SIGINT or SIGTERM), or 0. */
int run_setup_stop_signal(void);
/* "interrupted (SIGINT) after step 3 of 8": the run's stop_reason, which
 * summary.json records as "stopped". */
void run_setup_stop_reason(char *out, size_t size, int signal, int step, int steps);

/* The progress lines of a run: one per evaluation, and one at the end. */
void run_setup_print_eval(FILE *out, const UnlearnEval *eval);
void run_setup_print_done(FILE *out, const UnlearnEval *selected, double forget_overlap,
                          double tunable_fraction);

#endif
