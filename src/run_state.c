/* The resumable state of a run in its run directory (run_state.h). */
#include "run_state.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "json_util.h"
#include "run_dir.h"
#include "safetensors.h"

/* "RUN_DIR/state" or "RUN_DIR/state/step_NNNNNN.EXT"; the caller frees it. */
static char *state_path(const char *run_dir, int step, const char *extension)
{
    size_t size = strlen(run_dir) + 64;
    char *path = xmalloc(size);
    if (step < 0)
        snprintf(path, size, "%s/state", run_dir);
    else
        snprintf(path, size, "%s/state/step_%06d.%s", run_dir, step, extension);
    return path;
}

/* What must match for a state to continue this run. */
static json_t *run_identity(const UnlearnRun *run)
{
    const UnlearnConfig *c = &run->config;
    char seed[32];
    snprintf(seed, sizeof seed, "%" PRIu64, c->seed);
    return json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i}", "seed", seed, "method",
                     unlearn_method_name(c->method), "forget_batch", c->forget_batch,
                     "retain_batch", c->retain_batch, "max_seq_len", c->max_seq_len,
                     "target_layer", run->target_layer, "target_expert", run->target_expert);
}

static json_t *rng_json(const Rng *rng)
{
    json_t *words = json_array();
    for (int i = 0; i < 4; i++) {
        char hex[17];
        snprintf(hex, sizeof hex, "%016" PRIx64, rng->state[i]);
        json_array_append_new(words, json_string(hex));
    }
    return words;
}

static json_t *ints_json(const int *values, int count)
{
    json_t *array = json_array();
    for (int i = 0; i < count; i++)
        json_array_append_new(array, json_integer(values[i]));
    return array;
}

/* NPO's memo: exact doubles, null where not yet computed. */
static json_t *memo_json(const double *values, int count)
{
    json_t *array = json_array();
    for (int i = 0; i < count; i++)
        json_array_append_new(array, isnan(values[i]) ? json_null() : json_real(values[i]));
    return array;
}

static json_t *point_json(const UnlearnRun *run, const UnlearnResumePoint *p)
{
    json_t *root = json_pack(
        "{s:i, s:o, s:i, s:I, s:I, s:{s:o, s:o, s:i}, s:{s:o, s:o, s:i}, s:b, s:o, s:o, s:f}",
        "step", p->step, "run", run_identity(run), "optimizer_step", p->optimizer_step,
        "trainable_floats", (json_int_t)p->trainable_floats, "moment_floats",
        (json_int_t)p->moment_floats, "forget", "rng", rng_json(&p->forget_rng), "order",
        ints_json(p->forget_order, p->forget_count), "next", p->forget_next, "retain", "rng",
        rng_json(&p->retain_rng), "order", ints_json(p->retain_order, p->retain_count), "next",
        p->retain_next, "have_selected", p->have_selected, "selected_eval",
        run_dir_eval_json(&p->selected_eval), "last_eval", run_dir_eval_json(&p->last_eval),
        "last_forget_overlap", p->last_forget_overlap);
    json_object_set_new(root, "reference_nll", memo_json(p->reference_nll, p->forget_count));
    return root;
}

int run_state_save(const UnlearnRun *run, const char *run_dir)
{
    char *folder = state_path(run_dir, -1, NULL);
    int rc = mkdir(folder, 0777) < 0 && errno != EEXIST
                 ? error_set("%s: cannot create: %s", folder, strerror(errno))
                 : 0;
    free(folder);
    if (rc < 0)
        return -1;
    UnlearnResumePoint p;
    unlearn_resume_point(run, &p);
    SafetensorsWriteTensor tensors[] = {
        {"trainable", DTYPE_F32, 1, {(int64_t)p.trainable_floats}, p.trainable},
        {"selected", DTYPE_F32, 1, {(int64_t)p.trainable_floats}, p.selected},
        {"adam_first_moment", DTYPE_F32, 1, {(int64_t)p.moment_floats}, p.first_moment},
        {"adam_second_moment", DTYPE_F32, 1, {(int64_t)p.moment_floats}, p.second_moment},
    };
    char *tensor_path = state_path(run_dir, p.step, "safetensors");
    char *json_path = state_path(run_dir, p.step, "json");
    rc = safetensors_write(tensor_path, tensors, 4, NULL);
    if (rc == 0) {
        json_t *root = point_json(run, &p);
        rc = json_write_file(root, json_path);
        json_decref(root);
    }
    if (rc == 0) {
        char *states = state_path(run_dir, -1, NULL);
        run_dir_remove_step_files(states, p.step, false);
        free(states);
    }
    free(tensor_path);
    free(json_path);
    unlearn_resume_point_free(&p);
    return rc;
}

int run_state_latest(const char *run_dir)
{
    char *folder = state_path(run_dir, -1, NULL);
    DIR *dir = opendir(folder);
    free(folder);
    if (!dir)
        return -1;
    int latest = -1;
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        int step = run_dir_file_step(entry->d_name, "json");
        if (step > latest)
            latest = step;
    }
    closedir(dir);
    return latest;
}

static int read_rng(const json_t *side, const char *path, const char *name, Rng *rng)
{
    const json_t *words = json_object_get(side, "rng");
    for (int i = 0; i < 4; i++) {
        const char *hex = json_string_value(json_array_get(words, (size_t)i));
        char *end = NULL;
        rng->state[i] = hex ? strtoull(hex, &end, 16) : 0;
        if (!hex || json_array_size(words) != 4 || *end != '\0' || strlen(hex) != 16)
            return error_set("%s: \"%s\".\"rng\" must hold 4 words of 16 hex digits", path, name);
    }
    return 0;
}

static int read_side(const json_t *root, const char *path, const char *name, Rng *rng,
                     int **order, int *count, int *next)
{
    const json_t *side = json_object_get(root, name);
    const json_t *values = json_object_get(side, "order");
    const char *const next_key[] = {"next", NULL};
    if (!json_is_object(side) || !json_is_array(values))
        return error_set("%s: \"%s\" must be an object with an \"order\" list", path, name);
    *count = (int)json_array_size(values);
    *order = xmalloc((size_t)(*count > 0 ? *count : 1) * sizeof(int));
    for (int i = 0; i < *count; i++) {
        const json_t *value = json_array_get(values, (size_t)i);
        if (!json_is_integer(value) || json_integer_value(value) < 0 ||
            json_integer_value(value) > 1000000000)
            return error_set("%s: \"%s\".\"order\"[%d] is not a document number", path, name, i);
        (*order)[i] = (int)json_integer_value(value);
    }
    if (json_read_int(side, path, next_key, true, next) < 0)
        return -1;
    return read_rng(side, path, name, rng);
}

static int read_eval(const json_t *root, const char *path, const char *key, UnlearnEval *e)
{
    json_t *object = json_object_get(root, key);
    if (json_unpack(object, "{s:i, s:F, s:F, s:F, s:F, s:F, s:F}", "step", &e->step, "fe", &e->fe,
                    "fe_norm", &e->fe_norm, "ut", &e->ut, "ut_norm", &e->ut_norm, "forget_nll",
                    &e->forget_nll, "retain_nll", &e->retain_nll) < 0)
        return error_set("%s: \"%s\" must be an evaluation (step, fe, fe_norm, ut, ut_norm, "
                         "forget_nll, retain_nll)", path, key);
    return 0;
}

static int read_memo(const json_t *root, const char *path, int count, double **out)
{
    const json_t *values = json_object_get(root, "reference_nll");
    if (!json_is_array(values) || json_array_size(values) != (size_t)count)
        return error_set("%s: \"reference_nll\" must list %d numbers or nulls", path, count);
    *out = xmalloc((size_t)(count > 0 ? count : 1) * sizeof(double));
    for (int i = 0; i < count; i++) {
        const json_t *value = json_array_get(values, (size_t)i);
        if (!json_is_null(value) && !json_is_number(value))
            return error_set("%s: \"reference_nll\"[%d] is not a number", path, i);
        (*out)[i] = json_is_null(value) ? NAN : json_number_value(value);
    }
    return 0;
}

/* Refuses a state saved by another run: names the first key that differs. */
static int check_identity(const UnlearnRun *run, const json_t *root, const char *path)
{
    json_t *expected = run_identity(run);
    const json_t *saved = json_object_get(root, "run");
    const char *key;
    json_t *value;
    int rc = 0;
    json_object_foreach(expected, key, value) {
        const json_t *other = json_object_get(saved, key);
        if (rc == 0 && (!other || !json_equal(value, other))) {
            char *now = json_dumps(value, JSON_ENCODE_ANY);
            char *then = other ? json_dumps(other, JSON_ENCODE_ANY) : NULL;
            rc = error_set("%s: saved by a run with %s %s, and this run has %s %s", path, key,
                           then ? then : "(none)", key, now);
            free(now);
            free(then);
        }
    }
    json_decref(expected);
    return rc;
}

static int read_floats(const SafetensorsFile *file, const char *name, size_t count, float **out)
{
    const SafetensorsTensor *t = safetensors_find(file, name);
    if (!t || t->dtype != DTYPE_F32 || t->nbytes != count * sizeof(float))
        return error_set("%s: tensor \"%s\" must be F32 with %zu values", file->path, name, count);
    *out = xmalloc((count + 1) * sizeof(float));
    memcpy(*out, t->data, t->nbytes);
    return 0;
}

static int read_point(const UnlearnRun *run, const char *json_path, const char *tensor_path,
                      UnlearnResumePoint *p)
{
    json_t *root = json_load_object(json_path);
    if (!root)
        return -1;
    const char *const step_key[] = {"step", NULL}, *const optimizer_key[] = {"optimizer_step", NULL};
    json_int_t trainable = 0, moments = 0;
    int have_selected = 0;
    int rc = check_identity(run, root, json_path);
    if (rc == 0)
        rc = json_read_int(root, json_path, step_key, true, &p->step);
    if (rc == 0)
        rc = json_read_int(root, json_path, optimizer_key, true, &p->optimizer_step);
    if (rc == 0 && json_unpack(root, "{s:I, s:I, s:b, s:F}", "trainable_floats", &trainable,
                               "moment_floats", &moments, "have_selected", &have_selected,
                               "last_forget_overlap", &p->last_forget_overlap) < 0)
        rc = error_set("%s: trainable_floats, moment_floats, have_selected and "
                       "last_forget_overlap are required", json_path);
    if (rc == 0 && (trainable < 1 || moments < 1 || trainable > ((json_int_t)1 << 40) ||
                    moments > ((json_int_t)1 << 40)))
        rc = error_set("%s: implausible sizes %" JSON_INTEGER_FORMAT " and %" JSON_INTEGER_FORMAT,
                       json_path, trainable, moments);
    p->trainable_floats = (size_t)trainable;
    p->moment_floats = (size_t)moments;
    p->have_selected = have_selected;
    if (rc == 0)
        rc = read_side(root, json_path, "forget", &p->forget_rng, &p->forget_order,
                       &p->forget_count, &p->forget_next);
    if (rc == 0)
        rc = read_side(root, json_path, "retain", &p->retain_rng, &p->retain_order,
                       &p->retain_count, &p->retain_next);
    if (rc == 0)
        rc = read_memo(root, json_path, p->forget_count, &p->reference_nll);
    if (rc == 0)
        rc = read_eval(root, json_path, "selected_eval", &p->selected_eval);
    if (rc == 0)
        rc = read_eval(root, json_path, "last_eval", &p->last_eval);
    json_decref(root);
    if (rc < 0)
        return -1;
    SafetensorsFile file;
    if (safetensors_open(&file, tensor_path) < 0)
        return -1;
    rc = read_floats(&file, "trainable", p->trainable_floats, &p->trainable);
    if (rc == 0)
        rc = read_floats(&file, "selected", p->trainable_floats, &p->selected);
    if (rc == 0)
        rc = read_floats(&file, "adam_first_moment", p->moment_floats, &p->first_moment);
    if (rc == 0)
        rc = read_floats(&file, "adam_second_moment", p->moment_floats, &p->second_moment);
    safetensors_close(&file);
    return rc;
}

int run_state_load(const UnlearnRun *run, const char *run_dir, UnlearnResumePoint *p)
{
    memset(p, 0, sizeof *p);
    int step = run_state_latest(run_dir);
    if (step < 0)
        return 0;
    char *json_path = state_path(run_dir, step, "json");
    char *tensor_path = state_path(run_dir, step, "safetensors");
    int rc = read_point(run, json_path, tensor_path, p);
    if (rc == 0 && p->step != step)
        rc = error_set("%s: holds step %d", json_path, p->step);
    free(json_path);
    free(tensor_path);
    if (rc < 0) {
        unlearn_resume_point_free(p);
        return -1;
    }
    return 1;
}

int run_state_begin(RunDir *dir, const char *path, json_t *experiment, bool resume,
                    UnlearnRun *run, Model *model, const Tokenizer *tokenizer,
                    const UnlearnData *data, const UnlearnConfig *config,
                    const UnlearnObserver *observer)
{
    int kept = resume ? run_state_latest(path) : -1;
    int rc = resume ? run_dir_open_resumed(dir, path, experiment, kept)
                    : run_dir_open(dir, path, experiment);
    if (rc == 0)
        rc = unlearn_begin(run, model, tokenizer, data, config, observer);
    if (rc < 0 || kept < 0)
        return rc;
    UnlearnResumePoint point;
    rc = run_state_load(run, path, &point);
    if (rc == 1) {
        rc = unlearn_restore(run, &point);
        unlearn_resume_point_free(&point);
    }
    return rc < 0 ? -1 : 0;
}
