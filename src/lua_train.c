/* uoe.train_tokenizer and uoe.train: `uoe-wb tokenize --train` and
 * `uoe-wb train` with their options as keys, through the same functions.
 * Each prints what its command prints (unless quiet, or under the
 * workbench); uoe.train also hands each logged step to an on_log function,
 * stops between steps on Ctrl-C or the workbench's quit, and returns the
 * trained model. */
#include <limits.h>
#include <string.h>

#include "checkpoint.h"
#include "error.h"
#include "lua_host.h"
#include "lua_uoe.h"
#include "tokenizer_train.h"
#include "train.h"

/* Progress goes to stdout when the host prints it and the call is not quiet. */
static FILE *progress_stream(lua_State *L)
{
    bool quiet = false;
    lua_uoe_opt_boolean(L, 1, "quiet", &quiet);
    return lua_uoe_context(L).progress && !quiet ? stdout : NULL;
}

static const char *required_string(lua_State *L, const char *key, const char *what)
{
    const char *value = NULL;
    if (!lua_uoe_opt_string(L, 1, key, &value))
        luaL_argerror(L, 1, lua_pushfstring(L, "key '%s': %s (a string) is required", key, what));
    return value;
}

/* An int field of at least min; *out keeps its value when the field is absent. */
static void opt_int(lua_State *L, const char *key, int min, int *out)
{
    lua_Integer value;
    if (!lua_uoe_opt_integer(L, 1, key, min, &value))
        return;
    if (value > INT_MAX)
        luaL_argerror(L, 1, lua_pushfstring(L, "key '%s': expected at most %d, got %I", key,
                                            INT_MAX, value));
    *out = (int)value;
}

/* A float field of at least 0; *out keeps its value when the field is absent. */
static void opt_float(lua_State *L, const char *key, float *out)
{
    double value;
    if (lua_uoe_opt_number(L, 1, key, 0.0, &value))
        *out = (float)value;
}

/* The strings of a field holding a string or a list of strings, as an array
 * in a userdata left on the stack (the strings stay valid while the options
 * table holds them); *count is 0 when the field is absent. */
static const char **opt_strings(lua_State *L, const char *key, int *count)
{
    *count = 0;
    int type = lua_getfield(L, 1, key);
    if (type == LUA_TNIL)
        return lua_newuserdatauv(L, 0, 0);
    if (type != LUA_TSTRING && type != LUA_TTABLE)
        luaL_argerror(L, 1, lua_pushfstring(L, "key '%s': string or list of strings expected, "
                                            "got %s", key, luaL_typename(L, -1)));
    int list = lua_gettop(L);
    int length = type == LUA_TSTRING ? 1 : (int)lua_rawlen(L, list);
    const char **strings = lua_newuserdatauv(L, (size_t)length * sizeof *strings, 0);
    for (int i = 0; i < length; i++) {
        if (type == LUA_TSTRING) {
            strings[i] = lua_tostring(L, list);
            continue;
        }
        if (lua_rawgeti(L, list, i + 1) != LUA_TSTRING)
            luaL_argerror(L, 1, lua_pushfstring(L, "key '%s': item %d: string expected, got %s",
                                                key, i + 1, luaL_typename(L, -1)));
        strings[i] = lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    lua_remove(L, list);
    *count = length;
    return strings;
}

static const char **required_files(lua_State *L, const char *key, int *count)
{
    const char **files = opt_strings(L, key, count);
    if (*count == 0)
        luaL_argerror(L, 1, lua_pushfstring(L, "key '%s': a JSON Lines file (a string, or a "
                                            "list of them) is required", key));
    return files;
}

/* Makes the folder of path when missing (its own parent must exist). */
static int make_parent_directory(lua_State *L, const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    int rc = checkpoint_make_directory(lua_pushlstring(L, path, (size_t)(slash - path)));
    lua_pop(L, 1);
    return rc;
}

/* uoe.train_tokenizer{corpus = PATH or {PATH...}, vocab_size = N,
 * special = {TOKEN...}, out = PATH [, quiet = true]} -> {out, tokens, merges, texts} */
static int uoe_train_tokenizer(lua_State *L)
{
    static const char *const keys[] = {"corpus", "vocab_size", "special", "out", "quiet", NULL};
    lua_uoe_check_arity(L, 1);
    lua_uoe_check_options(L, 1, false, keys);
    BpeTrainOptions options = {0};
    int num_corpora;
    const char **corpora = required_files(L, "corpus", &num_corpora);
    opt_int(L, "vocab_size", 1, &options.vocab_size);
    if (options.vocab_size == 0)
        luaL_argerror(L, 1, "key 'vocab_size': the vocabulary to reach (an integer) is required");
    options.special_tokens = opt_strings(L, "special", &options.num_special_tokens);
    const char *out = required_string(L, "out", "the tokenizer.json to write");
    FILE *progress = progress_stream(L);
    BpeTrainSummary summary;
    if (make_parent_directory(L, out) < 0 ||
        tokenizer_train_corpora(corpora, num_corpora, &options, out, &summary) < 0)
        return lua_uoe_engine_error(L);
    if (progress)
        tokenizer_train_report(progress, out, &summary);
    lua_createtable(L, 0, 4);
    lua_pushstring(L, out);
    lua_setfield(L, -2, "out");
    lua_uoe_set_integer(L, "tokens", (lua_Integer)summary.tokens);
    lua_uoe_set_integer(L, "merges", (lua_Integer)summary.merges);
    lua_uoe_set_integer(L, "texts", summary.texts);
    return 1;
}

/* ---- uoe.train ---- */

/* What the steps of uoe.train need from Lua. */
typedef struct {
    lua_State *L;
    const TrainJob *job;
    int on_log;                            /* stack index of the function, or 0 */
    int error_slot;                        /* stack index where a failure's message waits */
    bool failed;
    volatile sig_atomic_t *interrupted;   /* Ctrl-C, headless */
    LuaHostWorkbench *workbench;          /* its quit, in the workbench; else NULL */
} TrainSteps;

static void push_record(lua_State *L, const TrainProgress *p, int steps)
{
    char line[256];
    train_format_progress(line, sizeof line, p, steps);
    lua_createtable(L, 0, 8);
    lua_uoe_set_integer(L, "step", p->step);
    lua_uoe_set_integer(L, "steps", steps);
    lua_uoe_set_number(L, "loss", p->loss);
    lua_uoe_set_number(L, "learning_rate", p->learning_rate);
    lua_uoe_set_number(L, "grad_norm", p->grad_norm);
    lua_uoe_set_integer(L, "epoch", p->epoch);
    lua_uoe_set_number(L, "tokens_per_second", p->tokens_per_second);
    lua_pushstring(L, line);
    lua_setfield(L, -2, "line");
}

/* After every step: on_log on the logged ones; stops the job when on_log
 * fails, on Ctrl-C, or when the workbench quits. Never raises: the job must
 * free its data. */
static int after_step(const TrainProgress *p, void *ctx)
{
    TrainSteps *s = ctx;
    lua_State *L = s->L;
    if (s->on_log && train_job_logs(s->job, p->step)) {
        lua_pushcfunction(L, lua_uoe_traceback);
        lua_pushvalue(L, s->on_log);
        push_record(L, p, s->job->train.steps);
        if (lua_pcall(L, 1, 0, -3) != LUA_OK) {
            lua_replace(L, s->error_slot);
            s->failed = true;
        }
        lua_pop(L, 1);
    }
    return s->failed || (s->interrupted && *s->interrupted) ||
           (s->workbench && s->workbench->quit_requested(s->workbench->ctx));
}

/* Reads the keys of the table at 1 that mirror `uoe-wb train --help`. */
static void check_job(lua_State *L, TrainJob *job)
{
    int type = lua_getfield(L, 1, "config");
    if (type != LUA_TNIL && type != LUA_TSTRING && type != LUA_TTABLE)
        luaL_argerror(L, 1, lua_pushfstring(L, "key 'config': string or table expected, got %s",
                                            luaL_typename(L, -1)));
    lua_pop(L, 1);
    if (type == LUA_TSTRING)
        lua_uoe_opt_string(L, 1, "config", &job->config_path);
    lua_uoe_opt_string(L, 1, "init", &job->init_dir);
    if ((type == LUA_TNIL) == !job->init_dir)
        luaL_argerror(L, 1, "keys 'config' (a new model) and 'init' (a saved one): exactly one "
                            "is required");
    job->tokenizer_path = required_string(L, "tokenizer", "a tokenizer.json");
    job->corpora = required_files(L, "corpus", &job->num_corpora);
    job->out_dir = required_string(L, "out", "the model directory to write");
    TrainConfig *train = &job->train;
    opt_int(L, "steps", 1, &train->steps);
    opt_int(L, "batch", 1, &train->batch_rows);
    opt_int(L, "seq_len", 1, &train->seq_len);
    opt_float(L, "lr", &train->learning_rate);
    opt_int(L, "warmup", 1, &train->warmup_steps);
    opt_float(L, "min_lr_ratio", &train->min_lr_ratio);
    opt_float(L, "weight_decay", &train->adamw.weight_decay);
    lua_Integer seed;
    if (lua_uoe_opt_integer(L, 1, "seed", 1, &seed))
        train->seed = (uint64_t)seed;
    opt_int(L, "log_every", 1, &job->log_every);
    job->log = progress_stream(L);
}

/* Writes a config table as OUT/config.json through uoe.write_json (the
 * function's upvalue), to be read as `uoe-wb train --config` reads a file;
 * the saved model's config.json replaces it. */
static const char *write_config(lua_State *L, const char *out_dir)
{
    if (checkpoint_make_directory(out_dir) < 0)
        lua_uoe_engine_error(L);
    const char *path = lua_pushfstring(L, "%s/config.json", out_dir);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, -2);
    lua_getfield(L, 1, "config");
    if (lua_pcall(L, 2, 0, 0) != LUA_OK)
        luaL_argerror(L, 1, lua_pushfstring(L, "key 'config': %s", lua_tostring(L, -1)));
    return path;
}

/* uoe.train{config = PATH or TABLE | init = DIR, tokenizer = PATH, corpus = PATH or {PATH...},
 * out = DIR [, steps, batch, seq_len, lr, warmup, min_lr_ratio, weight_decay, seed,
 * log_every, quiet, on_log]} -> {loss, initial_loss, steps, seconds, ...}, model */
static int uoe_train(lua_State *L)
{
    static const char *const keys[] = {
        "config", "init", "tokenizer", "corpus", "out", "steps", "batch", "seq_len", "lr",
        "warmup", "min_lr_ratio", "weight_decay", "seed", "log_every", "quiet", "on_log", NULL,
    };
    lua_uoe_check_arity(L, 1);
    lua_uoe_check_options(L, 1, false, keys);
    TrainJob job = {.train = train_default_config(), .log_every = 10};
    check_job(L, &job);
    TrainSteps steps = {.L = L, .job = &job, .interrupted = lua_uoe_context(L).interrupted,
                        .workbench = lua_host_workbench(L)};
    int type = lua_getfield(L, 1, "on_log");
    if (type == LUA_TFUNCTION)
        steps.on_log = lua_gettop(L);
    else if (type != LUA_TNIL)
        luaL_argerror(L, 1, lua_pushfstring(L, "key 'on_log': function expected, got %s",
                                            luaL_typename(L, -1)));
    if (!job.config_path && !job.init_dir)
        job.config_path = write_config(L, job.out_dir);
    lua_pushnil(L);
    steps.error_slot = lua_gettop(L);
    job.callback = after_step;
    job.ctx = &steps;

    /* The model's userdata exists before training, so that nothing raises
     * between the job's end and the model's handing over. */
    LuaModel *trained = lua_newuserdatauv(L, sizeof *trained, 0);
    memset(trained, 0, sizeof *trained);
    luaL_setmetatable(L, LUA_UOE_MODEL);
    TrainJobResult result;
    int rc = train_job_run(&job, &trained->model, &trained->tokenizer, &result);
    if (rc != 0) {
        model_free(&trained->model);
        tokenizer_free(trained->tokenizer);
        trained->tokenizer = NULL;
        if (rc < 0)
            return lua_uoe_engine_error(L);
        if (steps.failed) {
            lua_pushvalue(L, steps.error_slot);
            return lua_error(L);
        }
        return luaL_error(L, "interrupted");
    }
    /* as a loaded model, without the gradients of training */
    model_clear_trainable(&trained->model);
    model_commit_trainable(&trained->model);
    trained->dir = xstrdup(job.out_dir);
    trained->loaded = true;

    lua_createtable(L, 0, 8);
    lua_uoe_set_number(L, "loss", result.loss);
    lua_uoe_set_number(L, "initial_loss", result.initial_loss);
    lua_uoe_set_integer(L, "steps", result.steps);
    lua_uoe_set_number(L, "seconds", result.seconds);
    lua_uoe_set_integer(L, "parameters", (lua_Integer)result.parameters);
    lua_uoe_set_integer(L, "documents", result.documents);
    lua_uoe_set_integer(L, "tokens", (lua_Integer)result.tokens);
    lua_pushstring(L, job.out_dir);
    lua_setfield(L, -2, "out");
    lua_insert(L, -2);
    return 2;
}

void lua_uoe_open_train(lua_State *L)
{
    lua_pushcfunction(L, uoe_train_tokenizer);
    lua_setfield(L, -2, "train_tokenizer");
    lua_getfield(L, -1, "write_json"); /* lua_uoe_open_json's, opened before */
    lua_pushcclosure(L, uoe_train, 1);
    lua_setfield(L, -2, "train");
}
