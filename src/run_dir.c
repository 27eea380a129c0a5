#include "run_dir.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "checkpoint.h"
#include "config.h"
#include "error.h"
#include "json_util.h"
#include "run_state.h"

static void record_failure(RunDir *dir)
{
    if (!dir->failed)
        snprintf(dir->error, sizeof dir->error, "%s", error_message());
    dir->failed = 1;
}

static char *join(const RunDir *dir, const char *name)
{
    size_t size = strlen(dir->path) + strlen(name) + 2;
    char *path = xmalloc(size);
    snprintf(path, size, "%s/%s", dir->path, name);
    return path;
}

int run_dir_open(RunDir *dir, const char *path, json_t *experiment)
{
    memset(dir, 0, sizeof *dir);
    dir->metrics_fd = -1;
    dir->kept_through_step = -1;
    dir->path = xstrdup(path);
    char *metrics = join(dir, "metrics.jsonl"), *routing = join(dir, "routing");
    int rc = checkpoint_make_directory(path);
    if (rc == 0 && access(metrics, F_OK) == 0)
        rc = error_set("%s already holds a run (metrics.jsonl); choose another directory", path);
    if (rc == 0 && mkdir(routing, 0777) < 0 && errno != EEXIST)
        rc = error_set("%s: cannot create: %s", routing, strerror(errno));
    if (rc == 0) {
        dir->metrics_fd = open(metrics, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0666);
        if (dir->metrics_fd < 0)
            rc = error_set("%s: cannot create: %s", metrics, strerror(errno));
    }
    free(metrics);
    free(routing);
    dir->experiment = experiment ? json_incref(experiment) : json_object();
    return rc;
}

/* Appends one object as one line, with a single write so a line is whole. */
static void append_metrics(RunDir *dir, json_t *object)
{
    char *text = json_dumps(object, JSON_COMPACT | JSON_PRESERVE_ORDER);
    size_t length = strlen(text);
    text = xrealloc(text, length + 2);
    text[length++] = '\n';
    ssize_t written = write(dir->metrics_fd, text, length);
    if (written != (ssize_t)length) {
        error_set("%s/metrics.jsonl: write failed: %s", dir->path,
                  written < 0 ? strerror(errno) : "short write");
        record_failure(dir);
    }
    free(text);
    json_decref(object);
}

static json_t *trainable_set_json(const UnlearnRun *run)
{
    char name[64];
    trainable_set_name(&run->config.trainable, name, sizeof name);
    json_t *experts = json_array();
    for (int i = 0; i < run->selection.count; i++)
        json_array_append_new(experts, json_pack("[i,i]", run->selection.layers[i],
                                                 run->selection.experts[i]));
    return json_pack("{s:s, s:s, s:o, s:I, s:I, s:f}", "name", name, "ranked_by",
                     attribution_statistic_name(run->config.trainable.rank_by), "experts", experts,
                     "trainable_parameters", (json_int_t)run->selection.trainable,
                     "total_parameters", (json_int_t)run->selection.total,
                     "tunable_fraction", run->selection.fraction);
}

static json_t *method_json(const UnlearnConfig *c)
{
    static const char *reductions[] = {
        "-mean token NLL of the forget batch",
        "-mean token NLL(forget) + lambda * mean token NLL(retain)",
        "-(2/beta) * mean over forget rows of log sigmoid(-beta * (seqNLL_ref - seqNLL)), "
        "seqNLL summed per row; + lambda * mean token NLL(retain)",
        "-(2/beta) * mean over forget rows of log sigmoid(beta * seqNLL / targets - delta); "
        "+ lambda * mean token NLL(retain)",
        "mean over forget tokens and hidden units of (h - c*u)^2 + retain_weight * the same "
        "of (h - h_ref) on retain tokens, h the residual stream leaving rmu_layer",
    };
    json_t *m = json_pack("{s:s, s:s, s:f}", "name", unlearn_method_name(c->method),
                          "reduction", reductions[c->method], "retain_weight", c->retain_weight);
    if (c->method == METHOD_NPO)
        json_object_set_new(m, "beta", json_real(c->npo_beta));
    if (c->method == METHOD_SIMNPO) {
        json_object_set_new(m, "beta", json_real(c->simnpo_beta));
        json_object_set_new(m, "delta", json_real(c->simnpo_delta));
    }
    if (c->method == METHOD_RMU) {
        json_object_set_new(m, "rmu_layer", json_integer(c->rmu_layer));
        json_object_set_new(m, "rmu_coeff", json_real(c->rmu_coeff));
    }
    return m;
}

static json_t *config_json(const RunDir *dir, const UnlearnRun *run)
{
    const UnlearnConfig *c = &run->config;
    json_t *anchor = json_pack("{s:f, s:s, s:i, s:i, s:s}", "alpha", c->anchor_alpha, "scale",
                               c->anchor_scale == ANCHOR_SCALE_PAPER ? "paper" : "code",
                               "layer", run->target_layer, "expert", run->target_expert,
                               "definition", c->anchor_scale == ANCHOR_SCALE_PAPER
                                   ? "alpha * mean over forget tokens of ||s - onehot(target)||^2"
                                   : "alpha * mean over forget tokens and experts of (s - onehot(target))^2");
    json_t *schedule = json_pack("{s:f, s:s, s:i, s:f, s:f}", "learning_rate", c->learning_rate,
                                 "schedule", c->schedule == SCHEDULE_CONSTANT ? "constant" : "cosine",
                                 "warmup_steps", c->warmup_steps, "weight_decay", c->weight_decay,
                                 "max_grad_norm", c->max_grad_norm);
    /* A schedule function of the step replaces alpha, or the learning rate and
     * its schedule; each step's value is in metrics.jsonl. */
    json_object_set_new(anchor, "alpha_by_step", json_boolean(c->step_schedule.anchor_alpha));
    json_object_set_new(schedule, "learning_rate_by_step",
                        json_boolean(c->step_schedule.learning_rate));
    json_t *selection = json_pack("{s:s, s:f}", "rule",
                                  c->selection == SELECT_FINAL ? "final" : "best-ut",
                                  "fe_target", c->fe_target);
    json_t *metrics = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s}",
        "fe", "acc on a seeded sample of the forget MCQ, lm-evaluation-harness scoring",
        "ut", "acc on a seeded sample of the utility MCQ, lm-evaluation-harness scoring",
        "forget_nll", "mean token NLL of the forget probe batch",
        "token_overlap", "per MoE layer, mean over probe tokens of |TopK_0(t) & TopK_s(t)| / K",
        "set_overlap", "per MoE layer, |S_0 & S_s| / K, S the K most selected experts",
        "kl", "KL(p_0 || p_s) in nats of per-layer selection distributions, smoothed by 1e-6");
    json_t *root = json_pack(
        "{s:s, s:I, s:O, s:o, s:o, s:o, s:o, s:{s:i, s:i, s:i, s:i}, s:{s:i, s:i, s:i, s:i}, "
        "s:o, s:b, s:i, s:o}",
        "uoe_wb_version", PACKAGE_VERSION, "seed", (json_int_t)c->seed,
        "experiment", dir->experiment, "method", method_json(c),
        "trainable_set", trainable_set_json(run), "anchor", anchor, "optimizer", schedule,
        "batches", "steps", c->steps, "forget_batch", c->forget_batch,
        "retain_batch", c->retain_batch, "max_seq_len", c->max_seq_len,
        "evaluation", "eval_every", c->eval_every, "snapshot_every", c->snapshot_every,
        "eval_questions", c->eval_questions, "probe_sequences", c->probe_sequences,
        "selection", selection, "prefix_cache", c->prefix_cache, "prefix_layer",
        run->prefix_layer, "metric_definitions", metrics);
    json_object_set_new(root, "precision", json_string("float32"));
    return root;
}

void run_dir_on_start(void *ctx, const UnlearnRun *run)
{
    RunDir *dir = ctx;
    dir->run = run;
    json_t *root = config_json(dir, run);
    char *path = join(dir, "config.json");
    if (json_write_file(root, path) < 0)
        record_failure(dir);
    free(path);
    json_decref(root);
}

void run_dir_on_step(void *ctx, const UnlearnStep *s)
{
    RunDir *dir = ctx;
    if (s->step <= dir->kept_through_step)
        return;
    dir->step_seconds += s->seconds;
    dir->steps++;
    append_metrics(dir, json_pack("{s:s, s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "type",
                                  "step", "step", s->step, "loss", s->loss, "forget_term",
                                  s->forget_term, "retain_term", s->retain_term, "anchor_term",
                                  s->anchor_term, "grad_norm", s->grad_norm, "learning_rate",
                                  (double)s->learning_rate, "anchor_alpha", (double)s->anchor_alpha,
                                  "seconds", s->seconds));
}

json_t *run_dir_eval_json(const UnlearnEval *e)
{
    return json_pack("{s:i, s:f, s:f, s:f, s:f, s:f, s:f}", "step", e->step, "fe", e->fe,
                     "fe_norm", e->fe_norm, "ut", e->ut, "ut_norm", e->ut_norm,
                     "forget_nll", e->forget_nll, "retain_nll", e->retain_nll);
}

void run_dir_on_eval(void *ctx, const UnlearnEval *e)
{
    if (e->step <= ((RunDir *)ctx)->kept_through_step)
        return;
    json_t *object = json_pack("{s:s}", "type", "eval"), *fields = run_dir_eval_json(e);
    json_object_update(object, fields);
    json_decref(fields);
    append_metrics(ctx, object);
}

/* Per layer: counts, mean probabilities and the shift, for one probe. */
static json_t *probe_json(const ProbeRouting *probe, const LayerShift *shift)
{
    json_t *layers = json_array();
    int E = probe->num_experts;
    for (int l = 0; l < probe->num_layers; l++) {
        if (!probe->is_moe[l])
            continue;
        json_t *counts = json_array(), *probs = json_array();
        for (int e = 0; e < E; e++) {
            json_array_append_new(counts, json_integer((json_int_t)probe->counts[(size_t)l * E + e]));
            json_array_append_new(probs, json_real(probe->tokens ? probe->prob_sum[(size_t)l * E + e] /
                                                                       probe->tokens : 0.0));
        }
        json_array_append_new(layers, json_pack("{s:i, s:o, s:o, s:f, s:f, s:f, s:f}", "layer", l,
                                                "selections", counts, "mean_prob", probs,
                                                "token_overlap", shift[l].token_overlap,
                                                "set_overlap", shift[l].set_overlap,
                                                "total_variation", shift[l].total_variation,
                                                "kl", shift[l].kl));
    }
    return json_pack("{s:i, s:i, s:o}", "tokens", probe->tokens, "experts_per_token",
                     probe->experts_per_token, "layers", layers);
}

void run_dir_on_snapshot(void *ctx, const UnlearnSnapshot *s)
{
    RunDir *dir = ctx;
    if (s->step <= dir->kept_through_step)
        return;
    json_t *root = json_pack("{s:i, s:i, s:i, s:i, s:f, s:o, s:o}", "step", s->step,
                             "target_layer", s->target_layer, "target_expert", s->target_expert,
                             "target_rank", s->target_rank, "target_prob", s->target_prob,
                             "forget", probe_json(s->forget, s->forget_shift),
                             "retain", probe_json(s->retain, s->retain_shift));
    char name[64];
    snprintf(name, sizeof name, "routing/step_%06d.json", s->step);
    char *path = join(dir, name);
    if (json_write_file(root, path) < 0)
        record_failure(dir);
    free(path);
    json_decref(root);
    append_metrics(dir, json_pack("{s:s, s:i, s:f, s:f, s:f, s:f, s:i, s:f}", "type", "snapshot",
                                  "step", s->step, "forget_token_overlap", s->forget_token_overlap,
                                  "forget_set_overlap", s->forget_set_overlap,
                                  "retain_token_overlap", s->retain_token_overlap,
                                  "retain_set_overlap", s->retain_set_overlap,
                                  "target_rank", s->target_rank, "target_prob", s->target_prob));
    /* the run's state after the snapshot: a resumed run goes on from here */
    if (dir->run && run_state_save(dir->run, dir->path) < 0)
        record_failure(dir);
}

/* metrics.jsonl cut before the first record of a step after `step`,
 * atomically; the step times kept count toward the summary's mean. */
static int keep_metrics_through(RunDir *dir, const char *path, int step)
{
    FILE *in = fopen(path, "rb");
    if (!in)
        return errno == ENOENT ? 0 : error_set("%s: cannot open: %s", path, strerror(errno));
    AtomicFile out;
    if (atomic_file_open(&out, path) < 0) {
        fclose(in);
        return -1;
    }
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    int rc = 0;
    while (rc == 0 && (length = getline(&line, &capacity, in)) > 0) {
        json_t *record = json_loadb(line, (size_t)length, 0, NULL);
        json_t *record_step = json_object_get(record, "step");
        bool later = !record || line[length - 1] != '\n' || /* a torn last line goes too */
                     (json_is_integer(record_step) && json_integer_value(record_step) > step);
        const char *type = json_string_value(json_object_get(record, "type"));
        json_t *seconds = json_object_get(record, "seconds");
        if (!later && type && strcmp(type, "step") == 0 && json_is_number(seconds)) {
            dir->step_seconds += json_number_value(seconds);
            dir->steps++;
        }
        json_decref(record);
        if (later)
            break;
        if (fwrite(line, 1, (size_t)length, out.stream) != (size_t)length)
            rc = error_set("%s: cannot write: %s", path, strerror(errno));
    }
    free(line);
    fclose(in);
    if (rc < 0) {
        atomic_file_abort(&out);
        return -1;
    }
    return atomic_file_commit(&out);
}

int run_dir_file_step(const char *name, const char *extension)
{
    if (strncmp(name, "step_", 5) != 0)
        return -1;
    const char *digits = name + 5;
    size_t count = strspn(digits, "0123456789");
    if (count == 0 || count > 9 || digits[count] != '.' || strcmp(digits + count + 1, extension) != 0)
        return -1;
    return atoi(digits);
}

void run_dir_remove_step_files(const char *folder, int step, bool later_only)
{
    DIR *dir = opendir(folder);
    if (!dir)
        return;
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        int file_step = run_dir_file_step(entry->d_name, "json");
        if (file_step < 0)
            file_step = run_dir_file_step(entry->d_name, "safetensors");
        if (file_step < 0 || (later_only ? file_step <= step : file_step == step))
            continue;
        size_t size = strlen(folder) + strlen(entry->d_name) + 2;
        char *path = xmalloc(size);
        snprintf(path, size, "%s/%s", folder, entry->d_name);
        unlink(path);
        free(path);
    }
    closedir(dir);
}

int run_dir_open_resumed(RunDir *dir, const char *path, json_t *experiment, int keep_through_step)
{
    memset(dir, 0, sizeof *dir);
    dir->metrics_fd = -1;
    dir->path = xstrdup(path);
    dir->kept_through_step = keep_through_step;
    dir->experiment = experiment ? json_incref(experiment) : json_object();
    char *metrics = join(dir, "metrics.jsonl"), *routing = join(dir, "routing");
    char *summary = join(dir, "summary.json");
    int rc = checkpoint_make_directory(path);
    if (rc == 0 && mkdir(routing, 0777) < 0 && errno != EEXIST)
        rc = error_set("%s: cannot create: %s", routing, strerror(errno));
    if (rc == 0 && unlink(summary) < 0 && errno != ENOENT)
        rc = error_set("%s: cannot remove: %s", summary, strerror(errno));
    if (rc == 0) {
        run_dir_remove_step_files(routing, keep_through_step, true);
        rc = keep_metrics_through(dir, metrics, keep_through_step);
    }
    if (rc == 0) {
        dir->metrics_fd = open(metrics, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
        if (dir->metrics_fd < 0)
            rc = error_set("%s: cannot open: %s", metrics, strerror(errno));
    }
    free(metrics);
    free(routing);
    free(summary);
    return rc;
}

UnlearnObserver run_dir_observer(RunDir *dir)
{
    return (UnlearnObserver){.ctx = dir, .on_start = run_dir_on_start, .on_step = run_dir_on_step,
                             .on_eval = run_dir_on_eval, .on_snapshot = run_dir_on_snapshot};
}

int run_dir_write_summary(RunDir *dir, const UnlearnRun *run)
{
    char name[64];
    trainable_set_name(&run->config.trainable, name, sizeof name);
    json_t *root = json_pack(
        "{s:s, s:s, s:f, s:f, s:f, s:f, s:f, s:i, s:o, s:o, s:i, s:f, s:s?}",
        "method", unlearn_method_name(run->config.method), "trainable_set", name,
        "fe", run->selected_eval.fe, "ut", run->selected_eval.ut,
        "mean_forget_token_overlap", run->last_forget_overlap,
        "tunable_fraction", run->selection.fraction, "anchor_alpha", run->config.anchor_alpha,
        "selected_step", run->selected_eval.step, "start", run_dir_eval_json(&run->first_eval),
        "final", run_dir_eval_json(&run->last_eval), "steps", run->step,
        "mean_step_seconds", dir->steps ? dir->step_seconds / dir->steps : 0.0,
        "stopped", run->stop_reason[0] ? run->stop_reason : NULL);
    json_object_set_new(root, "selection_rule",
                        json_string(run->config.selection == SELECT_FINAL ? "final" : "best-ut"));
    if (run->config.selection == SELECT_BEST_UT) {
        json_object_set_new(root, "fe_target", json_real(run->config.fe_target));
        json_object_set_new(root, "fe_target_met", json_boolean(run->fe_target_met));
    }
    char *path = join(dir, "summary.json");
    int rc = json_write_file(root, path);
    free(path);
    json_decref(root);
    return rc;
}

int run_dir_close(RunDir *dir)
{
    if (dir->metrics_fd >= 0 && fsync(dir->metrics_fd) < 0 && !dir->failed) {
        error_set("%s/metrics.jsonl: %s", dir->path, strerror(errno));
        record_failure(dir);
    }
    if (dir->metrics_fd >= 0)
        close(dir->metrics_fd);
    json_decref(dir->experiment);
    int rc = dir->failed ? error_set("%s", dir->error) : 0;
    free(dir->path);
    memset(dir, 0, sizeof *dir);
    dir->metrics_fd = -1;
    return rc;
}
