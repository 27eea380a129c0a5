/* Losses written in Lua (man uoe-wb-lua, "Losses"). A forget loss gets the
 * engine's per-row log-likelihoods and the named terms of a forget batch and
 * gives back its value, per-row coefficients and weights on the named terms;
 * a retain loss gets a retain batch's per-token NLL and target hits and gives
 * back its value and per-token coefficients. Called from inside a training
 * step, so nothing here may raise a Lua error past the protected call:
 * failures come back as a message. */
#include <math.h>
#include <string.h>

#include "lua_uoe.h"

static void set_list(lua_State *L, const char *key, const double *values, int count)
{
    lua_createtable(L, count, 0);
    for (int i = 0; i < count; i++) {
        lua_pushnumber(L, values[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, key);
}

/* Target tokens of row b: every position but the row's last has one. */
static int row_targets(const SequenceBatch *batch, int b)
{
    return batch->lengths[b] > 1 ? batch->lengths[b] - 1 : 0;
}

/* Sets batch.rows, .step, .targets (B) and .tokens on the table on top. */
static void set_batch_shape(lua_State *L, const SequenceBatch *batch, int step)
{
    lua_uoe_set_integer(L, "rows", batch->B);
    lua_uoe_set_integer(L, "step", step);
    lua_createtable(L, batch->B, 0);
    lua_Integer tokens = 0;
    for (int b = 0; b < batch->B; b++) {
        tokens += row_targets(batch, b);
        lua_pushinteger(L, row_targets(batch, b));
        lua_rawseti(L, -2, b + 1);
    }
    lua_setfield(L, -2, "targets");
    lua_uoe_set_integer(L, "tokens", tokens);
}

/* Pushes "loss (defined at FILE:LINE): " + message; returns -1. */
static int loss_error(lua_State *L, int function, const char *message)
{
    lua_Debug where;
    lua_pushvalue(L, function);
    lua_getinfo(L, ">S", &where);
    lua_pushfstring(L, "loss (defined at %s:%d): %s", where.short_src, where.linedefined, message);
    return -1;
}

/* Calls the function at `function` with the batch table on top, for
 * `results` results. Returns the stack index of the first, or -1 with the
 * traced error on top. */
static int call_loss(lua_State *L, int function, int results)
{
    int base = lua_gettop(L) - 1; /* below the batch */
    lua_pushcfunction(L, lua_uoe_traceback);
    lua_pushvalue(L, function);
    lua_pushvalue(L, base + 1);
    if (lua_pcall(L, 1, results, base + 2) != LUA_OK)
        return -1;
    return base + 3;
}

/* Leaves only the message on top of base; returns -1. */
static int keep_message(lua_State *L, int base)
{
    lua_replace(L, base + 1);
    lua_settop(L, base + 1);
    return -1;
}

/* Reads the number at `index`, or fails with what it is. */
static int read_number(lua_State *L, int function, int index, const char *what, double *value)
{
    if (lua_type(L, index) != LUA_TNUMBER)
        return loss_error(L, function, lua_pushfstring(L, "%s is %s, not a number", what,
                                                       luaL_typename(L, index)));
    *value = lua_tonumber(L, index);
    if (!isfinite(*value))
        return loss_error(L, function, lua_pushfstring(L, "%s is %f, not finite", what, *value));
    return 0;
}

/* The third result of a forget loss: nil, or {anchor = w, rmu = w}. */
static int read_weights(lua_State *L, int function, int index, CustomForgetOutput *out)
{
    if (lua_isnil(L, index))
        return 0;
    if (!lua_istable(L, index))
        return loss_error(L, function, lua_pushfstring(L, "the third result must be nil or a table "
                                                       "of term weights, got %s",
                                                       luaL_typename(L, index)));
    lua_pushnil(L);
    while (lua_next(L, index)) {
        const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        double *weight = !key                      ? NULL
                         : strcmp(key, "anchor") == 0 ? &out->anchor_weight
                         : strcmp(key, "rmu") == 0    ? &out->rmu_weight
                                                      : NULL;
        if (!weight)
            return loss_error(L, function, lua_pushfstring(L, "unknown term weight '%s' (the terms "
                                                           "are anchor and rmu)",
                                                           key ? key : luaL_typename(L, -2)));
        char what[48];
        snprintf(what, sizeof what, "the weight on '%s'", key);
        if (read_number(L, function, -1, what, weight) < 0)
            return -1;
        lua_pop(L, 1);
    }
    return 0;
}

int lua_loss_forget_call(lua_State *L, int function, int step, const CustomForgetInput *in,
                         CustomForgetOutput *out)
{
    const SequenceBatch *batch = in->batch;
    int B = batch->B;
    if (!lua_checkstack(L, 12)) {
        lua_pushliteral(L, "loss: out of Lua stack");
        return -1;
    }
    int base = lua_gettop(L);
    lua_createtable(L, 0, 8);
    set_batch_shape(L, batch, step);
    set_list(L, "nll", in->seq_nll, B);
    set_list(L, "ref_nll", in->ref_seq_nll, B);
    lua_uoe_set_number(L, "anchor", in->anchor);
    lua_uoe_set_number(L, "rmu", in->rmu);
    int result = call_loss(L, function, 3); /* the loss, the coefficients, the weights */
    if (result < 0)
        return keep_message(L, base);
    int rc = read_number(L, function, result, "the loss (first result)", &out->value);
    if (rc == 0 && !lua_isnil(L, result + 1)) {
        if (lua_type(L, result + 1) != LUA_TTABLE || lua_rawlen(L, result + 1) != (size_t)B) {
            rc = loss_error(L, function, lua_pushfstring(L, "the second result must be nil or a "
                                                         "table of %d row coefficients, got %s",
                                                         B, luaL_typename(L, result + 1)));
        }
        for (int b = 0; b < B && rc == 0; b++) {
            char what[32];
            snprintf(what, sizeof what, "coefficient %d", b + 1);
            lua_rawgeti(L, result + 1, b + 1);
            rc = read_number(L, function, -1, what, &out->row_gradient[b]);
            if (rc == 0)
                lua_pop(L, 1);
        }
        out->row_gradient_given = true;
    }
    if (rc == 0)
        rc = read_weights(L, function, result + 2, out);
    if (rc < 0)
        return keep_message(L, base);
    lua_settop(L, base);
    return 0;
}

/* batch[key] = (B) lists of each row's target-token values. */
static void set_token_lists(lua_State *L, const char *key, const SequenceBatch *batch,
                            const float *nll, const unsigned char *hit)
{
    lua_createtable(L, batch->B, 0);
    for (int b = 0; b < batch->B; b++) {
        int targets = row_targets(batch, b);
        lua_createtable(L, targets, 0);
        for (int t = 0; t < targets; t++) {
            size_t n = (size_t)b * batch->T + t;
            if (nll)
                lua_pushnumber(L, nll[n]);
            else
                lua_pushboolean(L, hit[n]);
            lua_rawseti(L, -2, t + 1);
        }
        lua_rawseti(L, -2, b + 1);
    }
    lua_setfield(L, -2, key);
}

/* The second result of a retain loss: (B) lists of per-token coefficients. */
static int read_token_coefficients(lua_State *L, int function, int index,
                                   const SequenceBatch *batch, float *gradient)
{
    if (lua_type(L, index) != LUA_TTABLE || lua_rawlen(L, index) != (size_t)batch->B)
        return loss_error(L, function, lua_pushfstring(L, "the second result must be a table of "
                                                       "%d rows of token coefficients, got %s",
                                                       batch->B, luaL_typename(L, index)));
    for (int b = 0; b < batch->B; b++) {
        int targets = row_targets(batch, b);
        if (lua_rawgeti(L, index, b + 1) != LUA_TTABLE || lua_rawlen(L, -1) != (size_t)targets)
            return loss_error(L, function, lua_pushfstring(L, "row %d of the coefficients must be "
                                                           "a table of %d numbers, got %s",
                                                           b + 1, targets, luaL_typename(L, -1)));
        for (int t = 0; t < targets; t++) {
            char what[48];
            double value;
            snprintf(what, sizeof what, "coefficient %d of row %d", t + 1, b + 1);
            lua_rawgeti(L, -1, t + 1);
            if (read_number(L, function, -1, what, &value) < 0)
                return -1;
            gradient[(size_t)b * batch->T + t] = (float)value;
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    return 0;
}

int lua_loss_retain_call(lua_State *L, int function, int step, const CustomRetainInput *in,
                         CustomRetainOutput *out)
{
    if (!lua_checkstack(L, 12)) {
        lua_pushliteral(L, "loss: out of Lua stack");
        return -1;
    }
    int base = lua_gettop(L);
    lua_createtable(L, 0, 8);
    set_batch_shape(L, in->batch, step);
    set_token_lists(L, "nll", in->batch, in->token_nll, NULL);
    set_token_lists(L, "hits", in->batch, NULL, in->target_hit);
    lua_uoe_set_number(L, "forget_rate", in->forget_target_rate);
    lua_uoe_set_number(L, "retain_weight", in->retain_weight);
    int result = call_loss(L, function, 2);
    if (result < 0)
        return keep_message(L, base);
    if (read_number(L, function, result, "the loss (first result)", &out->value) < 0 ||
        read_token_coefficients(L, function, result + 1, in->batch, out->token_gradient) < 0)
        return keep_message(L, base);
    lua_settop(L, base);
    return 0;
}
