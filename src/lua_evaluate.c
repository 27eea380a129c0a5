/* uoe.evaluate: multiple-choice accuracy (mcq_eval.h) of a model. */
#include "error.h"
#include "lua_uoe.h"
#include "mcq_eval.h"

/* uoe.evaluate(model, mcq) -> {acc, acc_norm, questions} */
static int uoe_evaluate(lua_State *L)
{
    lua_uoe_check_arity(L, 2);
    LuaModel *m = lua_model_check_idle(L, 1);
    LuaMcq *mcq = lua_mcq_check(L, 2);
    McqScore score;
    if (mcq_evaluate(&m->model, m->tokenizer, &mcq->set, &score, NULL, NULL) < 0)
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
