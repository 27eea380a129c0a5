/* uoe.read_json, uoe.read_jsonl and uoe.write_json: JSON files (run
 * directories, saved attributions, evaluation results) as Lua values,
 * through jansson. Objects become tables with string keys, arrays
 * sequences, null nil; a table is written as an array when its keys are
 * exactly 1..n (an empty table as []), else as an object with string keys,
 * in sorted order. Writes are atomic. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "json_util.h"
#include "lua_uoe.h"

/* Nesting beyond this is refused when writing: it is a cycle, or close to one. */
#define MAX_DEPTH 64

static void push_json(lua_State *L, const json_t *value)
{
    luaL_checkstack(L, 4, "JSON nesting too deep");
    switch (json_typeof(value)) {
    case JSON_OBJECT: {
        lua_createtable(L, 0, (int)json_object_size(value));
        const char *key;
        json_t *member;
        json_object_foreach((json_t *)value, key, member) {
            push_json(L, member);
            lua_setfield(L, -2, key);
        }
        break;
    }
    case JSON_ARRAY: {
        lua_createtable(L, (int)json_array_size(value), 0);
        for (size_t i = 0; i < json_array_size(value); i++) {
            push_json(L, json_array_get(value, i));
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
    case JSON_STRING: lua_pushlstring(L, json_string_value(value), json_string_length(value)); break;
    case JSON_INTEGER: lua_pushinteger(L, (lua_Integer)json_integer_value(value)); break;
    case JSON_REAL: lua_pushnumber(L, json_real_value(value)); break;
    case JSON_TRUE: lua_pushboolean(L, 1); break;
    case JSON_FALSE: lua_pushboolean(L, 0); break;
    case JSON_NULL: lua_pushnil(L); break;
    }
}

/* uoe.read_json(path) -> value */
static int uoe_read_json(lua_State *L)
{
    lua_uoe_check_arity(L, 1);
    const char *path = luaL_checkstring(L, 1);
    json_error_t problem;
    json_t *root = json_load_file(path, JSON_DECODE_ANY, &problem);
    if (!root)
        return luaL_error(L, "%s:%d:%d: %s", path, problem.line, problem.column, problem.text);
    push_json(L, root);
    json_decref(root);
    return 1;
}

/* uoe.read_jsonl(path) -> {value, ...}, one per non-empty line */
static int uoe_read_jsonl(lua_State *L)
{
    lua_uoe_check_arity(L, 1);
    const char *path = luaL_checkstring(L, 1);
    FILE *file = fopen(path, "rb");
    if (!file)
        return luaL_error(L, "%s: cannot open: %s", path, strerror(errno));
    lua_newtable(L);
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    int number = 0, count = 0;
    while ((length = getline(&line, &capacity, file)) >= 0) {
        number++;
        if (strspn(line, " \t\r\n") == (size_t)length)
            continue;
        json_error_t problem;
        json_t *value = json_loadb(line, (size_t)length, JSON_DECODE_ANY, &problem);
        if (!value) {
            free(line);
            fclose(file);
            return luaL_error(L, "%s:%d:%d: %s", path, number, problem.column, problem.text);
        }
        push_json(L, value);
        json_decref(value);
        lua_rawseti(L, -2, ++count);
    }
    free(line);
    fclose(file);
    return 1;
}

/* Why a value cannot be written; set once, by the first failure. */
typedef struct {
    char message[256];
} WriteProblem;

static json_t *to_json(lua_State *L, int index, int depth, const char *where, WriteProblem *problem);

static json_t *fail(WriteProblem *problem, const char *format, const char *where)
{
    snprintf(problem->message, sizeof problem->message, format, where);
    return NULL;
}

/* A partly built value, dropped after a failure below it. */
static json_t *drop(json_t *partial)
{
    json_decref(partial);
    return NULL;
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Each entry of the array (keys 1..length) or object (string keys, sorted). */
static json_t *table_to_json(lua_State *L, int index, int depth, const char *where,
                             WriteProblem *problem)
{
    if (depth > MAX_DEPTH)
        return fail(problem, "%s: nested more than 64 deep (a cycle?)", where);
    lua_Integer length = (lua_Integer)lua_rawlen(L, index), keys = 0;
    bool strings_only = true;
    lua_pushnil(L);
    while (lua_next(L, index)) {
        keys++;
        strings_only = strings_only && lua_type(L, -2) == LUA_TSTRING;
        lua_pop(L, 1);
    }
    if (keys == length) {
        json_t *array = json_array();
        for (lua_Integer i = 1; i <= length; i++) {
            lua_rawgeti(L, index, i);
            json_t *item = to_json(L, lua_gettop(L), depth + 1, where, problem);
            lua_pop(L, 1);
            if (!item)
                return drop(array);
            json_array_append_new(array, item);
        }
        return array;
    }
    if (!strings_only)
        return fail(problem, "%s: a table mixes string keys with others", where);
    const char **names = xmalloc((size_t)keys * sizeof(char *));
    int count = 0;
    lua_pushnil(L);
    while (lua_next(L, index)) {
        names[count++] = lua_tostring(L, -2); /* kept alive by the table */
        lua_pop(L, 1);
    }
    qsort(names, (size_t)count, sizeof *names, compare_strings);
    json_t *object = json_object();
    for (int i = 0; i < count && object; i++) {
        lua_getfield(L, index, names[i]);
        json_t *member = to_json(L, lua_gettop(L), depth + 1, names[i], problem);
        lua_pop(L, 1);
        if (member)
            json_object_set_new(object, names[i], member);
        else
            object = drop(object);
    }
    free(names);
    return object;
}

/* The Lua value at index as JSON, or NULL with the problem. */
static json_t *to_json(lua_State *L, int index, int depth, const char *where, WriteProblem *problem)
{
    if (!lua_checkstack(L, 6))
        return fail(problem, "%s: nested too deep", where);
    switch (lua_type(L, index)) {
    case LUA_TNIL: return json_null();
    case LUA_TBOOLEAN: return json_boolean(lua_toboolean(L, index));
    case LUA_TSTRING: {
        size_t length;
        const char *text = lua_tolstring(L, index, &length);
        json_t *string = json_stringn(text, length);
        return string ? string : fail(problem, "%s: a string that is not UTF-8", where);
    }
    case LUA_TNUMBER:
        if (lua_isinteger(L, index))
            return json_integer((json_int_t)lua_tointeger(L, index));
        if (!isfinite(lua_tonumber(L, index)))
            return fail(problem, "%s: a number that is not finite", where);
        return json_real(lua_tonumber(L, index));
    case LUA_TTABLE: return table_to_json(L, index, depth, where, problem);
    default: {
        char format[96];
        snprintf(format, sizeof format, "%%s: a %s cannot be written as JSON", luaL_typename(L, index));
        return fail(problem, format, where);
    }
    }
}

/* uoe.write_json(path, value): written whole, or not at all. */
static int uoe_write_json(lua_State *L)
{
    lua_uoe_check_arity(L, 2);
    const char *path = luaL_checkstring(L, 1);
    luaL_checkany(L, 2);
    WriteProblem problem = {{0}};
    json_t *document = to_json(L, 2, 0, "the value", &problem);
    if (!document)
        return luaL_error(L, "uoe.write_json: %s: %s", path, problem.message);
    int rc = json_write_file(document, path);
    json_decref(document);
    if (rc < 0)
        return lua_uoe_engine_error(L);
    return 0;
}

void lua_uoe_open_json(lua_State *L)
{
    static const luaL_Reg functions[] = {
        {"read_json", uoe_read_json}, {"read_jsonl", uoe_read_jsonl}, {"write_json", uoe_write_json},
        {NULL, NULL},
    };
    luaL_setfuncs(L, functions, 0);
}
