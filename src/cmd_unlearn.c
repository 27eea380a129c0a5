/* uoe-wb unlearn: one headless unlearning run (unlearn.h) into a run
 * directory (run_dir.h), with a progress line per evaluation. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "cli.h"
#include "error.h"
#include "run_dir.h"
#include "run_state.h"
#include "run_setup.h"
#include "tokenizer.h"
#include "unlearn.h"

static const char unlearn_usage[] =
    "Usage: uoe-wb unlearn MODEL_DIR --out RUN_DIR (--world DIR | --forget FILE\n"
    "       --retain FILE --forget-mcq FILE --utility-mcq FILE) [OPTIONS]\n"
    "Unlearns the forget corpus from the model and writes a run directory:\n"
    "config.json, metrics.jsonl, routing/step_NNNNNN.json and summary.json.\n"
    "\n"
    "Data:\n"
    "  --world DIR            take the four files below from DIR/splits/: forget.jsonl,\n"
    "                         retain.jsonl, forget_mcq.jsonl, utility_mcq.jsonl\n"
    "  --forget FILE          forget corpus (JSON Lines {\"text\"})\n"
    "  --retain FILE          retain corpus\n"
    "  --forget-mcq FILE      questions on the forget knowledge (FE)\n"
    "  --utility-mcq FILE     questions on everything else (UT)\n"
    "Method:\n"
    "  --method NAME          ga, graddiff, npo, simnpo or rmu (default ga)\n"
    "  --set NAME             trainable set: uoe (default), all, experts, routers,\n"
    "                         top<M>-layer, top<M>-global, top1+shared, random,\n"
    "                         esft or esft:<p>\n"
    "  --alpha A              router anchor weight; 0 disables it (default 1)\n"
    "  --anchor-scale S       paper (squared L2 per token) or code (mse over tokens\n"
    "                         and experts, 1/E of paper) (default paper)\n"
    "  --retain-weight W      lambda of graddiff, npo, simnpo; alpha_r of rmu (default 1)\n"
    "  --beta B               NPO beta (default 0.1) or SimNPO beta (default 4.5)\n"
    "  --delta D              SimNPO delta (default 0)\n"
    "  --rmu-layer L          RMU steering layer (default: the target expert's layer)\n"
    "  --rmu-coeff C          RMU coefficient c (default 20)\n"
    "Optimisation:\n"
    "  --steps N              optimizer steps (default 100)\n"
    "  --forget-batch N       forget sequences per step (default 8)\n"
    "  --retain-batch N       retain sequences per step (default 8)\n"
    "  --max-seq-len N        cut sequences to N tokens (default 128)\n"
    "  --lr X                 peak learning rate (default 1e-3)\n"
    "  --schedule S           constant or cosine, after warmup (default constant)\n"
    "  --warmup N             linear warmup steps (default 0)\n"
    "  --weight-decay X       AdamW decoupled weight decay (default 0)\n"
    "  --max-grad-norm X      clip the gradient norm; 0 disables (default 1)\n"
    "  --no-prefix-cache      recompute the frozen layers below the trainable set\n"
    "                         at every step instead of caching their output\n"
    "Evaluation and selection:\n"
    "  --eval-every N         evaluate FE, UT and probe NLL every N steps (default 10)\n"
    "  --snapshot-every N     record routing every N steps (default 10)\n"
    "  --eval-questions N     a seeded sample of N questions per MCQ set; 0 = all\n"
    "                         (default 300)\n"
    "  --probe-sequences N    sequences per routing probe batch (default 32)\n"
    "  --attribution-sequences N  forget texts scored for attribution; 0 = all\n"
    "  --rank-by STAT         rank experts by gate (Eq. 2, default), selection or prob\n"
    "  --attribution FILE     take the attribution from FILE, as `uoe-wb attribute\n"
    "                         --json` wrote it for the same model and forget set\n"
    "  --select RULE          final, or best-ut: best UT with FE <= --fe-target\n"
    "  --fe-target X          (default 0.30)\n"
    "  --seed N               data order, probes, question samples, random expert\n"
    "                         and RMU direction (default 1)\n"
    "  --save-model           write the selected weights to RUN_DIR/model/\n"
    "  --resume               go on from the state RUN_DIR saved (at its last\n"
    "                         snapshot, or when a signal stopped it), bit for bit\n"
    "                         as if never interrupted; the options must describe\n"
    "                         the same run. Without a saved state, start afresh\n"
    "  -q, --quiet            no progress lines\n"
    "\n"
    "SIGINT (Ctrl-C) or SIGTERM stops the run after the step in progress: the\n"
    "summary (its \"stopped\" says which signal, after which step), the metrics,\n"
    "the state for --resume and, with --save-model, the model are written as at\n"
    "the end of a run. A second signal ends it at once. Before loading, the\n"
    "model, the mapped\n"
    "checkpoint and the training state must fit the memory left (MemAvailable,\n"
    "ulimit -v, ulimit -d), else the run does not start.\n"
    "\n"
    "Exit status: 0 when the run finished; 1 on an error, a model too large for\n"
    "the memory left, or a non-finite loss or gradient; 2 for a bad command\n"
    "line; 130 when stopped by SIGINT, 143 by SIGTERM.\n";

/* Observer: the run directory, and a progress line per evaluation. */
typedef struct {
    RunDir *dir;
    bool quiet;
} Progress;

static void progress_start(void *ctx, const UnlearnRun *run) { run_dir_on_start(((Progress *)ctx)->dir, run); }
static void progress_step(void *ctx, const UnlearnStep *s) { run_dir_on_step(((Progress *)ctx)->dir, s); }

static void progress_snapshot(void *ctx, const UnlearnSnapshot *s) { run_dir_on_snapshot(((Progress *)ctx)->dir, s); }

static void progress_eval(void *ctx, const UnlearnEval *e)
{
    Progress *p = ctx;
    run_dir_on_eval(p->dir, e);
    if (!p->quiet)
        run_setup_print_eval(stdout, e);
}

static void progress_log(void *ctx, const char *line)
{
    Progress *p = ctx;
    if (!p->quiet)
        fprintf(stderr, "%s\n", line);
}

/* Loads the model once it fits the memory left with the run's training
 * state beside it. */
static int load_model(Model *model, const char *model_dir, const UnlearnConfig *config)
{
    Model layout;
    if (checkpoint_inspect(&layout, model_dir, NULL) < 0)
        return -1;
    MemoryNeed training = {0};
    run_setup_training_need(&layout, config, &training);
    model_free(&layout);
    return checkpoint_load_reserving(model, model_dir, NULL, &training);
}

/* Steps the run to its end, or, once SIGINT or SIGTERM has come, stops it
 * after the step in progress with the signal as its stop reason and the
 * selection rule applied to the evaluations so far. Returns 0 when it
 * finished, 1 when a signal stopped it (its state saved in run_dir for
 * --resume), -1 when a non-finite value stopped it (its stop_reason says
 * where; the model holds the last good state) or on an error. */
static int run_until_stop_signal(UnlearnRun *run, const char *run_dir)
{
    int rc = 1;
    while (rc > 0 && !run_setup_stop_signal())
        rc = unlearn_step(run);
    if (rc > 0) {
        run_setup_stop_reason(run->stop_reason, sizeof run->stop_reason, run_setup_stop_signal(),
                              run->step, run->config.steps);
        /* the state to resume from, before the selection rule changes the model */
        if (run_state_save(run, run_dir) < 0)
            return -1;
    }
    if (rc >= 0) {
        unlearn_finish(run);
        return rc;
    }
    if (run->stop_reason[0] && !run->have_selected)
        run->selected_eval = run->last_eval;
    return -1;
}

int cmd_unlearn(int argc, char **argv)
{
    RunSetup a = {.config = unlearn_default_config()};
    int rc = run_setup_parse(argc, argv, &a, NULL);
    if (rc == RUN_SETUP_HELP) {
        fputs(unlearn_usage, stdout);
        return 0;
    }
    if (rc == RUN_SETUP_OK && (a.positional_count != 1 || !a.out_dir))
        rc = RUN_SETUP_USAGE;
    if (rc == RUN_SETUP_USAGE) {
        fputs(unlearn_usage, stderr);
        return EXIT_USAGE;
    }
    if (rc < 0)
        return cli_report_error();
    const char *model_dir = a.positional[0];
    if (run_setup_resolve_data(&a) < 0) {
        fprintf(stderr, "uoe-wb: unlearn %s\n", error_message());
        run_setup_free(&a);
        return EXIT_USAGE;
    }

    Model model = {0};
    Tokenizer *tokenizer = NULL;
    RunDir dir = {.metrics_fd = -1};
    UnlearnRun run = {0};
    int status = 1;
    if (load_model(&model, model_dir, &a.config) < 0 || tokenizer_load(&tokenizer, model_dir) < 0) {
        cli_report_error();
        goto done;
    }
    run_setup_catch_stop_signals();
    json_t *experiment = run_setup_experiment_json(model_dir, &a.data);
    Progress progress = {.dir = &dir, .quiet = a.quiet};
    UnlearnObserver observer = {.ctx = &progress, .on_start = progress_start,
                                .on_step = progress_step, .on_eval = progress_eval,
                                .on_snapshot = progress_snapshot, .on_log = progress_log};
    rc = run_state_begin(&dir, a.out_dir, experiment, a.resume, &run, &model, tokenizer, &a.data,
                         &a.config, &observer);
    json_decref(experiment);
    if (rc < 0) {
        cli_report_error();
        goto done;
    }
    int run_rc = run_until_stop_signal(&run, a.out_dir);
    if (run_rc < 0 && (!run.stop_reason[0] || run_setup_stop_signal())) {
        cli_report_error();
        goto done;
    }
    if (run_dir_write_summary(&dir, &run) < 0 ||
        (a.save_model && run_setup_save_model(a.out_dir, model_dir, &model) < 0)) {
        cli_report_error();
        goto done;
    }
    if (!a.quiet)
        run_setup_print_done(stdout, &run.selected_eval, run.last_forget_overlap,
                             run.selection.fraction);
    if (run.stop_reason[0])
        fprintf(stderr, "uoe-wb: %s\n", run.stop_reason);
    status = run_rc < 0 ? 1 : run_rc > 0 ? 128 + run_setup_stop_signal() : 0;
done:
    unlearn_end(&run);
    if (dir.path && run_dir_close(&dir) < 0 && status == 0)
        status = cli_report_error();
    model_free(&model);
    tokenizer_free(tokenizer);
    run_setup_free(&a);
    return status;
}
