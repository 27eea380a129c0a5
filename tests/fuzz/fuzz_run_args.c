/* libFuzzer harness: the KEY=VALUE arguments of `uoe-wb run` (run_args.h),
 * the input split at NUL bytes into arguments, then each accepted value
 * read as Lua reads it (lua_stringtonumber, as lua_host.c does). Accepted
 * keys must be distinct Lua names, and key=value must give back the
 * argument. */
#include <lauxlib.h>
#include <lua.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "run_args.h"

#define MAX_ARGS 64

static lua_State *L;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!L && !(L = luaL_newstate()))
        abort();
    char *copy = malloc(size + 1), *original = malloc(size + 1);
    memcpy(copy, data, size);
    copy[size] = '\0';
    memcpy(original, copy, size + 1);

    char *pairs[MAX_ARGS];
    const char *keys[MAX_ARGS], *values[MAX_ARGS];
    size_t offsets[MAX_ARGS];
    int count = 0;
    for (size_t at = 0; at <= size && count < MAX_ARGS; at += strlen(copy + at) + 1) {
        offsets[count] = at;
        pairs[count++] = copy + at;
    }
    error_clear();
    if (run_args_parse(count, pairs, keys, values) != 0) {
        if (strcmp(error_message(), "unknown error") == 0)
            abort();
    } else {
        for (int i = 0; i < count; i++) {
            size_t key_length = strlen(keys[i]);
            const char *argument = original + offsets[i];
            if (!run_args_is_lua_name(keys[i], key_length) || argument[key_length] != '='
                || memcmp(argument, keys[i], key_length) != 0
                || strcmp(argument + key_length + 1, values[i]) != 0)
                abort();
            for (int j = 0; j < i; j++)
                if (strcmp(keys[i], keys[j]) == 0)
                    abort();
            if (lua_stringtonumber(L, values[i]) != 0)
                lua_pop(L, 1);
        }
    }
    free(copy);
    free(original);
    return 0;
}
