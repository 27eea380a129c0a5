/* Running one experiment script, as lua.c runs a chunk: every call into Lua
 * is protected, with a message handler that adds a traceback; SIGINT sets a
 * flag that a count hook turns into an "interrupted" error, so a script in
 * a loop stops too. The script gets its own environment, a table that
 * inherits from _G, and must define `name` (a string) and `experiment` (a
 * function), as nmap's NSE checks its scripts. */
#include "lua_host.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "error.h"
#include "lua_uoe.h"

/* Set by the SIGINT handler: signal handlers can reach no other state. */
static volatile sig_atomic_t interrupted;

/* Lua instructions between two looks at the flag. */
#define INTERRUPT_CHECK_INSTRUCTIONS 1000

static void on_sigint(int signal_number)
{
    (void)signal_number;
    interrupted = 1;
}

static void interrupt_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    if (interrupted)
        luaL_error(L, "interrupted");
}

/* package.path: UOE_LUA_PATH (directories separated by ':'), else the
 * installed lua/ folder and the source tree's, then Lua's own path. */
static void set_package_path(lua_State *L)
{
    const char *directories = getenv("UOE_LUA_PATH");
    if (!directories || !*directories)
        directories = UOE_LUA_DIR ":" UOE_SOURCE_LUA_DIR;
    lua_getglobal(L, "package");
    int package = lua_gettop(L);
    luaL_Buffer path;
    luaL_buffinit(L, &path);
    for (const char *start = directories; *start;) {
        size_t length = strcspn(start, ":");
        if (length > 0) {
            for (int form = 0; form < 2; form++) {
                luaL_addlstring(&path, start, length);
                luaL_addstring(&path, form == 0 ? "/?.lua;" : "/?/init.lua;");
            }
        }
        start += length + (start[length] == ':');
    }
    lua_getfield(L, package, "path");
    luaL_addvalue(&path);
    luaL_pushresult(&path);
    lua_setfield(L, package, "path");
    lua_getfield(L, package, "preload");
    lua_pushcfunction(L, luaopen_uoe);
    lua_setfield(L, -2, "uoe");
    lua_settop(L, package - 1);
}

/* Calls the function below nargs arguments on top, protected, with a
 * traceback; prints the error as "uoe-wb: message". */
static int protected_call(lua_State *L, int nargs)
{
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, lua_uoe_traceback);
    lua_insert(L, base);
    int rc = lua_pcall(L, nargs, 0, base);
    lua_remove(L, base);
    if (rc != LUA_OK) {
        if (!interrupted)
            fprintf(stderr, "uoe-wb: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    return rc;
}

/* Checks a field the script defines (in its environment, at env). */
static bool check_field(lua_State *L, const char *path, int env, const char *field, int type,
                        bool required)
{
    int found = lua_getfield(L, env, field);
    lua_pop(L, 1);
    if (found == type || (!required && found == LUA_TNIL))
        return true;
    fprintf(stderr, "uoe-wb: %s: field '%s': %s expected, got %s\n", path, field,
            lua_typename(L, type), lua_typename(L, found));
    return false;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Prints "the script's keys: a, b, c" (sorted) for the defaults table at index. */
static void print_known_keys(lua_State *L, int defaults)
{
    int count = 0;
    for (lua_pushnil(L); lua_next(L, defaults); lua_pop(L, 1))
        count++;
    const char **names = xcalloc((size_t)count + 1, sizeof *names);
    int i = 0;
    for (lua_pushnil(L); lua_next(L, defaults); lua_pop(L, 1))
        if (lua_type(L, -2) == LUA_TSTRING)
            names[i++] = lua_tostring(L, -2);
    qsort(names, (size_t)i, sizeof *names, compare_strings);
    fprintf(stderr, "uoe-wb: the script's keys are:");
    for (int k = 0; k < i; k++)
        fprintf(stderr, " %s", names[k]);
    fprintf(stderr, "\n");
    free(names);
}

/* Pushes one key's value: typed like its default when there is one, else a
 * number when it reads as one, else the string. Returns false on a mismatch. */
static bool push_value(lua_State *L, const char *path, const char *key, const char *text,
                       int default_type)
{
    if (default_type == LUA_TSTRING) {
        lua_pushstring(L, text);
        return true;
    }
    if (default_type == LUA_TBOOLEAN) {
        if (strcmp(text, "true") && strcmp(text, "false")) {
            fprintf(stderr, "uoe-wb: %s: key '%s': true or false expected, got '%s'\n", path, key,
                    text);
            return false;
        }
        lua_pushboolean(L, text[0] == 't');
        return true;
    }
    if (lua_stringtonumber(L, text) == 0) {
        if (default_type == LUA_TNUMBER) {
            fprintf(stderr, "uoe-wb: %s: key '%s': number expected, got '%s'\n", path, key, text);
            return false;
        }
        lua_pushstring(L, text);
    }
    return true;
}

/* Pushes the experiment's argument: the script's defaults overlaid by the
 * keys. Returns false when a key is unknown or badly typed. */
static bool push_arguments(lua_State *L, const char *path, int env, int count,
                           const char *const *keys, const char *const *values)
{
    lua_newtable(L);
    int args = lua_gettop(L);
    bool has_defaults = lua_getfield(L, env, "defaults") == LUA_TTABLE;
    int defaults = lua_gettop(L);
    if (has_defaults)
        for (lua_pushnil(L); lua_next(L, defaults); lua_pop(L, 1)) {
            lua_pushvalue(L, -2);
            lua_pushvalue(L, -2);
            lua_settable(L, args);
        }
    bool ok = true;
    for (int i = 0; i < count && ok; i++) {
        int default_type = has_defaults ? lua_getfield(L, defaults, keys[i]) : LUA_TNONE;
        if (has_defaults)
            lua_pop(L, 1);
        if (has_defaults && default_type == LUA_TNIL) {
            fprintf(stderr, "uoe-wb: %s: unknown key '%s'\n", path, keys[i]);
            print_known_keys(L, defaults);
            ok = false;
        } else if ((ok = push_value(L, path, keys[i], values[i], default_type))) {
            lua_setfield(L, args, keys[i]);
        }
    }
    lua_settop(L, args);
    return ok;
}

/* Loads and runs the chunk in a fresh environment left at the top. */
static int load_script(lua_State *L, const char *path)
{
    if (luaL_loadfilex(L, path, "t") != LUA_OK) {
        fprintf(stderr, "uoe-wb: %s\n", lua_tostring(L, -1));
        return SCRIPT_FAILED;
    }
    lua_newtable(L);                 /* the environment */
    lua_createtable(L, 0, 1);        /* its metatable: reads fall through to _G */
    lua_pushglobaltable(L);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setupvalue(L, -3, 1);        /* the chunk's _ENV */
    lua_insert(L, -2);
    if (protected_call(L, 0) != LUA_OK)
        return interrupted ? SCRIPT_INTERRUPTED : SCRIPT_FAILED;
    /* what the script must define, looked up in its own table only */
    lua_pushnil(L);
    lua_setmetatable(L, -2);
    int env = lua_gettop(L);
    bool ok = check_field(L, path, env, "name", LUA_TSTRING, true);
    ok &= check_field(L, path, env, "experiment", LUA_TFUNCTION, true);
    ok &= check_field(L, path, env, "description", LUA_TSTRING, false);
    ok &= check_field(L, path, env, "defaults", LUA_TTABLE, false);
    lua_createtable(L, 0, 1);
    lua_pushglobaltable(L);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, env);
    return ok ? SCRIPT_OK : SCRIPT_FAILED;
}

/* What host_main reads and answers, passed as a light userdata. */
typedef struct {
    const char *path;
    int count;
    const char *const *keys, *const *values;
    int status;
} ScriptCall;

/* Everything that touches the state runs here, inside one protected call,
 * as lua.c's pmain: a failure outside the script's own calls (out of
 * memory) is an error, never a panic. */
static int host_main(lua_State *L)
{
    ScriptCall *call = lua_touserdata(L, 1);
    luaL_openlibs(L);
    set_package_path(L);
    call->status = load_script(L, call->path);
    if (call->status != SCRIPT_OK)
        return 0;
    int env = lua_gettop(L);
    if (!push_arguments(L, call->path, env, call->count, call->keys, call->values)) {
        call->status = SCRIPT_BAD_KEYS;
        return 0;
    }
    lua_getfield(L, env, "experiment");
    lua_insert(L, -2);
    if (protected_call(L, 1) != LUA_OK)
        call->status = interrupted ? SCRIPT_INTERRUPTED : SCRIPT_FAILED;
    return 0;
}

int lua_host_run(const char *path, int count, const char *const *keys, const char *const *values)
{
    lua_State *L = luaL_newstate();
    if (!L) {
        fprintf(stderr, "uoe-wb: cannot create a Lua state: out of memory\n");
        return SCRIPT_FAILED;
    }
    LuaUoeContext context = {.interrupted = &interrupted, .progress = true, .script = path};
    lua_uoe_set_context(L, &context);
    interrupted = 0;
    struct sigaction action = {.sa_handler = on_sigint, .sa_flags = SA_RESETHAND}, previous;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, &previous);
    lua_sethook(L, interrupt_hook, LUA_MASKCOUNT, INTERRUPT_CHECK_INSTRUCTIONS);

    ScriptCall call = {path, count, keys, values, SCRIPT_FAILED};
    lua_pushcfunction(L, host_main);
    lua_pushlightuserdata(L, &call);
    if (protected_call(L, 1) != LUA_OK)
        call.status = interrupted ? SCRIPT_INTERRUPTED : SCRIPT_FAILED;
    if (call.status == SCRIPT_INTERRUPTED)
        fprintf(stderr, "uoe-wb: %s: interrupted\n", path);
    lua_sethook(L, NULL, 0, 0);
    lua_close(L); /* runs left behind end here, keeping what they finished */
    sigaction(SIGINT, &previous, NULL);
    return call.status;
}
