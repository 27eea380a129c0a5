/* A forget loss written in Lua: the engine's per-row log-likelihoods go in,
 * the loss and its per-row coefficients come out (man uoe-wb-lua, "Losses").
 * Called from inside a training step, so nothing here may raise a Lua error
 * past the protected call: failures come back as a message. */
#include "lua_uoe.h"
#include "unlearn_loss.h"

static void set_list(lua_State *L, const char *key, const double *values, int count)
{
    lua_createtable(L, count, 0);
    for (int i = 0; i < count; i++) {
        lua_pushnumber(L, values[i]);
        lua_rawseti(L, -2, i + 1);
    }
    lua_setfield(L, -2, key);
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

int lua_loss_call(lua_State *L, int function, int step, const SequenceBatch *batch,
                  const double *seq_nll, const double *ref_seq_nll, double *value,
                  double *row_gradient)
{
    int B = batch->B;
    if (!lua_checkstack(L, 8)) {
        lua_pushliteral(L, "loss: out of Lua stack");
        return -1;
    }
    int base = lua_gettop(L);
    lua_pushcfunction(L, lua_uoe_traceback);
    lua_pushvalue(L, function);
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, B);
    lua_setfield(L, -2, "rows");
    lua_pushinteger(L, step);
    lua_setfield(L, -2, "step");
    set_list(L, "nll", seq_nll, B);
    set_list(L, "ref_nll", ref_seq_nll, B);
    lua_createtable(L, B, 0); /* (B) target tokens per row: a row's last token has none */
    lua_Integer tokens = 0;
    for (int b = 0; b < B; b++) {
        int targets = batch->lengths[b] > 1 ? batch->lengths[b] - 1 : 0;
        tokens += targets;
        lua_pushinteger(L, targets);
        lua_rawseti(L, -2, b + 1);
    }
    lua_setfield(L, -2, "targets");
    lua_pushinteger(L, tokens);
    lua_setfield(L, -2, "tokens");
    if (lua_pcall(L, 1, 2, base + 1) != LUA_OK) {
        lua_remove(L, base + 1);
        return -1;
    }
    int result = base + 2; /* the loss, then the coefficients */
    int rc = 0;
    if (lua_type(L, result) != LUA_TNUMBER) {
        rc = loss_error(L, function, lua_pushfstring(L, "returned %s; expected the loss (a number) "
                                                     "and a table of %d row coefficients",
                                                     luaL_typename(L, result), B));
    } else if (lua_type(L, result + 1) != LUA_TTABLE || lua_rawlen(L, result + 1) != (size_t)B) {
        rc = loss_error(L, function, lua_pushfstring(L, "the second result must be a table of %d "
                                                     "row coefficients, got %s", B,
                                                     luaL_typename(L, result + 1)));
    } else {
        *value = lua_tonumber(L, result);
        for (int b = 0; b < B && rc == 0; b++) {
            if (lua_rawgeti(L, result + 1, b + 1) != LUA_TNUMBER)
                rc = loss_error(L, function, lua_pushfstring(L, "coefficient %d is %s, not a number",
                                                             b + 1, luaL_typename(L, -1)));
            else
                row_gradient[b] = lua_tonumber(L, -1);
            if (rc == 0)
                lua_pop(L, 1);
        }
    }
    if (rc < 0) { /* keep the message alone above base */
        lua_replace(L, base + 1);
        lua_settop(L, base + 1);
        return -1;
    }
    lua_settop(L, base);
    return 0;
}
