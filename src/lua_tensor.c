/* uoe.Tensor: an n-dimensional float32 or int32 array (int64 when read from
 * a .npy), C order, its data inside the userdata. Lua reads it by element
 * (indices from 1), as nested tables, or writes it as NumPy .npy. */
#include <stdint.h>
#include <string.h>

#include "lua_uoe.h"

#define TENSOR_MAX_DIMS 8

static size_t element_bytes(NpyType type)
{
    return type == NPY_INT64 ? 8 : 4;
}

static const char *type_name(NpyType type)
{
    return type == NPY_FLOAT32 ? "float32" : type == NPY_INT32 ? "int32" : "int64";
}

LuaTensor *lua_tensor_push(lua_State *L, NpyType type, int ndim, const int64_t *shape)
{
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0 || __builtin_mul_overflow(numel, shape[i], &numel))
            luaL_error(L, "tensor shape too large");
    size_t bytes = (size_t)numel * element_bytes(type);
    /* the header's size is a multiple of 8, so the data that follows it is aligned */
    LuaTensor *t = lua_newuserdatauv(L, sizeof(LuaTensor) + bytes, 0);
    t->type = type;
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof(int64_t));
    t->numel = numel;
    t->data = t + 1;
    luaL_setmetatable(L, LUA_UOE_TENSOR);
    return t;
}

static LuaTensor *check_tensor(lua_State *L, int arg)
{
    return luaL_checkudata(L, arg, LUA_UOE_TENSOR);
}

static void push_element(lua_State *L, const LuaTensor *t, int64_t i)
{
    switch (t->type) {
    case NPY_FLOAT32: lua_pushnumber(L, ((const float *)t->data)[i]); break;
    case NPY_INT32: lua_pushinteger(L, ((const int32_t *)t->data)[i]); break;
    case NPY_INT64: lua_pushinteger(L, ((const int64_t *)t->data)[i]); break;
    }
}

/* tensor:shape() -> {d1, d2, ...} */
static int tensor_shape(lua_State *L)
{
    LuaTensor *t = check_tensor(L, 1);
    lua_uoe_check_arity(L, 1);
    lua_createtable(L, t->ndim, 0);
    for (int d = 0; d < t->ndim; d++) {
        lua_pushinteger(L, t->shape[d]);
        lua_rawseti(L, -2, d + 1);
    }
    return 1;
}

/* tensor:dtype() -> "float32" | "int32" | "int64" */
static int tensor_dtype(lua_State *L)
{
    LuaTensor *t = check_tensor(L, 1);
    lua_uoe_check_arity(L, 1);
    lua_pushstring(L, type_name(t->type));
    return 1;
}

/* tensor:get(i, j, ...) -> number: one index per dimension, each from 1 */
static int tensor_get(lua_State *L)
{
    LuaTensor *t = check_tensor(L, 1);
    int given = lua_gettop(L) - 1;
    if (given != t->ndim)
        return luaL_error(L, "wrong number of indices: a %d-dimensional tensor takes %d, got %d",
                          t->ndim, t->ndim, given);
    int64_t offset = 0;
    for (int d = 0; d < t->ndim; d++) {
        lua_Integer index = luaL_checkinteger(L, d + 2);
        if (index < 1 || index > t->shape[d])
            luaL_argerror(L, d + 2, lua_pushfstring(L, "index %I out of range 1 to %I", index,
                                                    (lua_Integer)t->shape[d]));
        offset = offset * t->shape[d] + (index - 1);
    }
    push_element(L, t, offset);
    return 1;
}

/* Pushes the nested table of dimension d onward, from element *next. */
static void push_nested(lua_State *L, const LuaTensor *t, int d, int64_t *next)
{
    luaL_checkstack(L, 2, "tensor too deep");
    lua_createtable(L, (int)t->shape[d], 0);
    for (int64_t i = 0; i < t->shape[d]; i++) {
        if (d + 1 == t->ndim)
            push_element(L, t, (*next)++);
        else
            push_nested(L, t, d + 1, next);
        lua_rawseti(L, -2, i + 1);
    }
}

/* tensor:totable() -> nested tables (a number for a 0-dimensional tensor) */
static int tensor_totable(lua_State *L)
{
    LuaTensor *t = check_tensor(L, 1);
    lua_uoe_check_arity(L, 1);
    int64_t next = 0;
    if (t->ndim == 0)
        push_element(L, t, 0);
    else
        push_nested(L, t, 0, &next);
    return 1;
}

/* tensor:save_npy(path) */
static int tensor_save_npy(lua_State *L)
{
    LuaTensor *t = check_tensor(L, 1);
    const char *path = luaL_checkstring(L, 2);
    lua_uoe_check_arity(L, 2);
    if (npy_write(path, t->type, t->ndim, t->shape, t->data) < 0)
        return lua_uoe_engine_error(L);
    return 0;
}

static int tensor_len(lua_State *L)
{
    LuaTensor *t = check_tensor(L, 1);
    lua_pushinteger(L, t->ndim ? t->shape[0] : 1);
    return 1;
}

static int tensor_tostring(lua_State *L)
{
    LuaTensor *t = check_tensor(L, 1);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    lua_pushfstring(L, "uoe.Tensor %s (", type_name(t->type));
    luaL_addvalue(&b);
    for (int d = 0; d < t->ndim; d++) {
        lua_pushfstring(L, d ? ", %I" : "%I", (lua_Integer)t->shape[d]);
        luaL_addvalue(&b);
    }
    luaL_addchar(&b, ')');
    luaL_pushresult(&b);
    return 1;
}

/* The shape of nested tables, read down their first entries. */
static int nested_shape(lua_State *L, int arg, int64_t *shape)
{
    int ndim = 0;
    lua_pushvalue(L, arg);
    while (lua_type(L, -1) == LUA_TTABLE) {
        if (ndim == TENSOR_MAX_DIMS)
            luaL_argerror(L, arg, "more than 8 dimensions");
        shape[ndim] = (int64_t)lua_rawlen(L, -1);
        if (shape[ndim] == 0)
            luaL_argerror(L, arg, "an empty table has no shape");
        ndim++;
        lua_rawgeti(L, -1, 1);
        lua_remove(L, -2);
    }
    lua_pop(L, 1);
    return ndim;
}

/* Copies the table on top of the stack (dimension d) into t from *next;
 * `where` names it in errors, e.g. "values[2][3]". */
static void fill_nested(lua_State *L, LuaTensor *t, int d, int64_t *next, const char *where)
{
    if (lua_type(L, -1) != LUA_TTABLE || (int64_t)lua_rawlen(L, -1) != t->shape[d])
        luaL_error(L, "bad argument #1 to 'tensor' (%s: expected a table of %I entries, got %s)",
                   where, (lua_Integer)t->shape[d],
                   lua_type(L, -1) == LUA_TTABLE
                       ? lua_pushfstring(L, "%I", (lua_Integer)lua_rawlen(L, -1))
                       : luaL_typename(L, -1));
    luaL_checkstack(L, 3, "tensor too deep");
    for (int64_t i = 1; i <= t->shape[d]; i++) {
        lua_rawgeti(L, -1, i);
        const char *inner = lua_pushfstring(L, "%s[%I]", where, (lua_Integer)i);
        lua_insert(L, -2);
        if (d + 1 < t->ndim) {
            fill_nested(L, t, d + 1, next, inner);
        } else {
            int is_number, whole;
            lua_Number number = lua_tonumberx(L, -1, &is_number);
            lua_Integer integer = lua_tointegerx(L, -1, &whole);
            if (lua_type(L, -1) != LUA_TNUMBER ||
                (t->type == NPY_INT32 && (!whole || integer < INT32_MIN || integer > INT32_MAX)))
                luaL_error(L, "bad argument #1 to 'tensor' (%s: %s expected, got %s)", inner,
                           t->type == NPY_INT32 ? "a 32-bit integer" : "number",
                           lua_type(L, -1) == LUA_TNUMBER ? lua_pushfstring(L, "%f", number)
                                                          : luaL_typename(L, -1));
            if (t->type == NPY_INT32)
                ((int32_t *)t->data)[(*next)++] = (int32_t)integer;
            else
                ((float *)t->data)[(*next)++] = (float)number;
        }
        lua_pop(L, 2);
    }
}

/* uoe.tensor(values [, dtype]) -> tensor: values are nested tables of
 * numbers; dtype is "float32" (default) or "int32". */
static int uoe_tensor(lua_State *L)
{
    static const char *const types[] = {"float32", "int32", NULL};
    luaL_checktype(L, 1, LUA_TTABLE);
    NpyType type = luaL_checkoption(L, 2, "float32", types) == 0 ? NPY_FLOAT32 : NPY_INT32;
    lua_uoe_check_arity(L, 2);
    int64_t shape[TENSOR_MAX_DIMS];
    int ndim = nested_shape(L, 1, shape);
    LuaTensor *t = lua_tensor_push(L, type, ndim, shape);
    int64_t next = 0;
    lua_pushvalue(L, 1);
    fill_nested(L, t, 0, &next, "values");
    lua_pop(L, 1);
    return 1;
}

/* uoe.load_npy(path) -> tensor */
static int uoe_load_npy(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    lua_uoe_check_arity(L, 1);
    NpyArray array;
    if (npy_read(path, &array) < 0)
        return lua_uoe_engine_error(L);
    if (array.ndim > TENSOR_MAX_DIMS) {
        npy_free(&array);
        return luaL_error(L, "%s: %d dimensions; tensors have at most 8", path, array.ndim);
    }
    LuaTensor *t = lua_tensor_push(L, array.type, array.ndim, array.shape);
    memcpy(t->data, array.data, (size_t)t->numel * element_bytes(t->type));
    npy_free(&array);
    return 1;
}

void lua_uoe_open_tensor(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"shape", tensor_shape},     {"dtype", tensor_dtype},       {"get", tensor_get},
        {"totable", tensor_totable}, {"save_npy", tensor_save_npy}, {NULL, NULL},
    };
    static const luaL_Reg metamethods[] = {
        {"__len", tensor_len}, {"__tostring", tensor_tostring}, {NULL, NULL},
    };
    static const luaL_Reg functions[] = {
        {"tensor", uoe_tensor}, {"load_npy", uoe_load_npy}, {NULL, NULL},
    };
    luaL_newmetatable(L, LUA_UOE_TENSOR);
    luaL_setfuncs(L, metamethods, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    luaL_setfuncs(L, functions, 0);
}
