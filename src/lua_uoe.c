/* The `uoe` module table, the host context in the registry, and the
 * argument checks every part of the module shares. */
#include "lua_uoe.h"

#include <string.h>

#include "config.h"
#include "error.h"

/* The registry key of the context: the address of this variable, unique to
 * the module (as redis keys its state). */
static const char context_key = 0;

void lua_uoe_set_context(lua_State *L, const LuaUoeContext *context)
{
    lua_pushlightuserdata(L, (void *)context);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &context_key);
}

LuaUoeContext lua_uoe_context(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &context_key);
    const LuaUoeContext *context = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return context ? *context : (LuaUoeContext){0};
}

void lua_uoe_set_number(lua_State *L, const char *key, double value)
{
    lua_pushnumber(L, value);
    lua_setfield(L, -2, key);
}

void lua_uoe_set_integer(lua_State *L, const char *key, lua_Integer value)
{
    lua_pushinteger(L, value);
    lua_setfield(L, -2, key);
}

void lua_uoe_check_interrupt(lua_State *L)
{
    LuaUoeContext context = lua_uoe_context(L);
    if (context.interrupted && *context.interrupted)
        luaL_error(L, "interrupted");
}

void lua_uoe_check_arity(lua_State *L, int max)
{
    if (lua_gettop(L) > max)
        luaL_argerror(L, max + 1, "unexpected argument (too many arguments)");
}

bool lua_uoe_check_options(lua_State *L, int arg, bool optional, const char *const *keys)
{
    if (optional && lua_isnoneornil(L, arg))
        return false;
    luaL_checktype(L, arg, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, arg)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_argerror(L, arg, lua_pushfstring(L, "keys must be strings, got a %s key",
                                                  luaL_typename(L, -1)));
        const char *key = lua_tostring(L, -1);
        bool known = false;
        for (int i = 0; keys[i] && !known; i++)
            known = strcmp(key, keys[i]) == 0;
        if (!known)
            luaL_argerror(L, arg, lua_pushfstring(L, "unknown key '%s'", key));
    }
    return true;
}

/* Pushes the field; returns false (pushing nothing) when it is nil. */
static bool push_field(lua_State *L, int arg, const char *key)
{
    if (lua_isnoneornil(L, arg))
        return false;
    if (lua_getfield(L, arg, key) == LUA_TNIL) {
        lua_pop(L, 1);
        return false;
    }
    return true;
}

static int field_error(lua_State *L, int arg, const char *key, const char *expected)
{
    return luaL_argerror(L, arg, lua_pushfstring(L, "key '%s': %s expected, got %s", key, expected,
                                                 luaL_typename(L, -1)));
}

bool lua_uoe_opt_integer(lua_State *L, int arg, const char *key, lua_Integer min, lua_Integer *out)
{
    if (!push_field(L, arg, key))
        return false;
    int whole;
    lua_Integer value = lua_tointegerx(L, -1, &whole);
    if (!whole || lua_type(L, -1) != LUA_TNUMBER)
        field_error(L, arg, key, "integer");
    if (value < min)
        luaL_argerror(L, arg, lua_pushfstring(L, "key '%s': expected at least %I, got %I", key,
                                              min, value));
    lua_pop(L, 1);
    *out = value;
    return true;
}

bool lua_uoe_opt_number(lua_State *L, int arg, const char *key, double min, double *out)
{
    if (!push_field(L, arg, key))
        return false;
    if (lua_type(L, -1) != LUA_TNUMBER)
        field_error(L, arg, key, "number");
    double value = lua_tonumber(L, -1);
    if (!(value >= min))
        luaL_argerror(L, arg, lua_pushfstring(L, "key '%s': expected at least %f, got %f", key,
                                              min, value));
    lua_pop(L, 1);
    *out = value;
    return true;
}

bool lua_uoe_opt_boolean(lua_State *L, int arg, const char *key, bool *out)
{
    if (!push_field(L, arg, key))
        return false;
    if (lua_type(L, -1) != LUA_TBOOLEAN)
        field_error(L, arg, key, "boolean");
    *out = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return true;
}

bool lua_uoe_opt_string(lua_State *L, int arg, const char *key, const char **out)
{
    if (!push_field(L, arg, key))
        return false;
    if (lua_type(L, -1) != LUA_TSTRING)
        field_error(L, arg, key, "string");
    *out = lua_tostring(L, -1);
    lua_pop(L, 1);
    return true;
}

int lua_uoe_engine_error(lua_State *L)
{
    return luaL_error(L, "%s", error_message());
}

int lua_uoe_traceback(lua_State *L)
{
    const char *message = lua_tostring(L, 1);
    if (message == NULL) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            return 1;
        message = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    if (strstr(message, "\nstack traceback:\n"))
        return 1;
    luaL_traceback(L, L, message, 1);
    return 1;
}

int luaopen_uoe(lua_State *L)
{
    lua_newtable(L);
    lua_uoe_open_tensor(L);
    lua_uoe_open_model(L);
    lua_uoe_open_dataset(L);
    lua_uoe_open_attribute(L);
    lua_uoe_open_json(L);
    lua_uoe_open_evaluate(L);
    lua_uoe_open_plot(L);
    lua_uoe_open_run(L);
    lua_uoe_open_train(L);
    lua_pushliteral(L, PACKAGE_VERSION);
    lua_setfield(L, -2, "version");
    return 1;
}
