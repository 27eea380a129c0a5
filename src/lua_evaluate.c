/* uoe.evaluate: multiple-choice accuracy (mcq_eval.h) of a model. */
#include <limits.h>
#include <stdlib.h>

#include "error.h"
#include "lua_uoe.h"
#include "mcq_eval.h"

/* uoe.evaluate(model, mcq [, {questions = N, seed = S}]) -> {acc, acc_norm,
 * questions}: every question, or a seeded sample of N of them (seed 1 by
 * default), drawn as an unlearning run draws its evaluation samples. */
static int uoe_evaluate(lua_State *L)
{
    static const char *const option_keys[] = {"questions", "seed", NULL};
    lua_uoe_check_arity(L, 3);
    LuaModel *m = lua_model_check_idle(L, 1);
    LuaMcq *mcq = lua_mcq_check(L, 2);
    lua_Integer questions = 0, seed = 1;
    if (lua_uoe_check_options(L, 3, true, option_keys)) {
        lua_uoe_opt_integer(L, 3, "questions", 0, &questions);
        lua_uoe_opt_integer(L, 3, "seed", 0, &seed);
    }
    McqSet sample;
    mcq_set_sample(&mcq->set, questions > INT_MAX ? INT_MAX : (int)questions, (uint64_t)seed, &sample);
    McqScore score;
    int rc = mcq_evaluate(&m->model, m->tokenizer, &sample, &score, NULL, NULL);
    free(sample.items);
    if (rc < 0)
        return luaL_error(L, "%s: %s", mcq->path, error_message());
    lua_createtable(L, 0, 3);
    lua_pushnumber(L, score.acc);
    lua_setfield(L, -2, "acc");
    lua_pushnumber(L, score.acc_norm);
    lua_setfield(L, -2, "acc_norm");
    lua_pushinteger(L, score.questions);
    lua_setfield(L, -2, "questions");
    return 1;
}

void lua_uoe_open_evaluate(lua_State *L)
{
    lua_pushcfunction(L, uoe_evaluate);
    lua_setfield(L, -2, "evaluate");
}
