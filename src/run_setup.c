#include "run_setup.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "checkpoint.h"
#include "cli.h"
#include "error.h"

enum {
    OPT_WORLD = 256, OPT_FORGET, OPT_RETAIN, OPT_FORGET_MCQ, OPT_UTILITY_MCQ, OPT_OUT, OPT_METHOD,
    OPT_SET, OPT_RANK_BY, OPT_ATTRIBUTION, OPT_ANCHOR_SCALE, OPT_SCHEDULE, OPT_SELECT, OPT_NO_PREFIX_CACHE, OPT_SAVE_MODEL, OPT_RESUME,
    /* numeric options, from OPT_ALPHA on: set_numeric stores them */
    OPT_ALPHA, OPT_RETAIN_WEIGHT, OPT_BETA, OPT_DELTA, OPT_RMU_LAYER, OPT_RMU_COEFF, OPT_STEPS,
    OPT_FORGET_BATCH, OPT_RETAIN_BATCH, OPT_MAX_SEQ_LEN, OPT_LR, OPT_WARMUP, OPT_WEIGHT_DECAY,
    OPT_MAX_GRAD_NORM, OPT_EVAL_EVERY, OPT_SNAPSHOT_EVERY, OPT_EVAL_QUESTIONS, OPT_PROBE_SEQUENCES,
    OPT_ATTRIBUTION_SEQUENCES, OPT_FE_TARGET, OPT_SEED,
};

static const struct option shared_options[] = {
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
    {"resume", no_argument, NULL, OPT_RESUME},
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
};

/* Stores a numeric option's value where it belongs. */
static int set_numeric(RunSetup *a, int opt, const char *name, const char *text)
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

static int set_named(RunSetup *a, int opt, const char *text)
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

int run_setup_parse(int argc, char **argv, RunSetup *a, const RunSetupExtra *extra)
{
    int shared = (int)(sizeof shared_options / sizeof shared_options[0]), extras = 0;
    while (extra && extra->options[extras].name)
        extras++;
    struct option *options = xcalloc((size_t)(shared + extras + 1), sizeof *options);
    memcpy(options, shared_options, sizeof shared_options);
    if (extras)
        memcpy(options + shared, extra->options, (size_t)extras * sizeof *options);
    int opt, index, rc = RUN_SETUP_OK;
    optind = 1;
    while (rc == RUN_SETUP_OK && (opt = getopt_long(argc, argv, "hq", options, &index)) != -1) {
        switch (opt) {
        case 'h': rc = RUN_SETUP_HELP; break;
        case 'q': a->quiet = true; break;
        case '?': rc = RUN_SETUP_USAGE; break;
        case OPT_WORLD: a->world = optarg; break;
        case OPT_FORGET: a->data.forget_path = optarg; break;
        case OPT_RETAIN: a->data.retain_path = optarg; break;
        case OPT_FORGET_MCQ: a->data.forget_mcq_path = optarg; break;
        case OPT_UTILITY_MCQ: a->data.utility_mcq_path = optarg; break;
        case OPT_OUT: a->out_dir = optarg; break;
        case OPT_NO_PREFIX_CACHE: a->config.prefix_cache = false; break;
        case OPT_SAVE_MODEL: a->save_model = true; break;
        case OPT_RESUME: a->resume = true; break;
        case OPT_ATTRIBUTION: a->data.attribution_path = optarg; break;
        default:
            if (opt >= RUN_SETUP_FIRST_EXTRA) {
                if (extra->handle(extra->ctx, opt, optarg) < 0)
                    rc = RUN_SETUP_BAD_VALUE;
            } else if ((opt >= OPT_ALPHA ? set_numeric(a, opt, options[index].name, optarg)
                                         : set_named(a, opt, optarg)) < 0) {
                rc = RUN_SETUP_BAD_VALUE;
            }
        }
    }
    free(options);
    if (rc != RUN_SETUP_OK)
        return rc;
    a->positional = argv + optind;
    a->positional_count = argc - optind;
    if (a->beta_given && a->config.method == METHOD_SIMNPO)
        a->config.simnpo_beta = a->beta;
    else if (a->beta_given)
        a->config.npo_beta = a->beta;
    return RUN_SETUP_OK;
}

static char *world_file(const char *world, const char *name)
{
    size_t size = strlen(world) + strlen(name) + sizeof "/splits/";
    char *path = xmalloc(size);
    snprintf(path, size, "%s/splits/%s", world, name);
    return path;
}

int run_setup_resolve_data(RunSetup *a)
{
    UnlearnData *d = &a->data;
    if (a->world) {
        if (!d->forget_path)
            d->forget_path = a->owned[0] = world_file(a->world, "forget.jsonl");
        if (!d->retain_path)
            d->retain_path = a->owned[1] = world_file(a->world, "retain.jsonl");
        if (!d->forget_mcq_path)
            d->forget_mcq_path = a->owned[2] = world_file(a->world, "forget_mcq.jsonl");
        if (!d->utility_mcq_path)
            d->utility_mcq_path = a->owned[3] = world_file(a->world, "utility_mcq.jsonl");
    }
    if (!d->forget_path || !d->retain_path || !d->forget_mcq_path || !d->utility_mcq_path)
        return error_set("needs --world DIR, or all of --forget, --retain, --forget-mcq and "
                         "--utility-mcq");
    return 0;
}

void run_setup_free(RunSetup *a)
{
    for (int i = 0; i < 4; i++)
        free(a->owned[i]);
    memset(a->owned, 0, sizeof a->owned);
}

json_t *run_setup_experiment_json(const char *model_dir, const UnlearnData *data)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?}", "model", model_dir, "forget",
                     data->forget_path, "retain", data->retain_path, "forget_mcq",
                     data->forget_mcq_path, "utility_mcq", data->utility_mcq_path,
                     "attribution", data->attribution_path);
}

int run_setup_save_model(const char *run_dir, const char *model_dir, const Model *model)
{
    size_t size = strlen(run_dir) + sizeof "/model/tokenizer.json";
    char *dir = xmalloc(size), *from = xmalloc(strlen(model_dir) + sizeof "/tokenizer.json");
    snprintf(dir, size, "%s/model", run_dir);
    sprintf(from, "%s/tokenizer.json", model_dir);
    int rc = checkpoint_make_directory(dir) < 0 ||
                     checkpoint_save(model, dir, DTYPE_F32, EXPERT_LAYOUT_PER_EXPERT) < 0 ? -1 : 0;
    if (rc == 0) {
        snprintf(dir, size, "%s/model/tokenizer.json", run_dir);
        rc = atomic_file_copy(from, dir);
    }
    free(dir);
    free(from);
    return rc;
}

/* Floats kept per trainable float: its gradient, the two AdamW moments, the
 * reference and the selected copy. */
#define TRAINING_FLOATS_PER_TRAINABLE 5

/* Sizes in floats of the parts the trainable sets are made of. */
typedef struct {
    size_t all, experts, routers;  /* sums over the model */
    size_t expert, router, shared; /* the largest routed expert, router and shared expert */
} PartSizes;

static size_t larger(size_t a, size_t b) { return a > b ? a : b; }

static PartSizes part_sizes(const Model *layout)
{
    PartSizes z = {0};
    size_t expert_of_layer[MODEL_MAX_LAYERS] = {0}, shared_of_layer[MODEL_MAX_LAYERS] = {0};
    for (int i = 0; i < layout->num_params; i++) {
        const Param *p = &layout->params[i];
        z.all += p->numel;
        switch (p->kind) {
        case PARAM_EXPERT_GATE_UP:
        case PARAM_EXPERT_DOWN:
            z.experts += p->numel;
            expert_of_layer[p->layer] += p->numel / (size_t)p->shape[0]; /* (E, ., .) */
            z.expert = larger(z.expert, expert_of_layer[p->layer]);
            break;
        case PARAM_ROUTER:
            z.routers += p->numel;
            z.router = larger(z.router, p->numel);
            break;
        case PARAM_SHARED_GATE_UP:
        case PARAM_SHARED_DOWN:
        case PARAM_SHARED_EXPERT_GATE:
            shared_of_layer[p->layer] += p->numel;
            z.shared = larger(z.shared, shared_of_layer[p->layer]);
            break;
        default:
            break;
        }
    }
    return z;
}

/* The most floats the set can train. */
static size_t trainable_bound(const PartSizes *z, const TrainableSetSpec *spec)
{
    size_t m = spec->top_m > 0 ? (size_t)spec->top_m : 1;
    switch (spec->kind) {
    case TRAINABLE_ALL: return z->all;
    case TRAINABLE_EXPERTS:
    case TRAINABLE_ESFT: return z->experts;
    case TRAINABLE_ROUTERS: return z->routers;
    case TRAINABLE_UOE:
    case TRAINABLE_RANDOM: return z->expert + z->router;
    case TRAINABLE_TOP_M_LAYER: return m * z->expert + z->router;
    case TRAINABLE_TOP_M_GLOBAL: return m * (z->expert + z->router);
    case TRAINABLE_TOP1_SHARED: return z->expert + z->router + z->shared;
    case TRAINABLE_EXPLICIT:
        return (size_t)spec->target_count * (z->expert + (spec->target_routers ? z->router : 0));
    }
    return z->all;
}

void run_setup_training_need(const Model *layout, const UnlearnConfig *config, MemoryNeed *need)
{
    PartSizes z = part_sizes(layout);
    size_t trainable = trainable_bound(&z, &config->trainable);
    if (trainable > z.all)
        trainable = z.all;
    memory_need_add(need, "training state", (uint64_t)trainable * TRAINING_FLOATS_PER_TRAINABLE
                                                * sizeof(float), false);
}

static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int signal_number)
{
    if (stop_signal) { /* the second one: at once */
        signal(signal_number, SIG_DFL);
        raise(signal_number);
    }
    stop_signal = signal_number;
}

void run_setup_catch_stop_signals(void)
{
    struct sigaction action;
    memset(&action, 0, sizeof action);
    sigemptyset(&action.sa_mask);
    action.sa_handler = on_stop_signal;
    action.sa_flags = SA_RESTART; /* progress lines into a pipe are not cut short by EINTR */
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
}

int run_setup_stop_signal(void)
{
    return stop_signal;
}

void run_setup_stop_reason(char *out, size_t size, int signal_number, int step, int steps)
{
    snprintf(out, size, "interrupted (%s) after step %d of %d",
             signal_number == SIGINT ? "SIGINT" : "SIGTERM", step, steps);
}

void run_setup_print_eval(FILE *out, const UnlearnEval *e)
{
    fprintf(out, "step %4d  FE %.4f  UT %.4f  forget-nll %.4f  retain-nll %.4f\n", e->step, e->fe,
            e->ut, e->forget_nll, e->retain_nll);
    fflush(out);
}

void run_setup_print_done(FILE *out, const UnlearnEval *selected, double forget_overlap,
                          double tunable_fraction)
{
    fprintf(out, "done: FE %.4f  UT %.4f (step %d)  forget token overlap %.4f  tunable %.4f%%\n",
            selected->fe, selected->ut, selected->step, forget_overlap, 100.0 * tunable_fraction);
    fflush(out);
}
