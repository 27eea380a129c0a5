/* Reading uoe.run's table: the keys of `uoe-wb unlearn --help`, each
 * checked for its type and range, into an UnlearnConfig and its data. */
#include "lua_run_config.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

static const char *const known_keys[] = {
    "model", "out", "world", "forget", "retain", "forget_mcq", "utility_mcq", "attribution",
    "method", "set", "targets", "routers", "rank_by", "alpha", "anchor_scale", "retain_weight",
    "beta", "delta", "rmu_layer", "rmu_coeff", "steps", "forget_batch", "retain_batch",
    "max_seq_len", "lr", "schedule", "warmup", "weight_decay", "max_grad_norm", "prefix_cache",
    "eval_every", "snapshot_every", "eval_questions", "probe_sequences", "attribution_sequences",
    "select", "fe_target", "seed", "save_model", "quiet", "loss", "on_step", "on_eval",
    "on_snapshot", "on_log", NULL,
};

typedef enum { FIELD_INT, FIELD_FLOAT, FIELD_DOUBLE } FieldType;

/* The numeric keys that map straight onto an UnlearnConfig field. */
static const struct {
    const char *key;
    size_t offset;       /* of the field in UnlearnConfig */
    FieldType type;
    double min;
} numeric_keys[] = {
    {"alpha", offsetof(UnlearnConfig, anchor_alpha), FIELD_FLOAT, 0},
    {"retain_weight", offsetof(UnlearnConfig, retain_weight), FIELD_FLOAT, 0},
    {"delta", offsetof(UnlearnConfig, simnpo_delta), FIELD_FLOAT, -HUGE_VAL},
    {"rmu_layer", offsetof(UnlearnConfig, rmu_layer), FIELD_INT, 0},
    {"rmu_coeff", offsetof(UnlearnConfig, rmu_coeff), FIELD_FLOAT, 0},
    {"steps", offsetof(UnlearnConfig, steps), FIELD_INT, 0},
    {"forget_batch", offsetof(UnlearnConfig, forget_batch), FIELD_INT, 1},
    {"retain_batch", offsetof(UnlearnConfig, retain_batch), FIELD_INT, 1},
    {"max_seq_len", offsetof(UnlearnConfig, max_seq_len), FIELD_INT, 2},
    {"lr", offsetof(UnlearnConfig, learning_rate), FIELD_FLOAT, 0},
    {"warmup", offsetof(UnlearnConfig, warmup_steps), FIELD_INT, 0},
    {"weight_decay", offsetof(UnlearnConfig, weight_decay), FIELD_FLOAT, 0},
    {"max_grad_norm", offsetof(UnlearnConfig, max_grad_norm), FIELD_FLOAT, 0},
    {"eval_every", offsetof(UnlearnConfig, eval_every), FIELD_INT, 1},
    {"snapshot_every", offsetof(UnlearnConfig, snapshot_every), FIELD_INT, 1},
    {"eval_questions", offsetof(UnlearnConfig, eval_questions), FIELD_INT, 0},
    {"probe_sequences", offsetof(UnlearnConfig, probe_sequences), FIELD_INT, 1},
    {"attribution_sequences", offsetof(UnlearnConfig, attribution_sequences), FIELD_INT, 0},
    {"fe_target", offsetof(UnlearnConfig, fe_target), FIELD_DOUBLE, 0},
};

/* Whether the key holds a function (lr and alpha may: a schedule). */
static bool is_function(lua_State *L, int arg, const char *key)
{
    bool function = lua_getfield(L, arg, key) == LUA_TFUNCTION;
    lua_pop(L, 1);
    return function;
}

static void read_numbers(lua_State *L, int arg, UnlearnConfig *c)
{
    for (size_t i = 0; i < sizeof numeric_keys / sizeof numeric_keys[0]; i++) {
        char *field = (char *)c + numeric_keys[i].offset;
        const char *key = numeric_keys[i].key;
        if ((strcmp(key, "lr") == 0 || strcmp(key, "alpha") == 0) && is_function(L, arg, key))
            continue;
        if (numeric_keys[i].type == FIELD_INT) {
            lua_Integer value;
            if (lua_uoe_opt_integer(L, arg, key, (lua_Integer)numeric_keys[i].min, &value)) {
                if (value > 1000000000)
                    luaL_argerror(L, arg, lua_pushfstring(L, "key '%s': %I is too large", key, value));
                *(int *)field = (int)value;
            }
        } else {
            double value;
            if (lua_uoe_opt_number(L, arg, key, numeric_keys[i].min, &value)) {
                if (numeric_keys[i].type == FIELD_FLOAT)
                    *(float *)field = (float)value;
                else
                    *(double *)field = value;
            }
        }
    }
}

/* A copy of an optional string key, or NULL. */
static char *copy_string(lua_State *L, int arg, const char *key)
{
    const char *text;
    return lua_uoe_opt_string(L, arg, key, &text) ? xstrdup(text) : NULL;
}

/* Raises "key 'KEY': <the engine's message>" for a value a parser refused. */
static int value_error(lua_State *L, int arg, const char *key)
{
    return luaL_argerror(L, arg, lua_pushfstring(L, "key '%s': %s", key, error_message()));
}

/* Reads a key whose value is one of two words: returns 0 for first, 1 for second. */
static int read_choice(lua_State *L, int arg, const char *key, const char *first,
                       const char *second, int current)
{
    const char *text;
    if (!lua_uoe_opt_string(L, arg, key, &text))
        return current;
    if (strcmp(text, first) && strcmp(text, second))
        luaL_argerror(L, arg, lua_pushfstring(L, "key '%s': expected %s or %s, got '%s'", key,
                                              first, second, text));
    return strcmp(text, first) == 0 ? 0 : 1;
}

static void read_named(lua_State *L, int arg, UnlearnConfig *c)
{
    const char *text;
    if (lua_uoe_opt_string(L, arg, "method", &text) && unlearn_method_parse(text, &c->method) < 0)
        value_error(L, arg, "method");
    if (lua_uoe_opt_string(L, arg, "set", &text)) {
        AttributionStatistic rank_by = c->trainable.rank_by;
        if (trainable_set_parse(text, &c->trainable) < 0)
            value_error(L, arg, "set");
        c->trainable.rank_by = rank_by;
    }
    if (lua_uoe_opt_string(L, arg, "rank_by", &text) &&
        attribution_statistic_parse(text, &c->trainable.rank_by) < 0)
        value_error(L, arg, "rank_by");
    c->anchor_scale = read_choice(L, arg, "anchor_scale", "paper", "code", c->anchor_scale)
                          ? ANCHOR_SCALE_CODE : ANCHOR_SCALE_PAPER;
    c->schedule = read_choice(L, arg, "schedule", "constant", "cosine", c->schedule)
                      ? SCHEDULE_COSINE : SCHEDULE_CONSTANT;
    c->selection = read_choice(L, arg, "select", "final", "best-ut", c->selection)
                       ? SELECT_BEST_UT : SELECT_FINAL;
    double beta;
    if (lua_uoe_opt_number(L, arg, "beta", 0, &beta)) {
        if (c->method == METHOD_SIMNPO)
            c->simnpo_beta = (float)beta;
        else
            c->npo_beta = (float)beta;
    }
    lua_Integer seed;
    if (lua_uoe_opt_integer(L, arg, "seed", 0, &seed))
        c->seed = (uint64_t)seed;
    lua_uoe_opt_boolean(L, arg, "prefix_cache", &c->prefix_cache);
}

/* One entry of `targets`: {layer = L, expert = E} or {L, E}. */
static TrainableTarget read_target(lua_State *L, int arg, int index)
{
    TrainableTarget target;
    int *fields[2] = {&target.layer, &target.expert};
    const char *names[2] = {"layer", "expert"};
    if (lua_type(L, -1) != LUA_TTABLE)
        luaL_argerror(L, arg, lua_pushfstring(L, "key 'targets': targets[%d]: {layer = L, expert = "
                                              "E} expected, got %s", index, luaL_typename(L, -1)));
    for (int f = 0; f < 2; f++) {
        if (lua_getfield(L, -1, names[f]) == LUA_TNIL) {
            lua_pop(L, 1);
            lua_rawgeti(L, -1, f + 1);
        }
        int whole;
        lua_Integer value = lua_tointegerx(L, -1, &whole);
        if (lua_type(L, -1) != LUA_TNUMBER || !whole || value < 0 || value > 1000000)
            luaL_argerror(L, arg, lua_pushfstring(L, "key 'targets': targets[%d].%s: a layer and an "
                                                  "expert number expected, got %s", index, names[f],
                                                  luaL_typename(L, -1)));
        *fields[f] = (int)value;
        lua_pop(L, 1);
    }
    return target;
}

/* targets = {{layer, expert}, ...}; the list may say routers = false, which
 * the `routers` key overrides. */
static void read_targets(lua_State *L, int arg, LuaRunSettings *s)
{
    if (lua_getfield(L, arg, "targets") == LUA_TNIL) {
        lua_pop(L, 1);
        bool routers;
        if (lua_uoe_opt_boolean(L, arg, "routers", &routers))
            luaL_argerror(L, arg, "key 'routers': only with 'targets'");
        return;
    }
    if (lua_type(L, -1) != LUA_TTABLE)
        luaL_argerror(L, arg, lua_pushfstring(L, "key 'targets': table expected, got %s",
                                              luaL_typename(L, -1)));
    lua_getfield(L, arg, "set");
    if (!lua_isnil(L, -1))
        luaL_argerror(L, arg, "keys 'set' and 'targets': give one or the other");
    lua_pop(L, 1);
    int count = (int)lua_rawlen(L, -1);
    if (count < 1 || count > 100000)
        luaL_argerror(L, arg, "key 'targets': expected a list of at least one {layer, expert}");
    s->targets = xcalloc((size_t)count, sizeof(TrainableTarget));
    for (int i = 0; i < count; i++) {
        lua_rawgeti(L, -1, i + 1);
        s->targets[i] = read_target(L, arg, i + 1);
        lua_pop(L, 1);
    }
    bool routers = true;
    if (lua_getfield(L, -1, "routers") != LUA_TNIL) {
        if (lua_type(L, -1) != LUA_TBOOLEAN)
            luaL_argerror(L, arg, lua_pushfstring(L, "key 'targets': targets.routers: boolean "
                                                  "expected, got %s", luaL_typename(L, -1)));
        routers = lua_toboolean(L, -1);
    }
    lua_pop(L, 2);
    lua_uoe_opt_boolean(L, arg, "routers", &routers);
    TrainableSetSpec *spec = &s->config.trainable;
    spec->kind = TRAINABLE_EXPLICIT;
    spec->targets = s->targets;
    spec->target_count = count;
    spec->target_routers = routers;
}

/* model, callbacks and loss: checked here, taken from the table by the caller. */
static void check_values(lua_State *L, int arg, LuaRunSettings *s)
{
    if (lua_getfield(L, arg, "model") == LUA_TNIL || !luaL_testudata(L, -1, LUA_UOE_MODEL))
        luaL_argerror(L, arg, lua_pushfstring(L, "key 'model': %s expected, got %s", LUA_UOE_MODEL,
                                              luaL_typename(L, -1)));
    lua_pop(L, 1);
    static const char *const callbacks[] = {"on_step", "on_eval", "on_snapshot", "on_log"};
    for (int i = 0; i < 4; i++) {
        int type = lua_getfield(L, arg, callbacks[i]);
        if (type != LUA_TNIL && type != LUA_TFUNCTION)
            luaL_argerror(L, arg, lua_pushfstring(L, "key '%s': function expected, got %s",
                                                  callbacks[i], luaL_typename(L, -1)));
        lua_pop(L, 1);
    }
    int type = lua_getfield(L, arg, "loss");
    if (type == LUA_TFUNCTION) {
        s->loss_name = xstrdup("lua");
        s->forget_loss = true;
    } else if (type == LUA_TTABLE) {
        int forget = lua_getfield(L, -1, "forget"), retain = lua_getfield(L, -2, "retain");
        if ((forget != LUA_TNIL && forget != LUA_TFUNCTION) ||
            (retain != LUA_TNIL && retain != LUA_TFUNCTION) ||
            (forget == LUA_TNIL && retain == LUA_TNIL))
            luaL_argerror(L, arg, lua_pushfstring(L, "key 'loss': loss.forget or loss.retain: "
                                                  "function expected, got %s and %s",
                                                  luaL_typename(L, -2), luaL_typename(L, -1)));
        s->forget_loss = forget == LUA_TFUNCTION;
        s->retain_loss = retain == LUA_TFUNCTION;
        lua_getfield(L, -3, "name");
        lua_getfield(L, -4, "reduction");
        s->loss_name = xstrdup(lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "lua");
        if (lua_type(L, -1) == LUA_TSTRING)
            s->loss_reduction = xstrdup(lua_tostring(L, -1));
        lua_pop(L, 4);
    } else if (type != LUA_TNIL) {
        luaL_argerror(L, arg, lua_pushfstring(L, "key 'loss': function or table expected, got %s",
                                              luaL_typename(L, -1)));
    }
    lua_pop(L, 1);
    s->lr_function = is_function(L, arg, "lr");
    s->alpha_function = is_function(L, arg, "alpha");
}

static char *world_file(const char *world, const char *name)
{
    size_t size = strlen(world) + strlen(name) + sizeof "/splits/";
    char *path = xmalloc(size);
    snprintf(path, size, "%s/splits/%s", world, name);
    return path;
}

static void read_data(lua_State *L, int arg, LuaRunSettings *s)
{
    UnlearnData *d = &s->data;
    d->forget_path = copy_string(L, arg, "forget");
    d->retain_path = copy_string(L, arg, "retain");
    d->forget_mcq_path = copy_string(L, arg, "forget_mcq");
    d->utility_mcq_path = copy_string(L, arg, "utility_mcq");
    d->attribution_path = copy_string(L, arg, "attribution");
    char *world = copy_string(L, arg, "world"); /* last: nothing below raises before it is freed */
    if (world) {
        if (!d->forget_path)
            d->forget_path = world_file(world, "forget.jsonl");
        if (!d->retain_path)
            d->retain_path = world_file(world, "retain.jsonl");
        if (!d->forget_mcq_path)
            d->forget_mcq_path = world_file(world, "forget_mcq.jsonl");
        if (!d->utility_mcq_path)
            d->utility_mcq_path = world_file(world, "utility_mcq.jsonl");
        free(world);
    }
    if (!d->forget_path || !d->retain_path || !d->forget_mcq_path || !d->utility_mcq_path)
        luaL_argerror(L, arg, "the data: give 'world', or all of 'forget', 'retain', 'forget_mcq' "
                              "and 'utility_mcq'");
}

void lua_run_settings_read(lua_State *L, int arg, LuaRunSettings *s)
{
    lua_uoe_check_options(L, arg, false, known_keys);
    s->config = unlearn_default_config();
    check_values(L, arg, s);
    s->out = copy_string(L, arg, "out");
    if (!s->out)
        luaL_argerror(L, arg, "key 'out': the run directory (a string) is required");
    read_named(L, arg, &s->config);
    read_numbers(L, arg, &s->config);
    read_targets(L, arg, s);
    lua_uoe_opt_boolean(L, arg, "save_model", &s->save_model);
    lua_uoe_opt_boolean(L, arg, "quiet", &s->quiet);
    read_data(L, arg, s);
    UnlearnMethod method = s->config.method;
    if (s->retain_loss && (method == METHOD_GA || method == METHOD_RMU))
        luaL_argerror(L, arg, lua_pushfstring(L, "key 'loss': loss.retain replaces a token-NLL "
                                              "retain term; %s has none (use graddiff, npo or "
                                              "simnpo)", unlearn_method_name(method)));
}

void lua_run_settings_free(LuaRunSettings *s)
{
    free(s->out);
    free((char *)s->data.forget_path);
    free((char *)s->data.retain_path);
    free((char *)s->data.forget_mcq_path);
    free((char *)s->data.utility_mcq_path);
    free((char *)s->data.attribution_path);
    free(s->targets);
    free(s->loss_name);
    free(s->loss_reduction);
    memset(s, 0, sizeof *s);
}
