/* The KEY=VALUE arguments of `uoe-wb run SCRIPT [KEY=VALUE...]`, split and
 * checked before the script is loaded (man uoe-wb-lua). */
#ifndef UOE_RUN_ARGS_H
#define UOE_RUN_ARGS_H

#include <stdbool.h>
#include <stddef.h>

/* Whether text[0..length) is a Lua name: a letter or '_', then letters,
 * digits or '_'. */
bool run_args_is_lua_name(const char *text, size_t length);

/* Splits each of the count pairs at its first '=', in place (the '=' becomes
 * a NUL), into keys[i] and values[i]. Fails, with an error naming the
 * argument, when a pair has no '=', its key is not a Lua name, or a key is
 * given twice; keys and values are then partly filled. */
int run_args_parse(int count, char **pairs, const char **keys, const char **values);

#endif
