/* uoe-wb unlearn: one headless unlearning run (unlearn.h) into a run
 * directory (run_dir.h), with a progress line per evaluation. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "checkpoint.h"
#include "cli.h"
#include "error.h"
#include "run_dir.h"
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
    "  -q, --quiet            no progress lines\n";

enum {
    OPT_WORLD = 256, OPT_FORGET, OPT_RETAIN, OPT_FORGET_MCQ, OPT_UTILITY_MCQ, OPT_OUT, OPT_METHOD,
    OPT_SET, OPT_RANK_BY, OPT_ATTRIBUTION, OPT_ANCHOR_SCALE, OPT_SCHEDULE, OPT_SELECT, OPT_NO_PREFIX_CACHE, OPT_SAVE_MODEL,
    /* numeric options, in the order of numeric_options[] */
    OPT_ALPHA, OPT_RETAIN_WEIGHT, OPT_BETA, OPT_DELTA, OPT_RMU_LAYER, OPT_RMU_COEFF, OPT_STEPS,
    OPT_FORGET_BATCH, OPT_RETAIN_BATCH, OPT_MAX_SEQ_LEN, OPT_LR, OPT_WARMUP, OPT_WEIGHT_DECAY,
    OPT_MAX_GRAD_NORM, OPT_EVAL_EVERY, OPT_SNAPSHOT_EVERY, OPT_EVAL_QUESTIONS, OPT_PROBE_SEQUENCES,
    OPT_ATTRIBUTION_SEQUENCES, OPT_FE_TARGET, OPT_SEED,
};

typedef struct {
    const char *model_dir, *out_dir, *world;
    UnlearnData data;
    UnlearnConfig config;
    bool beta_given, save_model, quiet;
    float beta;
} UnlearnArgs;

/* Stores a numeric option's value where it belongs. */
static int set_numeric(UnlearnArgs *a, int opt, const char *name, const char *text)
{
    UnlearnConfig *c = &a->config;
    double v;
    bool whole = opt == OPT_RMU_LAYER || opt == OPT_STEPS || opt == OPT_FORGET_BATCH ||
                 opt == OPT_RETAIN_BATCH || opt == OPT_MAX_SEQ_LEN || opt == OPT_WARMUP ||
                 opt == OPT_EVAL_EVERY || opt == OPT_SNAPSHOT_EVERY || opt == OPT_EVAL_QUESTIONS ||
                 opt == OPT_PROBE_SEQUENCES || opt == OPT_ATTRIBUTION_SEQUENCES || opt == OPT_SEED;
    double min = opt == OPT_DELTA ? -1e9 : 0;
    if (cli_parse_number(name, text, min, &v) < 0)
        return -1;
    if (whole && (v != (int)v))
        return error_set("--%s: expected a whole number, got '%s'", name, text);
    switch (opt) {
    case OPT_ALPHA: c->anchor_alpha = (float)v; break;
    case OPT_RETAIN_WEIGHT: c->retain_weight = (float)v; break;
    case OPT_BETA: a->beta = (float)v; a->beta_given = true; break;
    case OPT_DELTA: c->simnpo_delta = (float)v; break;
    case OPT_RMU_LAYER: c->rmu_layer = (int)v; break;
    case OPT_RMU_COEFF: c->rmu_coeff = (float)v; break;
    case OPT_STEPS: c->steps = (int)v; break;
    case OPT_FORGET_BATCH: c->forget_batch = (int)v; break;
    case OPT_RETAIN_BATCH: c->retain_batch = (int)v; break;
    case OPT_MAX_SEQ_LEN: c->max_seq_len = (int)v; break;
    case OPT_LR: c->learning_rate = (float)v; break;
    case OPT_WARMUP: c->warmup_steps = (int)v; break;
    case OPT_WEIGHT_DECAY: c->weight_decay = (float)v; break;
    case OPT_MAX_GRAD_NORM: c->max_grad_norm = (float)v; break;
    case OPT_EVAL_EVERY: c->eval_every = (int)v; break;
    case OPT_SNAPSHOT_EVERY: c->snapshot_every = (int)v; break;
    case OPT_EVAL_QUESTIONS: c->eval_questions = (int)v; break;
    case OPT_PROBE_SEQUENCES: c->probe_sequences = (int)v; break;
    case OPT_ATTRIBUTION_SEQUENCES: c->attribution_sequences = (int)v; break;
    case OPT_FE_TARGET: c->fe_target = v; break;
    case OPT_SEED: c->seed = (uint64_t)v; break;
    }
    return 0;
}

static int set_named(UnlearnArgs *a, int opt, const char *text)
{
    UnlearnConfig *c = &a->config;
    switch (opt) {
    case OPT_METHOD: return unlearn_method_parse(text, &c->method);
    case OPT_SET: {
        AttributionStatistic rank_by = c->trainable.rank_by;
        int rc = trainable_set_parse(text, &c->trainable);
        c->trainable.rank_by = rank_by;
        return rc;
    }
    case OPT_RANK_BY: return attribution_statistic_parse(text, &c->trainable.rank_by);
    case OPT_ANCHOR_SCALE:
        if (strcmp(text, "paper") && strcmp(text, "code"))
            return error_set("--anchor-scale: expected paper or code, got '%s'", text);
        c->anchor_scale = text[0] == 'p' ? ANCHOR_SCALE_PAPER : ANCHOR_SCALE_CODE;
        return 0;
    case OPT_SCHEDULE:
        if (strcmp(text, "constant") && strcmp(text, "cosine"))
            return error_set("--schedule: expected constant or cosine, got '%s'", text);
        c->schedule = text[1] == 'o' && text[2] == 'n' ? SCHEDULE_CONSTANT : SCHEDULE_COSINE;
        return 0;
    case OPT_SELECT:
        if (strcmp(text, "final") && strcmp(text, "best-ut"))
            return error_set("--select: expected final or best-ut, got '%s'", text);
        c->selection = text[0] == 'f' ? SELECT_FINAL : SELECT_BEST_UT;
        return 0;
    }
    return 0;
}

static char *world_file(const char *world, const char *name)
{
    size_t size = strlen(world) + strlen(name) + sizeof "/splits/";
    char *path = xmalloc(size);
    snprintf(path, size, "%s/splits/%s", world, name);
    return path;
}

/* Returns 0, EXIT_USAGE for a malformed command line, or -1 for a bad value. */
static int parse_args(int argc, char **argv, UnlearnArgs *a)
{
    static const struct option options[] = {
        {"world", required_argument, NULL, OPT_WORLD},
        {"forget", required_argument, NULL, OPT_FORGET},
        {"retain", required_argument, NULL, OPT_RETAIN},
        {"forget-mcq", required_argument, NULL, OPT_FORGET_MCQ},
        {"utility-mcq", required_argument, NULL, OPT_UTILITY_MCQ},
        {"out", required_argument, NULL, OPT_OUT},
        {"method", required_argument, NULL, OPT_METHOD},
        {"set", required_argument, NULL, OPT_SET},
        {"rank-by", required_argument, NULL, OPT_RANK_BY},
        {"attribution", required_argument, NULL, OPT_ATTRIBUTION},
        {"anchor-scale", required_argument, NULL, OPT_ANCHOR_SCALE},
        {"schedule", required_argument, NULL, OPT_SCHEDULE},
        {"select", required_argument, NULL, OPT_SELECT},
        {"no-prefix-cache", no_argument, NULL, OPT_NO_PREFIX_CACHE},
        {"save-model", no_argument, NULL, OPT_SAVE_MODEL},
        {"alpha", required_argument, NULL, OPT_ALPHA},
        {"retain-weight", required_argument, NULL, OPT_RETAIN_WEIGHT},
        {"beta", required_argument, NULL, OPT_BETA},
        {"delta", required_argument, NULL, OPT_DELTA},
        {"rmu-layer", required_argument, NULL, OPT_RMU_LAYER},
        {"rmu-coeff", required_argument, NULL, OPT_RMU_COEFF},
        {"steps", required_argument, NULL, OPT_STEPS},
        {"forget-batch", required_argument, NULL, OPT_FORGET_BATCH},
        {"retain-batch", required_argument, NULL, OPT_RETAIN_BATCH},
        {"max-seq-len", required_argument, NULL, OPT_MAX_SEQ_LEN},
        {"lr", required_argument, NULL, OPT_LR},
        {"warmup", required_argument, NULL, OPT_WARMUP},
        {"weight-decay", required_argument, NULL, OPT_WEIGHT_DECAY},
        {"max-grad-norm", required_argument, NULL, OPT_MAX_GRAD_NORM},
        {"eval-every", required_argument, NULL, OPT_EVAL_EVERY},
        {"snapshot-every", required_argument, NULL, OPT_SNAPSHOT_EVERY},
        {"eval-questions", required_argument, NULL, OPT_EVAL_QUESTIONS},
        {"probe-sequences", required_argument, NULL, OPT_PROBE_SEQUENCES},
        {"attribution-sequences", required_argument, NULL, OPT_ATTRIBUTION_SEQUENCES},
        {"fe-target", required_argument, NULL, OPT_FE_TARGET},
        {"seed", required_argument, NULL, OPT_SEED},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt, index;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "hq", options, &index)) != -1) {
        switch (opt) {
        case 'h': fputs(unlearn_usage, stdout); exit(0);
        case 'q': a->quiet = true; break;
        case OPT_WORLD: a->world = optarg; break;
        case OPT_FORGET: a->data.forget_path = optarg; break;
        case OPT_RETAIN: a->data.retain_path = optarg; break;
        case OPT_FORGET_MCQ: a->data.forget_mcq_path = optarg; break;
        case OPT_UTILITY_MCQ: a->data.utility_mcq_path = optarg; break;
        case OPT_OUT: a->out_dir = optarg; break;
        case OPT_NO_PREFIX_CACHE: a->config.prefix_cache = false; break;
        case OPT_SAVE_MODEL: a->save_model = true; break;
        case OPT_ATTRIBUTION: a->data.attribution_path = optarg; break;
        case '?': return EXIT_USAGE;
        default:
            if ((opt >= OPT_ALPHA ? set_numeric(a, opt, options[index].name, optarg)
                                  : set_named(a, opt, optarg)) < 0)
                return -1;
        }
    }
    if (optind != argc - 1 || !a->out_dir)
        return EXIT_USAGE;
    a->model_dir = argv[optind];
    if (a->beta_given && a->config.method == METHOD_SIMNPO)
        a->config.simnpo_beta = a->beta;
    else if (a->beta_given)
        a->config.npo_beta = a->beta;
    return 0;
}

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
        printf("step %4d  FE %.4f  UT %.4f  forget-nll %.4f  retain-nll %.4f\n", e->step, e->fe,
               e->ut, e->forget_nll, e->retain_nll);
    fflush(stdout);
}

static void progress_log(void *ctx, const char *line)
{
    Progress *p = ctx;
    if (!p->quiet)
        fprintf(stderr, "%s\n", line);
}

static json_t *experiment_json(const UnlearnArgs *a)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?}", "model", a->model_dir, "forget",
                     a->data.forget_path, "retain", a->data.retain_path, "forget_mcq",
                     a->data.forget_mcq_path, "utility_mcq", a->data.utility_mcq_path,
                     "attribution", a->data.attribution_path);
}

static int save_model(const UnlearnArgs *a, const Model *model)
{
    size_t size = strlen(a->out_dir) + sizeof "/model/tokenizer.json";
    char *dir = xmalloc(size), *from = xmalloc(strlen(a->model_dir) + sizeof "/tokenizer.json");
    snprintf(dir, size, "%s/model", a->out_dir);
    sprintf(from, "%s/tokenizer.json", a->model_dir);
    int rc = checkpoint_make_directory(dir) < 0 ||
                     checkpoint_save(model, dir, DTYPE_F32, EXPERT_LAYOUT_PER_EXPERT) < 0 ? -1 : 0;
    if (rc == 0) {
        snprintf(dir, size, "%s/model/tokenizer.json", a->out_dir);
        rc = atomic_file_copy(from, dir);
    }
    free(dir);
    free(from);
    return rc;
}

int cmd_unlearn(int argc, char **argv)
{
    UnlearnArgs a = {.config = unlearn_default_config()};
    int rc = parse_args(argc, argv, &a);
    if (rc == EXIT_USAGE) {
        fputs(unlearn_usage, stderr);
        return EXIT_USAGE;
    }
    if (rc < 0)
        return cli_report_error();
    char *owned[4] = {NULL};
    if (a.world) {
        const UnlearnData defaults = {
            a.data.forget_path ? a.data.forget_path : (owned[0] = world_file(a.world, "forget.jsonl")),
            a.data.retain_path ? a.data.retain_path : (owned[1] = world_file(a.world, "retain.jsonl")),
            a.data.forget_mcq_path ? a.data.forget_mcq_path : (owned[2] = world_file(a.world, "forget_mcq.jsonl")),
            a.data.utility_mcq_path ? a.data.utility_mcq_path : (owned[3] = world_file(a.world, "utility_mcq.jsonl")),
            a.data.attribution_path,
        };
        a.data = defaults;
    }
    if (!a.data.forget_path || !a.data.retain_path || !a.data.forget_mcq_path ||
        !a.data.utility_mcq_path) {
        fputs("uoe-wb: unlearn needs --world DIR, or all of --forget, --retain, --forget-mcq and "
              "--utility-mcq\n", stderr);
        return EXIT_USAGE;
    }

    Model model = {0};
    Tokenizer *tokenizer = NULL;
    RunDir dir = {.metrics_fd = -1};
    UnlearnRun run = {0};
    int status = 1;
    if (checkpoint_load(&model, a.model_dir, NULL) < 0 || tokenizer_load(&tokenizer, a.model_dir) < 0) {
        cli_report_error();
        goto done;
    }
    json_t *experiment = experiment_json(&a);
    rc = run_dir_open(&dir, a.out_dir, experiment);
    json_decref(experiment);
    if (rc < 0) {
        cli_report_error();
        goto done;
    }
    Progress progress = {.dir = &dir, .quiet = a.quiet};
    UnlearnObserver observer = {.ctx = &progress, .on_start = progress_start,
                                .on_step = progress_step, .on_eval = progress_eval,
                                .on_snapshot = progress_snapshot, .on_log = progress_log};
    if (unlearn_begin(&run, &model, tokenizer, &a.data, &a.config, &observer) < 0) {
        cli_report_error();
        goto done;
    }
    int run_rc = unlearn_run_all(&run);
    if (run_rc < 0 && !run.stop_reason[0]) {
        cli_report_error();
        goto done;
    }
    if (run_dir_write_summary(&dir, &run) < 0 || (a.save_model && save_model(&a, &model) < 0)) {
        cli_report_error();
        goto done;
    }
    if (!a.quiet)
        printf("done: FE %.4f  UT %.4f (step %d)  forget token overlap %.4f  tunable %.4f%%\n",
               run.selected_eval.fe, run.selected_eval.ut, run.selected_eval.step,
               run.last_forget_overlap, 100.0 * run.selection.fraction);
    if (run_rc < 0)
        fprintf(stderr, "uoe-wb: %s\n", run.stop_reason);
    status = run_rc < 0 ? 1 : 0;
done:
    unlearn_end(&run);
    if (dir.path && run_dir_close(&dir) < 0 && status == 0)
        status = cli_report_error();
    model_free(&model);
    tokenizer_free(tokenizer);
    for (int i = 0; i < 4; i++)
        free(owned[i]);
    return status;
}
