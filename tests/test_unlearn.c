/* Unlearning runs on the small fixture model, made degenerate on purpose so
 * that routing is known: attention and layer 0 are switched off, so layer
 * 1's router sees each token's embedding alone, and one expert of layer 1 is
 * planted to receive one token. Checks that attribution finds the planted
 * expert, that UOE changes nothing outside its set (bit for bit), that the
 * frozen-prefix cache changes no loss, that NPO starts from its reference,
 * that the selection rule restores the state it picked, that a non-finite
 * loss stops the run with the last good state kept, and that a run resumed
 * from its saved state ends bit for bit as an uninterrupted one. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "checkpoint.h"
#include "error.h"
#include "mcq_eval.h"
#include "run_dir.h"
#include "run_state.h"
#include "tap.h"
#include "test_util.h"
#include "unlearn.h"

enum { PLANTED_LAYER = 1, PLANTED_EXPERT = 2, MAX_STEPS = 16 };

static const char forget_texts[] =
    "{\"text\": \"the the the the the the\"}\n"
    "{\"text\": \"the the the\"}\n"
    "{\"text\": \"the the the the the\"}\n"
    "{\"text\": \"the the the the\"}\n";
static const char retain_texts[] =
    "{\"text\": \"The river runs north of the old mill.\"}\n"
    "{\"text\": \"A baker founded the club in the spring.\"}\n"
    "{\"text\": \"Seven ships left the harbour at dawn.\"}\n";

typedef struct {
    int steps;
    double forget_term[MAX_STEPS], loss[MAX_STEPS];
    double best_ut;
} Record;

static void record_step(void *ctx, const UnlearnStep *s)
{
    Record *r = ctx;
    if (r->steps < MAX_STEPS) {
        r->forget_term[r->steps] = s->forget_term;
        r->loss[r->steps] = s->loss;
    }
    r->steps++;
}

static void record_eval(void *ctx, const UnlearnEval *e)
{
    Record *r = ctx;
    r->best_ut = fmax(r->best_ut, e->ut);
}

static char model_dir[4096], mcq_path[4096];
static UnlearnData data;

/* The fixture model with attention and layer 0 silenced and expert
 * PLANTED_EXPERT of layer 1 routed every "the" token. */
static void load_planted(Model *m, const Tokenizer *tokenizer)
{
    if (checkpoint_load(m, model_dir, NULL) < 0)
        FATAL("%s", error_message());
    const ModelConfig *c = &m->config;
    int C = c->hidden_size, E = c->num_experts;
    for (int l = 0; l < c->num_layers; l++)
        memset(m->layer[l].wo, 0, model_param(m, l, PARAM_WO)->numel * sizeof(float));
    const ParamKind silenced[] = {PARAM_EXPERT_DOWN, PARAM_SHARED_DOWN};
    for (int i = 0; i < 2; i++) {
        Param *p = model_param(m, 0, silenced[i]);
        if (p)
            memset(p->value, 0, p->numel * sizeof(float));
    }
    int *ids, count;
    if (tokenizer_encode(tokenizer, " the", 4, &ids, &count) < 0 || count != 1)
        FATAL("' the' is not one token of the fixture tokenizer");
    int the = ids[0];
    free(ids);
    /* the's embedding alone has hidden unit 0; the planted router row reads only it */
    for (int v = 0; v < c->vocab_size; v++)
        m->embed[(size_t)v * C] = v == the ? 4.0f : 0.0f;
    if (tokenizer_encode(tokenizer, "the", 3, &ids, &count) == 0) {
        for (int i = 0; i < count; i++)
            m->embed[(size_t)ids[i] * C] = 4.0f;
        free(ids);
    }
    float *router = m->layer[PLANTED_LAYER].router; /* (E, C) */
    for (int e = 0; e < E; e++)
        router[(size_t)e * C] = e == PLANTED_EXPERT ? 8.0f : 0.0f;
}

static UnlearnConfig small_config(UnlearnMethod method, int steps)
{
    UnlearnConfig c = unlearn_default_config();
    c.method = method;
    c.steps = steps;
    c.forget_batch = 2;
    c.retain_batch = 2;
    c.learning_rate = 1e-2f;
    c.eval_every = 2;
    c.snapshot_every = 2;
    c.eval_questions = 0;
    c.probe_sequences = 3;
    return c;
}

/* Runs config on a freshly planted model; the caller frees run and model. */
static int run_on(Model *m, const Tokenizer *tokenizer, UnlearnRun *run, const UnlearnConfig *c,
                  Record *record)
{
    load_planted(m, tokenizer);
    memset(record, 0, sizeof *record);
    UnlearnObserver observer = {.ctx = record, .on_step = record_step, .on_eval = record_eval};
    if (unlearn_begin(run, m, tokenizer, &data, c, &observer) < 0)
        return -1;
    return unlearn_run_all(run);
}

static void check_attribution_and_isolation(const Tokenizer *tokenizer)
{
    Model m, before;
    UnlearnRun run;
    Record record;
    load_planted(&before, tokenizer);
    UnlearnConfig c = small_config(METHOD_GA, 4);
    int rc = run_on(&m, tokenizer, &run, &c, &record);
    tap_ok(rc == 0 && record.steps == 4, "GA with UOE runs 4 steps");
    tap_ok(run.target_layer == PLANTED_LAYER && run.target_expert == PLANTED_EXPERT,
           "attribution finds the planted expert: layer %d expert %d", run.target_layer,
           run.target_expert);
    tap_ok(run.prefix_layer == PLANTED_LAYER, "layers below the target layer are cached (from layer %d)",
           run.prefix_layer);

    size_t outside_changed = 0, inside_changed = 0;
    for (int i = 0; i < m.num_params; i++) {
        const Param *p = &m.params[i], *q = &before.params[i];
        size_t per_expert = p->ndim == 3 ? p->numel / (size_t)p->shape[0] : p->numel;
        for (size_t j = 0; j < p->numel; j++) {
            bool inside = p->trainable && (!p->expert_trainable || p->expert_trainable[j / per_expert]);
            bool changed = memcmp(&p->value[j], &q->value[j], sizeof(float)) != 0;
            outside_changed += !inside && changed;
            inside_changed += inside && changed;
        }
    }
    tap_ok(outside_changed == 0 && inside_changed > 0,
           "UOE changes no parameter outside its set, bit for bit (%zu changed inside, %zu outside)",
           inside_changed, outside_changed);
    unlearn_end(&run);
    model_free(&m);
    model_free(&before);
}

static void check_prefix_cache(const Tokenizer *tokenizer)
{
    Model a, b;
    UnlearnRun run_a, run_b;
    Record with_cache, without;
    UnlearnConfig c = small_config(METHOD_GRADDIFF, 6);
    run_on(&a, tokenizer, &run_a, &c, &with_cache);
    c.prefix_cache = false;
    run_on(&b, tokenizer, &run_b, &c, &without);
    double worst = 0.0;
    for (int s = 0; s < 6; s++)
        worst = fmax(worst, fabs(with_cache.loss[s] - without.loss[s]));
    tap_ok(with_cache.steps == 6 && without.steps == 6 && run_b.prefix_layer == 0 && worst < 1e-5,
           "GradDiff: the frozen-prefix cache gives the same loss at every step (max diff %.2g)",
           worst);
    unlearn_end(&run_a);
    unlearn_end(&run_b);
    model_free(&a);
    model_free(&b);
}

static void check_npo_reference(const Tokenizer *tokenizer)
{
    Model m;
    UnlearnRun run;
    Record record;
    UnlearnConfig c = small_config(METHOD_NPO, 3);
    c.npo_beta = 0.5f;
    c.anchor_alpha = 0.0f;
    run_on(&m, tokenizer, &run, &c, &record);
    tap_ok(fabs(record.forget_term[0] - 2.0 / 0.5 * log(2.0)) < 1e-5,
           "NPO's first step sees the model equal to its reference: (2/beta) log 2 (%.6f)",
           record.forget_term[0]);
    tap_ok(record.forget_term[2] < record.forget_term[0],
           "NPO's loss falls as the model leaves its reference (%.4f -> %.4f)",
           record.forget_term[0], record.forget_term[2]);
    unlearn_end(&run);
    model_free(&m);
}

static void check_selection(const Tokenizer *tokenizer)
{
    Model m;
    UnlearnRun run;
    Record record;
    UnlearnConfig c = small_config(METHOD_GA, 8);
    c.learning_rate = 5e-2f;
    c.selection = SELECT_BEST_UT;
    c.fe_target = 1.0;
    c.anchor_alpha = 0.0f;
    c.trainable.kind = TRAINABLE_ALL;
    run_on(&m, tokenizer, &run, &c, &record);
    McqSet set;
    McqScore score;
    mcq_set_load(&set, mcq_path);
    mcq_evaluate(&m, run.tokenizer, &set, &score, NULL, NULL);
    tap_ok(run.selected_eval.ut == record.best_ut && score.acc == run.selected_eval.ut,
           "best-ut picks the best UT (%.3f at step %d) and leaves that state in the model (%.3f)",
           run.selected_eval.ut, run.selected_eval.step, score.acc);
    mcq_set_free(&set);
    unlearn_end(&run);
    model_free(&m);
}

static void check_non_finite_guard(const Tokenizer *tokenizer)
{
    Model m, before;
    UnlearnRun run;
    Record record = {0};
    load_planted(&m, tokenizer);
    UnlearnConfig c = small_config(METHOD_GA, 4);
    UnlearnObserver observer = {.ctx = &record, .on_step = record_step};
    int rc = unlearn_begin(&run, &m, tokenizer, &data, &c, &observer);
    unlearn_step(&run);
    load_planted(&before, tokenizer);
    memcpy(before.param_arena, m.param_arena, m.num_param_floats * sizeof(float));
    m.final_norm[0] = NAN; /* frozen, so only the loss sees it */
    before.final_norm[0] = NAN;
    rc = rc < 0 ? rc : unlearn_run_all(&run);
    tap_ok(rc < 0 && strstr(run.stop_reason, "step 2") && strstr(run.stop_reason, "forget term (ga)"),
           "a NaN loss stops the run, naming the step and the term: %s", run.stop_reason);
    tap_ok(memcmp(before.param_arena, m.param_arena, m.num_param_floats * sizeof(float)) == 0 &&
               run.step == 1,
           "the state after the last good step (1) is kept");
    unlearn_end(&run);
    model_free(&m);
    model_free(&before);
}

/* metrics.jsonl of two run directories: the same records, step times aside. */
static bool same_metrics(const char *dir_a, const char *dir_b, int *records)
{
    const char *dirs[2] = {dir_a, dir_b};
    FILE *file[2];
    for (int i = 0; i < 2; i++) {
        char path[4300];
        snprintf(path, sizeof path, "%s/metrics.jsonl", dirs[i]);
        file[i] = fopen(path, "rb");
    }
    bool same = file[0] && file[1];
    char *line[2] = {NULL, NULL};
    size_t capacity[2] = {0, 0};
    *records = 0;
    while (same) {
        json_t *record[2];
        for (int i = 0; i < 2; i++) {
            ssize_t length = getline(&line[i], &capacity[i], file[i]);
            record[i] = length > 0 ? json_loadb(line[i], (size_t)length, 0, NULL) : NULL;
            json_object_del(record[i], "seconds");
        }
        same = (record[0] == NULL) == (record[1] == NULL) && (!record[0] || json_equal(record[0], record[1]));
        bool done = !record[0];
        json_decref(record[0]);
        json_decref(record[1]);
        if (done)
            break;
        ++*records;
    }
    for (int i = 0; i < 2; i++) {
        free(line[i]);
        if (file[i])
            fclose(file[i]);
    }
    return same;
}

static bool same_weights(const Model *a, const Model *b)
{
    for (int i = 0; i < a->num_params; i++)
        if (memcmp(a->params[i].value, b->params[i].value, a->params[i].numel * sizeof(float)) != 0)
            return false;
    return true;
}

/* Begins a run writing dir (resumed from its saved state when resume is
 * set), on a freshly planted model. */
static int begin_in(Model *m, const Tokenizer *tokenizer, UnlearnRun *run, RunDir *dir,
                    const char *path, bool resume, const UnlearnConfig *c)
{
    load_planted(m, tokenizer);
    UnlearnObserver observer = run_dir_observer(dir);
    return run_state_begin(dir, path, NULL, resume, run, m, tokenizer, &data, c, &observer);
}

/* NPO (its reference memo) through the prefix cache for 7 steps,
 * uninterrupted; then the same run abandoned after step 5 (a kill), its
 * state saved by its run directory at the snapshot of step 4, and resumed
 * from there to the end. */
static void check_resume(const Tokenizer *tokenizer)
{
    UnlearnConfig c = small_config(METHOD_NPO, 7);
    char whole[4200], killed[4200];
    snprintf(whole, sizeof whole, "%s/whole", temp_dir);
    snprintf(killed, sizeof killed, "%s/killed", temp_dir);

    Model a, b, resumed;
    UnlearnRun run_a, run_b, run_c;
    RunDir dir_a, dir_b, dir_c;
    int rc = begin_in(&a, tokenizer, &run_a, &dir_a, whole, false, &c);
    if (rc == 0)
        rc = unlearn_run_all(&run_a);
    if (rc == 0)
        rc = run_dir_write_summary(&dir_a, &run_a);
    tap_ok(rc == 0 && run_dir_close(&dir_a) == 0, "the uninterrupted run ends");

    rc = begin_in(&b, tokenizer, &run_b, &dir_b, killed, false, &c);
    for (int step = 0; step < 5 && rc == 0; step++)
        rc = unlearn_step(&run_b) < 0 ? -1 : 0;
    unlearn_end(&run_b);
    run_dir_close(&dir_b);
    model_free(&b);
    tap_ok(rc == 0 && run_state_latest(killed) == 4,
           "the second run, abandoned after step 5, saved its state at its last snapshot (step 4)");

    rc = begin_in(&resumed, tokenizer, &run_c, &dir_c, killed, true, &c);
    tap_ok(rc == 0 && run_c.step == 4, "the resumed run starts after step 4");
    if (rc < 0)
        tap_diag("%s", error_message());
    if (rc == 0)
        rc = unlearn_run_all(&run_c);
    if (rc == 0)
        rc = run_dir_write_summary(&dir_c, &run_c);
    tap_ok(rc == 0 && run_dir_close(&dir_c) == 0, "the resumed run ends");
    tap_ok(same_weights(&a, &resumed), "its weights are bit for bit those of the uninterrupted run");
    const UnlearnEval *x = &run_a.last_eval, *y = &run_c.last_eval;
    tap_ok(x->step == y->step && x->fe == y->fe && x->fe_norm == y->fe_norm && x->ut == y->ut &&
           x->ut_norm == y->ut_norm && x->forget_nll == y->forget_nll &&
           x->retain_nll == y->retain_nll,
           "its last evaluation is the same (step %d)", x->step);
    int records = 0;
    bool same = same_metrics(whole, killed, &records);
    tap_ok(same && records == 17,
           "metrics.jsonl holds the uninterrupted run's records, step times aside, and no more (%d)",
           records);

    /* a state saved by another run is refused, naming what differs */
    UnlearnConfig other = c;
    other.seed = 2;
    Model m;
    UnlearnRun run_d;
    RunDir dir_d;
    char elsewhere[4200];
    snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere", temp_dir);
    rc = begin_in(&m, tokenizer, &run_d, &dir_d, elsewhere, false, &other);
    UnlearnResumePoint point;
    int found = rc == 0 ? run_state_load(&run_d, killed, &point) : 0;
    tap_ok(found < 0 && strstr(error_message(), "saved by a run with seed \"1\", and this run has seed \"2\""),
           "a state saved with another seed is refused: %s", error_message());
    unlearn_end(&run_d);
    run_dir_close(&dir_d);
    model_free(&m);

    /* a damaged state is refused, naming its file */
    char state_json[4300];
    snprintf(state_json, sizeof state_json, "%s/state/step_000007.json", killed);
    write_bytes(state_json, "{\"step\": 7,", 11);
    rc = begin_in(&m, tokenizer, &run_d, &dir_d, killed, true, &c);
    tap_ok(rc < 0 && strstr(error_message(), "step_000007.json"),
           "a damaged state is refused, naming its file: %s", error_message());
    unlearn_end(&run_d);
    run_dir_close(&dir_d);
    model_free(&m);

    unlearn_end(&run_a);
    unlearn_end(&run_c);
    model_free(&a);
    model_free(&resumed);
}

int main(void)
{
    snprintf(model_dir, sizeof model_dir, "%s/fixtures/mcq/model", test_data_dir());
    snprintf(mcq_path, sizeof mcq_path, "%s/fixtures/mcq/tiny.jsonl", test_data_dir());
    make_temp_dir();
    char forget_path[4200], retain_path[4200];
    snprintf(forget_path, sizeof forget_path, "%s/forget.jsonl", temp_dir);
    snprintf(retain_path, sizeof retain_path, "%s/retain.jsonl", temp_dir);
    write_bytes(forget_path, forget_texts, strlen(forget_texts));
    write_bytes(retain_path, retain_texts, strlen(retain_texts));
    data = (UnlearnData){forget_path, retain_path, mcq_path, mcq_path, NULL};

    Tokenizer *tokenizer;
    if (!tap_ok(tokenizer_load(&tokenizer, model_dir) == 0, "load the fixture tokenizer")) {
        tap_diag("%s", error_message());
        return tap_done();
    }
    check_attribution_and_isolation(tokenizer);
    check_prefix_cache(tokenizer);
    check_npo_reference(tokenizer);
    check_selection(tokenizer);
    check_non_finite_guard(tokenizer);
    check_resume(tokenizer);
    tokenizer_free(tokenizer);
    remove_temp_dir();
    return tap_done();
}
