/* The host of experiment scripts (uoe-wb run): one Lua state with the
 * standard libraries and the `uoe` module; the script in its own
 * environment, checked on load for what it must define; errors with a
 * traceback; Ctrl-C through a count hook. */
#ifndef UOE_LUA_HOST_H
#define UOE_LUA_HOST_H

/* Exit statuses of a script run (man uoe-wb-lua, "EXIT STATUS"). */
enum {
    SCRIPT_OK = 0,
    SCRIPT_FAILED = 1,        /* cannot load, a missing field, or an error at run time */
    SCRIPT_BAD_KEYS = 2,      /* a key the script does not take, or a value of the wrong type */
    SCRIPT_INTERRUPTED = 130, /* Ctrl-C (128 + SIGINT) */
};

/* Loads the script at path, checks it, and calls its experiment function
 * with the keys as a table (values converted as the man page says), with
 * progress lines on stdout and errors on stderr. Returns the exit status. */
int lua_host_run(const char *path, int count, const char *const *keys, const char *const *values);

#endif
