/* Learning-rate and router-anchor α schedules written in Lua: a function of
 * the step (from 1) that returns the value of that step (man uoe-wb-lua,
 * "Schedules"). Called from inside a training step, so a failure comes back
 * as a message, never as a raised error. */
#include "lua_uoe.h"

int lua_schedule_call(lua_State *L, int function, int step, const char *what, float *value)
{
    if (!lua_checkstack(L, 4)) {
        lua_pushliteral(L, "schedule: out of Lua stack");
        return -1;
    }
    int base = lua_gettop(L);
    lua_pushcfunction(L, lua_uoe_traceback);
    lua_pushvalue(L, function);
    lua_pushinteger(L, step);
    if (lua_pcall(L, 1, 1, base + 1) != LUA_OK) {
        lua_remove(L, base + 1);
        return -1;
    }
    if (lua_type(L, -1) != LUA_TNUMBER) {
        lua_Debug where;
        const char *got = luaL_typename(L, -1);
        lua_pushvalue(L, function);
        lua_getinfo(L, ">S", &where);
        lua_pushfstring(L, "%s (defined at %s:%d) returned %s for step %d; expected a number",
                        what, where.short_src, where.linedefined, got, step);
        lua_replace(L, base + 1);
        lua_settop(L, base + 1);
        return -1;
    }
    *value = (float)lua_tonumber(L, -1);
    lua_settop(L, base);
    return 0;
}
