#include "run_args.h"

#include <ctype.h>
#include <string.h>

#include "error.h"

bool run_args_is_lua_name(const char *text, size_t length)
{
    if (length == 0 || isdigit((unsigned char)text[0]))
        return false;
    for (size_t i = 0; i < length; i++)
        if (!isalnum((unsigned char)text[i]) && text[i] != '_')
            return false;
    return true;
}

int run_args_parse(int count, char **pairs, const char **keys, const char **values)
{
    for (int i = 0; i < count; i++) {
        char *equals = strchr(pairs[i], '=');
        if (!equals || !run_args_is_lua_name(pairs[i], (size_t)(equals - pairs[i])))
            return error_set("'%s': expected KEY=VALUE, KEY a Lua name", pairs[i]);
        *equals = '\0';
        keys[i] = pairs[i];
        values[i] = equals + 1;
        for (int j = 0; j < i; j++)
            if (strcmp(keys[j], keys[i]) == 0)
                return error_set("key '%s' given twice", keys[i]);
    }
    return 0;
}
