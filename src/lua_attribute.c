/* uoe.attribute: expert attribution (attribution.h) of a corpus, as a table
 * Lua can read and rank: one record per (MoE layer, expert). */
#include "attribution.h"
#include "attribution_json.h"
#include "error.h"
#include "json_util.h"
#include "lua_uoe.h"

/* {halves = {M...}}: the overlap of the top M pairs between two disjoint
 * seeded halves of the corpus, for each M (attribution_half_overlap). */
static void read_halves(lua_State *L, int arg, HalfOverlaps *halves)
{
    int max = (int)(sizeof halves->top / sizeof halves->top[0]);
    if (lua_getfield(L, arg, "halves") == LUA_TNIL) {
        lua_pop(L, 1);
        return;
    }
    size_t count = lua_istable(L, -1) ? lua_rawlen(L, -1) : 0;
    if (count < 1 || count > (size_t)max)
        luaL_argerror(L, arg, lua_pushfstring(L, "key 'halves': a list of 1 to %d sizes expected",
                                              max));
    for (size_t i = 0; i < count; i++) {
        int is_integer;
        lua_rawgeti(L, -1, (lua_Integer)i + 1);
        lua_Integer top = lua_tointegerx(L, -1, &is_integer);
        if (!is_integer || top < 1 || top > 1000000)
            luaL_argerror(L, arg, lua_pushfstring(L, "key 'halves': size %d is not a positive "
                                                  "integer", (int)i + 1));
        halves->top[halves->count++] = (int)top;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

static void push_records(lua_State *L, const Attribution *a, const ModelConfig *c)
{
    lua_createtable(L, model_config_num_moe_layers(c) * c->num_experts, 5);
    lua_uoe_set_integer(L, "layers", a->num_layers);
    lua_uoe_set_integer(L, "experts", a->num_experts);
    lua_uoe_set_integer(L, "sequences", a->sequences);
    lua_uoe_set_integer(L, "tokens", a->tokens);
    int record = 1;
    for (int l = 0; l < a->num_layers; l++) {
        if (!c->layer_is_moe[l])
            continue;
        for (int e = 0; e < a->num_experts; e++) {
            size_t i = (size_t)l * a->num_experts + e;
            lua_createtable(L, 0, 5);
            lua_uoe_set_integer(L, "layer", l);
            lua_uoe_set_integer(L, "expert", e);
            lua_uoe_set_number(L, "score", a->gate_score[i]);
            lua_uoe_set_number(L, "selection_share", a->selection_share[i]);
            lua_uoe_set_number(L, "prob_mean", a->prob_mean[i]);
            lua_rawseti(L, -2, record++);
        }
    }
}

/* uoe.attribute(model, corpus [, {sequences = N, halves = {M...}, seed = S,
 * save = PATH}]) -> {layers, experts, sequences, tokens, [half_overlap],
 * [1..] = {layer, expert, score, selection_share, prob_mean}}, the records in
 * layer then expert order, MoE layers only; sequences = 0 (the default)
 * scores every text. halves adds half_overlap = {{top = M, overlap = x}...}
 * (the split drawn from seed, 1 by default); save writes what
 * `uoe-wb attribute --json` prints, which uoe.run's attribution key reads. */
static int uoe_attribute(lua_State *L)
{
    static const char *const option_keys[] = {"sequences", "halves", "seed", "save", NULL};
    lua_uoe_check_arity(L, 3);
    LuaModel *m = lua_model_check_idle(L, 1);
    LuaCorpus *corpus = lua_corpus_check(L, 2);
    lua_Integer sequences = 0, seed = 1;
    const char *save = NULL;
    HalfOverlaps halves = {0};
    if (lua_uoe_check_options(L, 3, true, option_keys)) {
        lua_uoe_opt_integer(L, 3, "sequences", 0, &sequences);
        lua_uoe_opt_integer(L, 3, "seed", 0, &seed);
        lua_uoe_opt_string(L, 3, "save", &save);
        read_halves(L, 3, &halves);
    }
    if (sequences > corpus->corpus.count)
        sequences = corpus->corpus.count;
    const ModelConfig *c = &m->model.config;
    Attribution a;
    if (attribution_compute(&m->model, m->tokenizer, &corpus->corpus, (int)sequences, &a) < 0)
        return luaL_error(L, "attribution on %s: %s", corpus->path, error_message());
    if (halves.count > 0 &&
        attribution_half_overlap(&m->model, m->tokenizer, &corpus->corpus, (int)sequences,
                                 (uint64_t)seed, ATTRIBUTION_GATE_SCORE, halves.top, halves.count,
                                 halves.overlap) < 0) {
        attribution_free(&a);
        return luaL_error(L, "attribution halves on %s: %s", corpus->path, error_message());
    }
    if (save) {
        json_t *document = attribution_json(&a, c, corpus->path,
                                            model_config_num_moe_layers(c) * c->num_experts,
                                            ATTRIBUTION_GATE_SCORE, &halves);
        int rc = json_write_file(document, save);
        json_decref(document);
        if (rc < 0) {
            attribution_free(&a);
            return luaL_error(L, "%s", error_message());
        }
    }
    push_records(L, &a, c);
    attribution_free(&a);
    if (halves.count > 0) {
        lua_createtable(L, halves.count, 0);
        for (int i = 0; i < halves.count; i++) {
            lua_createtable(L, 0, 2);
            lua_uoe_set_integer(L, "top", halves.top[i]);
            lua_uoe_set_number(L, "overlap", halves.overlap[i]);
            lua_rawseti(L, -2, i + 1);
        }
        lua_setfield(L, -2, "half_overlap");
    }
    return 1;
}

void lua_uoe_open_attribute(lua_State *L)
{
    lua_pushcfunction(L, uoe_attribute);
    lua_setfield(L, -2, "attribute");
}
