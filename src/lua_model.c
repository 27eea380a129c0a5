/* uoe.Model: a Hugging Face model directory loaded with its tokenizer, and
 * what Lua may do with it: describe it, run it on token ids (logits and
 * routing), encode and decode text, and save it. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "checkpoint.h"
#include "error.h"
#include "lua_uoe.h"

LuaModel *lua_model_check(lua_State *L, int arg)
{
    LuaModel *m = luaL_checkudata(L, arg, LUA_UOE_MODEL);
    if (!m->loaded)
        luaL_argerror(L, arg, "the model has been freed");
    return m;
}

LuaModel *lua_model_check_idle(lua_State *L, int arg)
{
    LuaModel *m = lua_model_check(L, arg);
    if (m->in_step)
        luaL_argerror(L, arg, "the model is inside a training step (a loss may not run it)");
    return m;
}

int lua_model_save(const LuaModel *m, const char *dir, DType dtype, bool fused)
{
    if (checkpoint_make_directory(dir) < 0 ||
        checkpoint_save(&m->model, dir, dtype, fused ? EXPERT_LAYOUT_FUSED : EXPERT_LAYOUT_PER_EXPERT) < 0)
        return -1;
    size_t from_size = strlen(m->dir) + sizeof "/tokenizer.json";
    size_t to_size = strlen(dir) + sizeof "/tokenizer.json";
    char *from = xmalloc(from_size), *to = xmalloc(to_size);
    snprintf(from, from_size, "%s/tokenizer.json", m->dir);
    snprintf(to, to_size, "%s/tokenizer.json", dir);
    int rc = atomic_file_copy(from, to);
    free(from);
    free(to);
    return rc;
}

/* uoe.load_model(dir) -> model */
static int uoe_load_model(lua_State *L)
{
    const char *dir = luaL_checkstring(L, 1);
    lua_uoe_check_arity(L, 1);
    LuaModel *m = lua_newuserdatauv(L, sizeof *m, 0);
    memset(m, 0, sizeof *m);
    luaL_setmetatable(L, LUA_UOE_MODEL);
    if (checkpoint_load(&m->model, dir, NULL) < 0)
        return lua_uoe_engine_error(L);
    m->loaded = true;
    m->dir = xstrdup(dir);
    if (tokenizer_load(&m->tokenizer, dir) < 0)
        return lua_uoe_engine_error(L);
    return 1;
}

static int model_gc(lua_State *L)
{
    LuaModel *m = luaL_checkudata(L, 1, LUA_UOE_MODEL);
    if (m->loaded)
        model_free(&m->model);
    tokenizer_free(m->tokenizer);
    free(m->dir);
    memset(m, 0, sizeof *m);
    return 0;
}

/* model:info() -> {family, dir, layers, experts, experts_per_token, ...} */
static int model_info(lua_State *L)
{
    LuaModel *m = lua_model_check(L, 1);
    lua_uoe_check_arity(L, 1);
    const ModelConfig *c = &m->model.config;
    lua_newtable(L);
    lua_pushstring(L, model_family_name(c->family));
    lua_setfield(L, -2, "family");
    lua_pushstring(L, m->dir);
    lua_setfield(L, -2, "dir");
    lua_uoe_set_integer(L, "vocab_size", c->vocab_size);
    lua_uoe_set_integer(L, "hidden_size", c->hidden_size);
    lua_uoe_set_integer(L, "layers", c->num_layers);
    lua_uoe_set_integer(L, "experts", c->num_experts);
    lua_uoe_set_integer(L, "experts_per_token", c->experts_per_token);
    lua_uoe_set_integer(L, "expert_intermediate", c->expert_intermediate);
    lua_uoe_set_integer(L, "shared_intermediate", c->shared_intermediate);
    lua_uoe_set_integer(L, "max_position_embeddings", c->max_position_embeddings);
    lua_uoe_set_integer(L, "parameters", (lua_Integer)model_param_count(&m->model));
    lua_uoe_set_integer(L, "trainable", (lua_Integer)model_trainable_count(&m->model));
    lua_newtable(L);
    for (int l = 0, i = 1; l < c->num_layers; l++) {
        if (c->layer_is_moe[l]) {
            lua_pushinteger(L, l);
            lua_rawseti(L, -2, i++);
        }
    }
    lua_setfield(L, -2, "moe_layers");
    return 1;
}

/* The token ids of argument arg: a sequence of 1 to max_tokens ids, or a
 * string that the model's tokenizer encodes. Returns a buffer (T) that lives
 * on top of the stack. */
static int *check_ids(lua_State *L, int arg, const LuaModel *m, int max_tokens, int *T)
{
    const ModelConfig *c = &m->model.config;
    if (lua_type(L, arg) == LUA_TSTRING) {
        size_t length;
        const char *text = lua_tolstring(L, arg, &length);
        int *encoded, count;
        if (tokenizer_encode(m->tokenizer, text, length, &encoded, &count) < 0)
            luaL_argerror(L, arg, error_message());
        int *ids = lua_newuserdatauv(L, (size_t)(count > 0 ? count : 1) * sizeof(int), 0);
        memcpy(ids, encoded, (size_t)count * sizeof(int));
        free(encoded);
        *T = count;
    } else {
        luaL_argexpected(L, lua_type(L, arg) == LUA_TTABLE, arg, "table of token ids or string");
        *T = (int)luaL_len(L, arg);
        int *ids = lua_newuserdatauv(L, (size_t)(*T > 0 ? *T : 1) * sizeof(int), 0);
        for (int i = 0; i < *T; i++) {
            lua_geti(L, arg, i + 1);
            int whole;
            lua_Integer id = lua_tointegerx(L, -1, &whole);
            if (lua_type(L, -1) != LUA_TNUMBER || !whole)
                luaL_argerror(L, arg, lua_pushfstring(L, "ids[%d]: integer expected, got %s", i + 1,
                                                      luaL_typename(L, -1)));
            if (id < 0 || id >= c->vocab_size)
                luaL_argerror(L, arg, lua_pushfstring(L, "ids[%d]: token id %I is outside the "
                                                      "vocabulary [0, %d)", i + 1, id, c->vocab_size));
            ids[i] = (int)id;
            lua_pop(L, 1);
        }
    }
    if (*T < 1 || *T > max_tokens)
        luaL_argerror(L, arg, lua_pushfstring(L, "expected 1 to %d token ids, got %d", max_tokens,
                                              *T));
    return lua_touserdata(L, -1);
}

/* model:logits(ids) -> tensor (T, V) */
static int model_logits(lua_State *L)
{
    LuaModel *m = lua_model_check_idle(L, 1);
    lua_uoe_check_arity(L, 2);
    int T;
    int *ids = check_ids(L, 2, m, m->model.config.max_position_embeddings, &T);
    int V = m->model.config.vocab_size;
    model_forward(&m->model, ids, NULL, 1, T);
    LuaTensor *logits = lua_tensor_push(L, NPY_FLOAT32, 2, (int64_t[]){T, V});
    memcpy(logits->data, m->model.acts.logits, (size_t)T * V * sizeof(float));
    return 1;
}

typedef enum { ROUTING_EXPERTS, ROUTING_GATES, ROUTING_PROBS } RoutingArray;

/* Copies one routing array of every MoE layer, (T, K) or (T, E) each, into a
 * new (M, T, K) or (M, T, E) tensor, set as field `key` of the table on top. */
static void set_routing(lua_State *L, const char *key, const LuaModel *m, int T, RoutingArray which)
{
    const ModelConfig *c = &m->model.config;
    int M = model_config_num_moe_layers(c);
    int width = which == ROUTING_PROBS ? c->num_experts : c->experts_per_token;
    LuaTensor *t = lua_tensor_push(L, which == ROUTING_EXPERTS ? NPY_INT32 : NPY_FLOAT32, 3,
                                   (int64_t[]){M, T, width});
    size_t layer_bytes = (size_t)T * width * 4; /* int32 and float32 alike */
    for (int l = 0, i = 0; l < c->num_layers; l++) {
        if (!c->layer_is_moe[l])
            continue;
        const LayerActs *a = &m->model.acts.layer[l];
        const void *source = which == ROUTING_EXPERTS ? (const void *)a->topk_index
                             : which == ROUTING_GATES ? (const void *)a->topk_gate
                                                      : (const void *)a->router_probs;
        memcpy((char *)t->data + (size_t)i++ * layer_bytes, source, layer_bytes);
    }
    lua_setfield(L, -2, key);
}

/* model:forward(ids) -> {logits (T, V), loss, moe_layers, experts (M, T, K)
 * int32, gates (M, T, K), probs (M, T, E)}: the routing taps of the M MoE
 * layers, and the mean next-token NLL (nil for one token). */
static int model_forward_lua(lua_State *L)
{
    LuaModel *m = lua_model_check_idle(L, 1);
    lua_uoe_check_arity(L, 2);
    const ModelConfig *c = &m->model.config;
    int T;
    int *ids = check_ids(L, 2, m, c->max_position_embeddings, &T);
    int *targets = lua_newuserdatauv(L, (size_t)T * sizeof(int), 0); /* (T) next ids, -1 last */
    for (int t = 0; t < T; t++)
        targets[t] = t + 1 < T ? ids[t + 1] : -1;
    float loss = model_forward(&m->model, ids, targets, 1, T);
    lua_newtable(L);
    LuaTensor *logits = lua_tensor_push(L, NPY_FLOAT32, 2, (int64_t[]){T, c->vocab_size});
    memcpy(logits->data, m->model.acts.logits, (size_t)T * c->vocab_size * sizeof(float));
    lua_setfield(L, -2, "logits");
    if (T > 1) {
        lua_pushnumber(L, loss);
        lua_setfield(L, -2, "loss");
    }
    lua_newtable(L);
    for (int l = 0, i = 1; l < c->num_layers; l++) {
        if (c->layer_is_moe[l]) {
            lua_pushinteger(L, l);
            lua_rawseti(L, -2, i++);
        }
    }
    lua_setfield(L, -2, "moe_layers");
    set_routing(L, "experts", m, T, ROUTING_EXPERTS);
    set_routing(L, "gates", m, T, ROUTING_GATES);
    set_routing(L, "probs", m, T, ROUTING_PROBS);
    return 1;
}

/* model:encode(text) -> {ids} */
static int model_encode(lua_State *L)
{
    LuaModel *m = lua_model_check(L, 1);
    lua_uoe_check_arity(L, 2);
    size_t length;
    const char *text = luaL_checklstring(L, 2, &length);
    int *ids, count;
    if (tokenizer_encode(m->tokenizer, text, length, &ids, &count) < 0)
        return luaL_argerror(L, 2, error_message());
    lua_createtable(L, count, 0);
    for (int i = 0; i < count; i++) {
        lua_pushinteger(L, ids[i]);
        lua_rawseti(L, -2, i + 1);
    }
    free(ids);
    return 1;
}

/* model:decode(ids) -> text */
static int model_decode(lua_State *L)
{
    LuaModel *m = lua_model_check(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_uoe_check_arity(L, 2);
    int T;
    int *ids = check_ids(L, 2, m, INT_MAX, &T);
    char *text;
    if (tokenizer_decode(m->tokenizer, ids, T, &text) < 0)
        return luaL_argerror(L, 2, error_message());
    lua_pushstring(L, text);
    free(text);
    return 1;
}

/* model:save(dir [, {dtype = "f32"|"bf16"|"f16", layout = "per-expert"|"fused"}]) */
static int model_save(lua_State *L)
{
    static const char *const option_keys[] = {"dtype", "layout", NULL};
    LuaModel *m = lua_model_check_idle(L, 1);
    lua_uoe_check_arity(L, 3);
    const char *dir = luaL_checkstring(L, 2);
    lua_uoe_check_options(L, 3, true, option_keys);
    const char *dtype_text = "f32", *layout = "per-expert";
    lua_uoe_opt_string(L, 3, "dtype", &dtype_text);
    lua_uoe_opt_string(L, 3, "layout", &layout);
    DType dtype;
    if (strcmp(dtype_text, "f32") == 0)
        dtype = DTYPE_F32;
    else if (strcmp(dtype_text, "bf16") == 0)
        dtype = DTYPE_BF16;
    else if (strcmp(dtype_text, "f16") == 0)
        dtype = DTYPE_F16;
    else
        return luaL_argerror(L, 3, lua_pushfstring(L, "key 'dtype': expected f32, bf16 or f16, "
                                                   "got '%s'", dtype_text));
    if (strcmp(layout, "per-expert") && strcmp(layout, "fused"))
        return luaL_argerror(L, 3, lua_pushfstring(L, "key 'layout': expected per-expert or "
                                                   "fused, got '%s'", layout));
    if (lua_model_save(m, dir, dtype, layout[0] == 'f') < 0)
        return lua_uoe_engine_error(L);
    return 0;
}

static int model_tostring(lua_State *L)
{
    LuaModel *m = luaL_checkudata(L, 1, LUA_UOE_MODEL);
    if (!m->loaded)
        lua_pushliteral(L, "uoe.Model (freed)");
    else
        lua_pushfstring(L, "uoe.Model %s (%d layers, %d experts, top-%d) from %s",
                        model_family_name(m->model.config.family), m->model.config.num_layers,
                        m->model.config.num_experts, m->model.config.experts_per_token, m->dir);
    return 1;
}

void lua_uoe_open_model(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"info", model_info},     {"logits", model_logits}, {"forward", model_forward_lua},
        {"encode", model_encode}, {"decode", model_decode}, {"save", model_save},
        {NULL, NULL},
    };
    static const luaL_Reg metamethods[] = {
        {"__gc", model_gc}, {"__tostring", model_tostring}, {NULL, NULL},
    };
    luaL_newmetatable(L, LUA_UOE_MODEL);
    luaL_setfuncs(L, metamethods, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_pushcfunction(L, uoe_load_model);
    lua_setfield(L, -2, "load_model");
}
