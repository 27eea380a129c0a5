/* The host of experiment scripts (uoe-wb run, uoe-wb tui SCRIPT.lua): one
 * Lua state with the standard libraries and the `uoe` module; the script in
 * its own environment, checked on load for what it must define; errors with
 * a traceback; SIGINT and SIGTERM (or the workbench's quit) through a count
 * hook.
 *
 * Headless, progress goes to stdout and messages to stderr. In the
 * workbench, the script runs on the worker thread, which owns the state:
 * every uoe.run reports its events to the workbench's sink and asks its
 * control before each step, and print, warn and the host's messages become
 * log lines, since curses owns the terminal. */
#ifndef UOE_LUA_HOST_H
#define UOE_LUA_HOST_H

#include <stdbool.h>
#include <stddef.h>

#include <lua.h>

#include "workbench.h"

/* Exit statuses of a script run (man uoe-wb-lua, "EXIT STATUS"). */
enum {
    SCRIPT_OK = 0,
    SCRIPT_FAILED = 1,        /* cannot load, a missing field, or an error at run time */
    SCRIPT_BAD_KEYS = 2,      /* a key the script does not take, or a value of the wrong type */
    SCRIPT_INTERRUPTED = 130, /* Ctrl-C (128 + SIGINT), or the workbench's quit */
    SCRIPT_TERMINATED = 143,  /* 128 + SIGTERM */
};

/* A script and its KEY=VALUE arguments. */
typedef struct {
    const char *path;
    int count;
    const char **keys, **values; /* (count), pointing into the arguments */
    int room;                    /* keys the arrays hold */
    bool resume;                 /* its runs go on from their saved states */
} LuaHostScript;

/* Splits the count KEY=VALUE pairs (in place, run_args.h) for the script
 * at path. Returns -1 with the error set on a bad pair; free the script in
 * either case. */
int lua_host_script_init(LuaHostScript *script, const char *path, int count, char **pairs);
/* Adds key = value, unless the pairs gave that key. */
void lua_host_script_default(LuaHostScript *script, const char *key, const char *value);
void lua_host_script_free(LuaHostScript *script);

/* The workbench a script runs in. The host and uoe.run call all of it on
 * the thread that runs the script. */
typedef struct {
    WorkbenchSink sink;       /* each uoe.run's begin, events and end; print and warn lines
                               * go to its events.on_log */
    WorkbenchControl control; /* asked before every step of every uoe.run; a STOP ends the
                               * run with its reason and the script with it (a script's
                               * runs take no RETARGET: the control must not ask) */
    void *ctx;                /* of the two below */
    void (*on_error)(void *ctx, const char *message); /* why the script cannot load or failed:
                                                       * a message, maybe with a traceback */
    bool (*quit_requested)(void *ctx); /* polled by the count hook: true stops the script */
    int runs_begun;           /* kept by uoe.run, which numbers its runs 1, 2, ... */
} LuaHostWorkbench;

/* Loads the script, checks it, and calls its experiment function with the
 * keys as a table (values converted as the man page says). workbench NULL:
 * headless, with progress lines on stdout, errors on stderr, and SIGINT and
 * SIGTERM handled. Returns the exit status. */
int lua_host_run(const LuaHostScript *script, LuaHostWorkbench *workbench);
/* The workbench of the state's script, or NULL when it runs headless. */
LuaHostWorkbench *lua_host_workbench(lua_State *L);

/* Where `require` looks for modules (UOE_LUA_PATH's directories, else the
 * installed lua/ folder, then the source tree's), the first folder that
 * holds `name` (e.g. "experiments/default.lua"): writes the file's path to
 * out and returns true, or returns false when none holds it. */
bool lua_host_find(const char *name, char *out, size_t size);

#endif
