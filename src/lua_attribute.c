/* uoe.attribute: expert attribution (attribution.h) of a corpus, as a table
 * Lua can read and rank: one record per (MoE layer, expert). */
#include "attribution.h"
#include "error.h"
#include "lua_uoe.h"

/* uoe.attribute(model, corpus [, {sequences = N}]) -> {layers, experts,
 * sequences, tokens, [1..] = {layer, expert, score, selection_share,
 * prob_mean}}, the records in layer then expert order, MoE layers only;
 * sequences = 0 (the default) scores every text. */
static int uoe_attribute(lua_State *L)
{
    static const char *const option_keys[] = {"sequences", NULL};
    lua_uoe_check_arity(L, 3);
    LuaModel *m = lua_model_check_idle(L, 1);
    LuaCorpus *corpus = lua_corpus_check(L, 2);
    lua_uoe_check_options(L, 3, true, option_keys);
    lua_Integer sequences = 0;
    lua_uoe_opt_integer(L, 3, "sequences", 0, &sequences);
    Attribution a;
    if (sequences > corpus->corpus.count)
        sequences = corpus->corpus.count;
    if (attribution_compute(&m->model, m->tokenizer, &corpus->corpus, (int)sequences, &a) < 0)
        return luaL_error(L, "attribution on %s: %s", corpus->path, error_message());
    const ModelConfig *c = &m->model.config;
    lua_createtable(L, model_config_num_moe_layers(c) * c->num_experts, 4);
    lua_uoe_set_integer(L, "layers", a.num_layers);
    lua_uoe_set_integer(L, "experts", a.num_experts);
    lua_uoe_set_integer(L, "sequences", a.sequences);
    lua_uoe_set_integer(L, "tokens", a.tokens);
    int record = 1;
    for (int l = 0; l < a.num_layers; l++) {
        if (!c->layer_is_moe[l])
            continue;
        for (int e = 0; e < a.num_experts; e++) {
            size_t i = (size_t)l * a.num_experts + e;
            lua_createtable(L, 0, 5);
            lua_uoe_set_integer(L, "layer", l);
            lua_uoe_set_integer(L, "expert", e);
            lua_uoe_set_number(L, "score", a.gate_score[i]);
            lua_uoe_set_number(L, "selection_share", a.selection_share[i]);
            lua_uoe_set_number(L, "prob_mean", a.prob_mean[i]);
            lua_rawseti(L, -2, record++);
        }
    }
    attribution_free(&a);
    return 1;
}

void lua_uoe_open_attribute(lua_State *L)
{
    lua_pushcfunction(L, uoe_attribute);
    lua_setfield(L, -2, "attribute");
}
