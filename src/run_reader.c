#include "run_reader.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "json_util.h"

static char *path_join(const char *dir, const char *name)
{
    size_t size = strlen(dir) + strlen(name) + 2;
    char *path = xmalloc(size);
    snprintf(path, size, "%s/%s", dir, name);
    return path;
}

/* A JSON file holding one object; a missing file says so rather than
 * reporting a JSON error at line -1. */
static json_t *load_object_file(const char *path)
{
    struct stat status;
    if (stat(path, &status) != 0) {
        error_set("%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (!S_ISREG(status.st_mode)) {
        error_set("%s: not a regular file", path);
        return NULL;
    }
    return json_load_object(path);
}

/* The member at a dotted key ("method.name"), or NULL. */
static json_t *member_at(const json_t *object, const char *dotted)
{
    char key[128];
    const json_t *at = object;
    while (at && *dotted) {
        size_t length = strcspn(dotted, ".");
        if (length >= sizeof key || !json_is_object(at))
            return NULL;
        memcpy(key, dotted, length);
        key[length] = '\0';
        at = json_object_get(at, key);
        dotted += length + (dotted[length] == '.');
    }
    return (json_t *)at;
}

static int read_number(const json_t *object, const char *where, const char *key, double *out)
{
    json_t *value = member_at(object, key);
    if (!value)
        return error_set("%s: missing required key \"%s\"", where, key);
    if (!json_is_number(value))
        return error_set("%s: key \"%s\": expected a number", where, key);
    *out = json_number_value(value);
    if (!isfinite(*out))
        return error_set("%s: key \"%s\": not a finite number", where, key);
    return 0;
}

static int read_integer(const json_t *object, const char *where, const char *key, int min, int *out)
{
    json_t *value = member_at(object, key);
    if (!value)
        return error_set("%s: missing required key \"%s\"", where, key);
    if (!json_is_integer(value))
        return error_set("%s: key \"%s\": expected an integer", where, key);
    json_int_t v = json_integer_value(value);
    if (v < min || v > 1000000000)
        return error_set("%s: key \"%s\": %lld is out of range", where, key, (long long)v);
    *out = (int)v;
    return 0;
}

static int read_string(const json_t *object, const char *where, const char *key, char **out)
{
    json_t *value = member_at(object, key);
    if (!value)
        return error_set("%s: missing required key \"%s\"", where, key);
    if (!json_is_string(value))
        return error_set("%s: key \"%s\": expected a string", where, key);
    *out = xstrdup(json_string_value(value));
    return 0;
}

/* ---- config.json ---- */

static int read_config(RunData *run, const char *path)
{
    json_t *root = load_object_file(path);
    if (!root)
        return -1;
    int rc = 0;
    if (read_string(root, path, "method.name", &run->method) < 0 ||
        read_string(root, path, "trainable_set.name", &run->trainable_set) < 0 ||
        read_integer(root, path, "anchor.layer", 0, &run->target_layer) < 0 ||
        read_integer(root, path, "anchor.expert", 0, &run->target_expert) < 0 ||
        read_integer(root, path, "batches.steps", 0, &run->planned_steps) < 0)
        rc = -1;
    json_t *experts = member_at(root, "trainable_set.experts");
    if (rc == 0 && !json_is_array(experts))
        rc = error_set("%s: key \"trainable_set.experts\": expected an array of [layer, expert]", path);
    if (rc == 0) {
        size_t count = json_array_size(experts);
        run->trainable_layers = xcalloc(count + 1, sizeof(int));
        run->trainable_experts = xcalloc(count + 1, sizeof(int));
        for (size_t i = 0; i < count && rc == 0; i++) {
            json_t *pair = json_array_get(experts, i);
            if (!json_is_array(pair) || json_array_size(pair) != 2 ||
                !json_is_integer(json_array_get(pair, 0)) || !json_is_integer(json_array_get(pair, 1)))
                rc = error_set("%s: trainable_set.experts[%zu]: expected [layer, expert]", path, i);
            else {
                run->trainable_layers[i] = (int)json_integer_value(json_array_get(pair, 0));
                run->trainable_experts[i] = (int)json_integer_value(json_array_get(pair, 1));
            }
        }
        run->num_trainable_experts = rc == 0 ? (int)count : 0;
    }
    json_decref(root);
    return rc;
}

/* ---- metrics.jsonl ---- */

/* Appends one element to a growing array, doubling its capacity. */
#define APPEND(array, count, capacity, value)                                        \
    do {                                                                             \
        if ((count) == (capacity)) {                                                 \
            (capacity) = (capacity) ? 2 * (capacity) : 16;                           \
            (array) = xrealloc((array), (size_t)(capacity) * sizeof *(array));       \
        }                                                                            \
        (array)[(count)++] = (value);                                                \
    } while (0)

typedef struct {
    int steps, evals, snapshots;
} MetricsCapacity;

static int read_metrics_line(RunData *run, MetricsCapacity *capacity, const json_t *line,
                             const char *where)
{
    char *type = NULL;
    if (read_string(line, where, "type", &type) < 0)
        return -1;
    int rc = 0;
    if (strcmp(type, "step") == 0) {
        RunStepRecord r = {0};
        if (read_integer(line, where, "step", 0, &r.step) < 0 ||
            read_number(line, where, "loss", &r.loss) < 0 ||
            read_number(line, where, "forget_term", &r.forget_term) < 0 ||
            read_number(line, where, "retain_term", &r.retain_term) < 0 ||
            read_number(line, where, "anchor_term", &r.anchor_term) < 0 ||
            read_number(line, where, "grad_norm", &r.grad_norm) < 0 ||
            read_number(line, where, "learning_rate", &r.learning_rate) < 0)
            rc = -1;
        else if (run->num_steps > 0 && r.step <= run->steps[run->num_steps - 1].step)
            rc = error_set("%s: step %d does not follow step %d", where, r.step,
                           run->steps[run->num_steps - 1].step);
        else
            APPEND(run->steps, run->num_steps, capacity->steps, r);
    } else if (strcmp(type, "eval") == 0) {
        RunEvalRecord r = {0};
        if (read_integer(line, where, "step", 0, &r.step) < 0 ||
            read_number(line, where, "fe", &r.fe) < 0 ||
            read_number(line, where, "fe_norm", &r.fe_norm) < 0 ||
            read_number(line, where, "ut", &r.ut) < 0 ||
            read_number(line, where, "ut_norm", &r.ut_norm) < 0 ||
            read_number(line, where, "forget_nll", &r.forget_nll) < 0 ||
            read_number(line, where, "retain_nll", &r.retain_nll) < 0)
            rc = -1;
        else if (run->num_evals > 0 && r.step <= run->evals[run->num_evals - 1].step)
            rc = error_set("%s: evaluation at step %d does not follow step %d", where, r.step,
                           run->evals[run->num_evals - 1].step);
        else
            APPEND(run->evals, run->num_evals, capacity->evals, r);
    } else if (strcmp(type, "snapshot") == 0) {
        RunSnapshotRecord r = {0};
        if (read_integer(line, where, "step", 0, &r.step) < 0 ||
            read_number(line, where, "forget_token_overlap", &r.forget_token_overlap) < 0 ||
            read_number(line, where, "forget_set_overlap", &r.forget_set_overlap) < 0 ||
            read_number(line, where, "retain_token_overlap", &r.retain_token_overlap) < 0 ||
            read_number(line, where, "retain_set_overlap", &r.retain_set_overlap) < 0 ||
            read_integer(line, where, "target_rank", 0, &r.target_rank) < 0 ||
            read_number(line, where, "target_prob", &r.target_prob) < 0)
            rc = -1;
        else if (run->num_snapshots > 0 && r.step <= run->snapshots[run->num_snapshots - 1].step)
            rc = error_set("%s: snapshot at step %d does not follow step %d", where, r.step,
                           run->snapshots[run->num_snapshots - 1].step);
        else
            APPEND(run->snapshots, run->num_snapshots, capacity->snapshots, r);
    }
    /* Other types are newer additions to the format; plots do not need them. */
    free(type);
    return rc;
}

static bool is_blank(const char *text)
{
    return text[strspn(text, " \t\r\n")] == '\0';
}

static int read_metrics(RunData *run, const char *path)
{
    FILE *file = fopen(path, "r");
    if (!file)
        return error_set("%s: cannot open: %s", path, strerror(errno));
    MetricsCapacity capacity = {0};
    char *text = NULL;
    size_t text_size = 0;
    int line_number = 0, rc = 0;
    ssize_t length;
    while (rc == 0 && (length = getline(&text, &text_size, file)) >= 0) {
        line_number++;
        if (is_blank(text))
            continue;
        char where[64 + 4096];
        snprintf(where, sizeof where, "%s: line %d", path, line_number);
        json_error_t err;
        json_t *line = json_loads(text, JSON_REJECT_DUPLICATES, &err);
        if (!line) {
            bool unterminated = text[length - 1] != '\n';
            rc = error_set("%s: invalid JSON%s: %s", where,
                           unterminated ? " (the last line is cut short)" : "", err.text);
        } else if (!json_is_object(line)) {
            rc = error_set("%s: expected one JSON object per line", where);
        } else {
            rc = read_metrics_line(run, &capacity, line, where);
        }
        json_decref(line);
    }
    if (rc == 0 && ferror(file))
        rc = error_set("%s: read error", path);
    free(text);
    fclose(file);
    if (rc == 0 && run->num_steps == 0)
        rc = error_set("%s: no \"step\" lines: the run took no optimizer step", path);
    if (rc == 0 && run->num_evals == 0)
        rc = error_set("%s: no \"eval\" lines", path);
    if (rc == 0 && (run->num_snapshots == 0 || run->snapshots[0].step != 0))
        rc = error_set("%s: no routing snapshot at step 0", path);
    return rc;
}

/* ---- routing/step_NNNNNN.json ---- */

/* Reads one array of numbers of the expected length into out. */
static int read_row(const json_t *layer, const char *where, const char *key, int expected,
                    double *out)
{
    json_t *array = json_object_get(layer, key);
    if (!json_is_array(array))
        return error_set("%s: key \"%s\": expected an array", where, key);
    if ((int)json_array_size(array) != expected)
        return error_set("%s: key \"%s\": %zu values, expected %d (one per expert)", where, key,
                         json_array_size(array), expected);
    for (int e = 0; e < expected; e++) {
        json_t *value = json_array_get(array, e);
        if (!json_is_number(value) || !isfinite(json_number_value(value)) ||
            json_number_value(value) < 0)
            return error_set("%s: key \"%s\"[%d]: expected a non-negative number", where, key, e);
        out[e] = json_number_value(value);
    }
    return 0;
}

/* The first probe read fixes the run's MoE layers and expert count; every
 * later probe must list the same. */
static int read_probe(RunData *run, const json_t *snapshot, const char *path, const char *name,
                      RunProbeRouting *probe)
{
    char where[4096 + 64];
    snprintf(where, sizeof where, "%s: %s", path, name);
    json_t *object = json_object_get(snapshot, name);
    if (!json_is_object(object))
        return error_set("%s: missing the \"%s\" probe", path, name);
    if (read_integer(object, where, "tokens", 1, &probe->tokens) < 0 ||
        read_integer(object, where, "experts_per_token", 1, &probe->experts_per_token) < 0)
        return -1;
    json_t *layers = json_object_get(object, "layers");
    if (!json_is_array(layers) || json_array_size(layers) == 0)
        return error_set("%s: key \"layers\": expected a non-empty array", where);
    int count = (int)json_array_size(layers);
    if (!run->moe_layers) {
        json_t *selections = json_object_get(json_array_get(layers, 0), "selections");
        if (!json_is_array(selections) || json_array_size(selections) == 0)
            return error_set("%s: layers[0]: key \"selections\": expected a non-empty array", where);
        run->num_moe_layers = count;
        run->num_experts = (int)json_array_size(selections);
        run->moe_layers = xcalloc((size_t)count, sizeof(int));
        for (int i = 0; i < count; i++)
            run->moe_layers[i] = -1;
    } else if (count != run->num_moe_layers) {
        return error_set("%s: %d layers, but step 0 lists %d", where, count, run->num_moe_layers);
    }
    int E = run->num_experts;
    probe->selection_share = xcalloc((size_t)count * E, sizeof(double));
    probe->mean_prob = xcalloc((size_t)count * E, sizeof(double));
    probe->token_overlap = xcalloc((size_t)count, sizeof(double));
    probe->set_overlap = xcalloc((size_t)count, sizeof(double));
    double selections_per_layer = (double)probe->tokens * probe->experts_per_token;
    for (int i = 0; i < count; i++) {
        char at[sizeof where + 32];
        snprintf(at, sizeof at, "%s: layers[%d]", where, i);
        json_t *layer = json_array_get(layers, i);
        int index;
        if (!json_is_object(layer))
            return error_set("%s: expected an object", at);
        if (read_integer(layer, at, "layer", 0, &index) < 0)
            return -1;
        if (run->moe_layers[i] >= 0 && run->moe_layers[i] != index)
            return error_set("%s: layer %d, but step 0 lists layer %d here", at, index,
                             run->moe_layers[i]);
        if (i > 0 && index <= run->moe_layers[i - 1])
            return error_set("%s: layers are not in increasing order", at);
        run->moe_layers[i] = index;
        double *share = probe->selection_share + (size_t)i * E;
        if (read_row(layer, at, "selections", E, share) < 0 ||
            read_row(layer, at, "mean_prob", E, probe->mean_prob + (size_t)i * E) < 0 ||
            read_number(layer, at, "token_overlap", &probe->token_overlap[i]) < 0 ||
            read_number(layer, at, "set_overlap", &probe->set_overlap[i]) < 0)
            return -1;
        for (int e = 0; e < E; e++)
            share[e] /= selections_per_layer;
    }
    return 0;
}

static void probe_free(RunProbeRouting *probe)
{
    free(probe->selection_share);
    free(probe->mean_prob);
    free(probe->token_overlap);
    free(probe->set_overlap);
}

static int read_routing_file(RunData *run, const char *path, int step, RunRoutingSnapshot *out)
{
    json_t *root = load_object_file(path);
    if (!root)
        return -1;
    int rc = 0;
    if (read_integer(root, path, "step", 0, &out->step) < 0 ||
        read_integer(root, path, "target_layer", 0, &out->target_layer) < 0 ||
        read_integer(root, path, "target_expert", 0, &out->target_expert) < 0)
        rc = -1;
    else if (out->step != step)
        rc = error_set("%s: holds step %d, but its name and metrics.jsonl say step %d", path,
                       out->step, step);
    if (rc == 0)
        rc = read_probe(run, root, path, "forget", &out->forget);
    if (rc == 0)
        rc = read_probe(run, root, path, "retain", &out->retain);
    json_decref(root);
    return rc;
}

static int read_routing(RunData *run)
{
    run->routing = xcalloc((size_t)run->num_snapshots, sizeof *run->routing);
    for (int i = 0; i < run->num_snapshots; i++) {
        char name[64];
        snprintf(name, sizeof name, "routing/step_%06d.json", run->snapshots[i].step);
        char *path = path_join(run->path, name);
        int rc = read_routing_file(run, path, run->snapshots[i].step, &run->routing[i]);
        if (rc == 0 && run_data_moe_row(run, run->target_layer) < 0)
            rc = error_set("%s: the target layer %d (config.json anchor.layer) is not among the "
                           "MoE layers listed", path, run->target_layer);
        if (rc == 0 && run->target_expert >= run->num_experts)
            rc = error_set("%s: the target expert %d (config.json anchor.expert) is outside the "
                           "%d experts listed", path, run->target_expert, run->num_experts);
        free(path);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* ---- summary.json ---- */

static int read_summary(RunSummary *summary, const char *path)
{
    json_t *root = load_object_file(path);
    if (!root)
        return -1;
    int rc = 0;
    if (read_string(root, path, "method", &summary->method) < 0 ||
        read_string(root, path, "trainable_set", &summary->trainable_set) < 0 ||
        read_number(root, path, "fe", &summary->fe) < 0 ||
        read_number(root, path, "ut", &summary->ut) < 0 ||
        read_integer(root, path, "selected_step", 0, &summary->selected_step) < 0 ||
        read_number(root, path, "start.fe", &summary->start_fe) < 0 ||
        read_number(root, path, "start.ut", &summary->start_ut) < 0 ||
        read_number(root, path, "final.fe", &summary->final_fe) < 0 ||
        read_number(root, path, "final.ut", &summary->final_ut) < 0 ||
        read_number(root, path, "mean_forget_token_overlap", &summary->mean_forget_token_overlap) < 0 ||
        read_number(root, path, "tunable_fraction", &summary->tunable_fraction) < 0 ||
        read_integer(root, path, "steps", 0, &summary->steps) < 0)
        rc = -1;
    json_decref(root);
    return rc;
}

/* ---- the whole directory ---- */

int run_data_load(RunData *run, const char *path)
{
    memset(run, 0, sizeof *run);
    run->path = xstrdup(path);
    struct stat status;
    bool found = stat(path, &status) == 0;
    if (!found || !S_ISDIR(status.st_mode)) {
        error_set("%s: cannot read the run directory: %s", path,
                  found ? "not a directory" : strerror(errno));
        run_data_free(run);
        return -1;
    }
    char *config = path_join(path, "config.json"), *metrics = path_join(path, "metrics.jsonl"),
         *summary = path_join(path, "summary.json");
    int rc = read_config(run, config);
    if (rc == 0)
        rc = read_metrics(run, metrics);
    if (rc == 0)
        rc = read_routing(run);
    if (rc == 0)
        rc = read_summary(&run->summary, summary);
    free(config);
    free(metrics);
    free(summary);
    if (rc < 0)
        run_data_free(run);
    return rc;
}

void run_data_free(RunData *run)
{
    free(run->path);
    free(run->method);
    free(run->trainable_set);
    free(run->trainable_layers);
    free(run->trainable_experts);
    free(run->steps);
    free(run->evals);
    free(run->snapshots);
    if (run->routing)
        for (int i = 0; i < run->num_snapshots; i++) {
            probe_free(&run->routing[i].forget);
            probe_free(&run->routing[i].retain);
        }
    free(run->routing);
    free(run->moe_layers);
    free(run->summary.method);
    free(run->summary.trainable_set);
    memset(run, 0, sizeof *run);
}

int run_data_moe_row(const RunData *run, int layer)
{
    for (int i = 0; i < run->num_moe_layers; i++)
        if (run->moe_layers[i] == layer)
            return i;
    return -1;
}
