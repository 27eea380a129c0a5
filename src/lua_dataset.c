/* uoe.Corpus and uoe.Mcq: JSON Lines datasets (dataset.h) as Lua values
 * with a length and items from 1, so that `#` and ipairs work on them. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "lua_uoe.h"

LuaCorpus *lua_corpus_check(lua_State *L, int arg)
{
    return luaL_checkudata(L, arg, LUA_UOE_CORPUS);
}

LuaMcq *lua_mcq_check(lua_State *L, int arg)
{
    return luaL_checkudata(L, arg, LUA_UOE_MCQ);
}

/* uoe.load_corpus(path) -> corpus: one {"text": ...} per line */
static int uoe_load_corpus(lua_State *L)
{
    lua_uoe_check_arity(L, 1);
    const char *path = luaL_checkstring(L, 1);
    LuaCorpus *c = lua_newuserdatauv(L, sizeof *c, 0);
    memset(c, 0, sizeof *c);
    luaL_setmetatable(L, LUA_UOE_CORPUS);
    if (text_corpus_load(&c->corpus, path) < 0)
        return lua_uoe_engine_error(L);
    c->path = xstrdup(path);
    return 1;
}

/* uoe.load_mcq(path) -> mcq: one {"question", "choices", "answer"} per line */
static int uoe_load_mcq(lua_State *L)
{
    lua_uoe_check_arity(L, 1);
    const char *path = luaL_checkstring(L, 1);
    LuaMcq *m = lua_newuserdatauv(L, sizeof *m, 0);
    memset(m, 0, sizeof *m);
    luaL_setmetatable(L, LUA_UOE_MCQ);
    if (mcq_set_load(&m->set, path) < 0)
        return lua_uoe_engine_error(L);
    m->path = xstrdup(path);
    return 1;
}

/* The item index at 2 for a dataset of count items, or 0 when it is out of
 * range (the item is then nil, as past a table's end). */
static int check_item(lua_State *L, const char *type, int count)
{
    int whole;
    lua_Integer index = lua_tointegerx(L, 2, &whole);
    if (lua_type(L, 2) != LUA_TNUMBER || !whole)
        luaL_error(L, "%s is indexed by item numbers from 1 to %d, not by %s", type, count,
                   lua_type(L, 2) == LUA_TSTRING ? lua_pushfstring(L, "'%s'", lua_tostring(L, 2))
                   : lua_type(L, 2) == LUA_TNUMBER ? lua_pushfstring(L, "%f", lua_tonumber(L, 2))
                                                   : luaL_typename(L, 2));
    return index >= 1 && index <= count ? (int)index : 0;
}

static int corpus_index(lua_State *L)
{
    LuaCorpus *c = lua_corpus_check(L, 1);
    int i = check_item(L, LUA_UOE_CORPUS, c->corpus.count);
    if (i == 0)
        return 0;
    lua_pushstring(L, c->corpus.texts[i - 1]);
    return 1;
}

static int mcq_index(lua_State *L)
{
    LuaMcq *m = lua_mcq_check(L, 1);
    int i = check_item(L, LUA_UOE_MCQ, m->set.count);
    if (i == 0)
        return 0;
    const McqItem *item = &m->set.items[i - 1];
    lua_createtable(L, 0, 3);
    lua_pushstring(L, item->question);
    lua_setfield(L, -2, "question");
    lua_createtable(L, item->num_choices, 0);
    for (int k = 0; k < item->num_choices; k++) {
        lua_pushstring(L, item->choices[k]);
        lua_rawseti(L, -2, k + 1);
    }
    lua_setfield(L, -2, "choices");
    lua_pushinteger(L, item->answer + 1);
    lua_setfield(L, -2, "answer");
    return 1;
}

static int corpus_len(lua_State *L)
{
    lua_pushinteger(L, lua_corpus_check(L, 1)->corpus.count);
    return 1;
}

static int mcq_len(lua_State *L)
{
    lua_pushinteger(L, lua_mcq_check(L, 1)->set.count);
    return 1;
}

static int corpus_tostring(lua_State *L)
{
    LuaCorpus *c = lua_corpus_check(L, 1);
    lua_pushfstring(L, "uoe.Corpus %s (%d texts)", c->path ? c->path : "?", c->corpus.count);
    return 1;
}

static int mcq_tostring(lua_State *L)
{
    LuaMcq *m = lua_mcq_check(L, 1);
    lua_pushfstring(L, "uoe.Mcq %s (%d questions)", m->path ? m->path : "?", m->set.count);
    return 1;
}

static int corpus_gc(lua_State *L)
{
    LuaCorpus *c = lua_corpus_check(L, 1);
    text_corpus_free(&c->corpus);
    free(c->path);
    memset(c, 0, sizeof *c);
    return 0;
}

static int mcq_gc(lua_State *L)
{
    LuaMcq *m = lua_mcq_check(L, 1);
    mcq_set_free(&m->set);
    free(m->path);
    memset(m, 0, sizeof *m);
    return 0;
}

void lua_uoe_open_dataset(lua_State *L)
{
    static const luaL_Reg corpus_meta[] = {
        {"__index", corpus_index}, {"__len", corpus_len}, {"__tostring", corpus_tostring},
        {"__gc", corpus_gc},       {NULL, NULL},
    };
    static const luaL_Reg mcq_meta[] = {
        {"__index", mcq_index}, {"__len", mcq_len}, {"__tostring", mcq_tostring},
        {"__gc", mcq_gc},       {NULL, NULL},
    };
    luaL_newmetatable(L, LUA_UOE_CORPUS);
    luaL_setfuncs(L, corpus_meta, 0);
    lua_pop(L, 1);
    luaL_newmetatable(L, LUA_UOE_MCQ);
    luaL_setfuncs(L, mcq_meta, 0);
    lua_pop(L, 1);
    lua_pushcfunction(L, uoe_load_corpus);
    lua_setfield(L, -2, "load_corpus");
    lua_pushcfunction(L, uoe_load_mcq);
    lua_setfield(L, -2, "load_mcq");
}
