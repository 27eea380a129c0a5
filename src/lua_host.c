/* Running one experiment script, as lua.c runs a chunk: every call into Lua
 * is protected, with a message handler that adds a traceback; SIGINT and
 * SIGTERM (in the workbench, its quit) set a flag that a count hook turns
 * into an "interrupted" error, so a script in a loop stops too. The script
 * gets its own environment, a table that inherits from _G, and must define
 * `name` (a string) and `experiment` (a function), as nmap's NSE checks its
 * scripts. */
#include "lua_host.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lualib.h>

#include "error.h"
#include "lua_uoe.h"
#include "run_args.h"

/* The signal that interrupted the script (SIGINT or SIGTERM), or 0. Set by
 * the signal handler, which can reach no other state; in the workbench, by
 * the count hook on the script's own thread when the workbench quits (which
 * counts as a Ctrl-C). */
static volatile sig_atomic_t interrupted;

/* Lua instructions between two looks at the flag. */
#define INTERRUPT_CHECK_INSTRUCTIONS 1000

/* The registry key of the workbench: the address of this variable. */
static const char workbench_key = 0;

LuaHostWorkbench *lua_host_workbench(lua_State *L)
{
    lua_rawgetp(L, LUA_REGISTRYINDEX, &workbench_key);
    LuaHostWorkbench *workbench = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return workbench;
}

static void on_signal(int signal_number)
{
    interrupted = signal_number;
}

/* Whether the script is to stop: a signal came, or the workbench quits. */
static bool stopping(lua_State *L)
{
    LuaHostWorkbench *workbench = lua_host_workbench(L);
    if (!interrupted && workbench && workbench->quit_requested(workbench->ctx))
        interrupted = SIGINT;
    return interrupted != 0;
}

static void interrupt_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    if (stopping(L))
        luaL_error(L, "interrupted");
}

/* The status of a script that a call into it failed: interrupted, or failed. */
static int failed_status(lua_State *L)
{
    return stopping(L) ? 128 + interrupted : SCRIPT_FAILED;
}

/* A message for the user: "uoe-wb: message" on stderr, or to the workbench. */
static void report(lua_State *L, const char *message)
{
    LuaHostWorkbench *workbench = lua_host_workbench(L);
    if (workbench)
        workbench->on_error(workbench->ctx, message);
    else
        fprintf(stderr, "uoe-wb: %s\n", message);
}

/* The same, formatted by lua_pushfstring's rules (it may raise: host_main only). */
static void reportf(lua_State *L, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    const char *message = lua_pushvfstring(L, fmt, args);
    va_end(args);
    report(L, message);
    lua_pop(L, 1);
}

/* print, in the workbench: the arguments through tostring, separated by
 * tabs, as log lines. */
static int print_to_log(lua_State *L)
{
    int count = lua_gettop(L);
    luaL_Buffer text;
    luaL_buffinit(L, &text);
    for (int i = 1; i <= count; i++) {
        if (i > 1)
            luaL_addchar(&text, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&text);
    }
    luaL_pushresult(&text);
    workbench_log_lines(&lua_host_workbench(L)->sink, lua_tostring(L, -1));
    return 0;
}

/* warn, in the workbench: off until warn("@on"), as uoe-wb run has it; a
 * warning, its pieces joined, becomes a log line. */
typedef struct {
    const WorkbenchSink *sink;
    bool on;
    char text[512];
    size_t length;
} WarningsToLog;

static void warn_to_log(void *ud, const char *piece, int to_be_continued)
{
    WarningsToLog *w = ud;
    if (w->length == 0 && !to_be_continued && piece[0] == '@') { /* a control message */
        if (strcmp(piece, "@on") == 0 || strcmp(piece, "@off") == 0)
            w->on = piece[2] == 'n';
        return;
    }
    if (w->length == 0)
        w->length = (size_t)snprintf(w->text, sizeof w->text, "Lua warning: ");
    if (w->length < sizeof w->text - 1)
        w->length += (size_t)snprintf(w->text + w->length, sizeof w->text - w->length, "%s", piece);
    if (to_be_continued)
        return;
    if (w->on)
        workbench_log_lines(w->sink, w->text);
    w->length = 0;
}

/* The folders where `require` looks first, separated by ':'. */
static const char *uoe_lua_folders(void)
{
    const char *folders = getenv("UOE_LUA_PATH");
    return folders && *folders ? folders : UOE_LUA_DIR ":" UOE_SOURCE_LUA_DIR;
}

bool lua_host_find(const char *name, char *out, size_t size)
{
    struct stat status;
    for (const char *start = uoe_lua_folders(); *start;) {
        int length = (int)strcspn(start, ":");
        snprintf(out, size, "%.*s/%s", length, start, name);
        if (length > 0 && stat(out, &status) == 0)
            return true;
        start += length + (start[length] == ':');
    }
    return false;
}

/* package.path: the uoe folders' ?.lua and ?/init.lua, then Lua's own path. */
static void set_package_path(lua_State *L)
{
    lua_getglobal(L, "package");
    int package = lua_gettop(L);
    luaL_Buffer path;
    luaL_buffinit(L, &path);
    for (const char *start = uoe_lua_folders(); *start;) {
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
 * traceback; reports the error unless the script was stopped. */
static int protected_call(lua_State *L, int nargs)
{
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, lua_uoe_traceback);
    lua_insert(L, base);
    int rc = lua_pcall(L, nargs, 0, base);
    lua_remove(L, base);
    if (rc != LUA_OK) {
        if (!stopping(L))
            report(L, lua_tostring(L, -1));
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
    reportf(L, "%s: field '%s': %s expected, got %s", path, field, lua_typename(L, type),
            lua_typename(L, found));
    return false;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Reports "the script's keys are: a b c" (sorted) for the defaults table at index. */
static void report_known_keys(lua_State *L, int defaults)
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
    luaL_Buffer text;
    luaL_buffinit(L, &text);
    luaL_addstring(&text, "the script's keys are:");
    for (int k = 0; k < i; k++) {
        luaL_addchar(&text, ' ');
        luaL_addstring(&text, names[k]);
    }
    luaL_pushresult(&text);
    free(names);
    report(L, lua_tostring(L, -1));
    lua_pop(L, 1);
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
            reportf(L, "%s: key '%s': true or false expected, got '%s'", path, key, text);
            return false;
        }
        lua_pushboolean(L, text[0] == 't');
        return true;
    }
    if (lua_stringtonumber(L, text) == 0) {
        if (default_type == LUA_TNUMBER) {
            reportf(L, "%s: key '%s': number expected, got '%s'", path, key, text);
            return false;
        }
        lua_pushstring(L, text);
    }
    return true;
}

/* Pushes the experiment's argument: the script's defaults overlaid by the
 * keys. Returns false when a key is unknown or badly typed. */
static bool push_arguments(lua_State *L, const LuaHostScript *script, int env)
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
    for (int i = 0; i < script->count && ok; i++) {
        const char *key = script->keys[i];
        int default_type = has_defaults ? lua_getfield(L, defaults, key) : LUA_TNONE;
        if (has_defaults)
            lua_pop(L, 1);
        if (has_defaults && default_type == LUA_TNIL) {
            reportf(L, "%s: unknown key '%s'", script->path, key);
            report_known_keys(L, defaults);
            ok = false;
        } else if ((ok = push_value(L, script->path, key, script->values[i], default_type))) {
            lua_setfield(L, args, key);
        }
    }
    lua_settop(L, args);
    return ok;
}

/* Loads and runs the chunk in a fresh environment left at the top. */
static int load_script(lua_State *L, const char *path)
{
    if (luaL_loadfilex(L, path, "t") != LUA_OK) {
        report(L, lua_tostring(L, -1));
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
        return failed_status(L);
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
    const LuaHostScript *script;
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
    if (lua_host_workbench(L))
        lua_register(L, "print", print_to_log);
    call->status = load_script(L, call->script->path);
    if (call->status != SCRIPT_OK)
        return 0;
    int env = lua_gettop(L);
    if (!push_arguments(L, call->script, env)) {
        call->status = SCRIPT_BAD_KEYS;
        return 0;
    }
    lua_getfield(L, env, "experiment");
    lua_insert(L, -2);
    if (protected_call(L, 1) != LUA_OK)
        call->status = failed_status(L);
    return 0;
}

int lua_host_run(const LuaHostScript *script, LuaHostWorkbench *workbench)
{
    lua_State *L = luaL_newstate();
    if (!L) {
        static const char message[] = "cannot create a Lua state: out of memory";
        if (workbench)
            workbench->on_error(workbench->ctx, message);
        else
            fprintf(stderr, "uoe-wb: %s\n", message);
        return SCRIPT_FAILED;
    }
    LuaUoeContext context = {.interrupted = &interrupted, .progress = !workbench,
                             .script = script->path, .resume = script->resume};
    lua_uoe_set_context(L, &context);
    interrupted = 0;
    WarningsToLog warnings = {.sink = workbench ? &workbench->sink : NULL};
    /* headless, the signals are the script's; in the workbench, its UI thread's */
    struct sigaction action = {.sa_handler = on_signal, .sa_flags = SA_RESETHAND}, previous[2];
    sigemptyset(&action.sa_mask);
    if (workbench) {
        lua_pushlightuserdata(L, workbench);
        lua_rawsetp(L, LUA_REGISTRYINDEX, &workbench_key);
        lua_setwarnf(L, warn_to_log, &warnings);
    } else {
        sigaction(SIGINT, &action, &previous[0]);
        sigaction(SIGTERM, &action, &previous[1]);
    }
    lua_sethook(L, interrupt_hook, LUA_MASKCOUNT, INTERRUPT_CHECK_INSTRUCTIONS);

    ScriptCall call = {script, SCRIPT_FAILED};
    lua_pushcfunction(L, host_main);
    lua_pushlightuserdata(L, &call);
    if (protected_call(L, 1) != LUA_OK)
        call.status = failed_status(L);
    if (call.status >= SCRIPT_INTERRUPTED && !workbench)
        fprintf(stderr, "uoe-wb: %s: interrupted%s\n", script->path,
                interrupted == SIGTERM ? " (SIGTERM)" : "");
    lua_sethook(L, NULL, 0, 0);
    lua_close(L); /* runs left behind end here, keeping what they finished */
    if (!workbench) {
        sigaction(SIGINT, &previous[0], NULL);
        sigaction(SIGTERM, &previous[1], NULL);
    }
    return call.status;
}

int lua_host_script_init(LuaHostScript *script, const char *path, int count, char **pairs)
{
    enum { DEFAULTS_ROOM = 8 };
    script->path = path;
    script->resume = false;
    script->count = count;
    script->room = count + DEFAULTS_ROOM;
    script->keys = xcalloc((size_t)script->room, sizeof *script->keys);
    script->values = xcalloc((size_t)script->room, sizeof *script->values);
    return run_args_parse(count, pairs, script->keys, script->values);
}

void lua_host_script_default(LuaHostScript *script, const char *key, const char *value)
{
    for (int i = 0; i < script->count; i++)
        if (strcmp(script->keys[i], key) == 0)
            return;
    CHECK(script->count < script->room);
    script->keys[script->count] = key;
    script->values[script->count++] = value;
}

void lua_host_script_free(LuaHostScript *script)
{
    free(script->keys);
    free(script->values);
}
