/* The `uoe` Lua module (man uoe-wb-lua): the engine and the unlearning core
 * as Lua values. C objects are full userdata with named metatables; every
 * argument is checked, so misuse names the argument, the key and the
 * expected type. The C context (where progress goes, the interrupt flag)
 * reaches the module through the registry, never through globals.
 *
 * Numbering: identifiers (token ids, layers, experts) are the engine's,
 * from 0; positions (tensor indices, dataset items, choices) count from 1,
 * as Lua's do. */
#ifndef UOE_LUA_UOE_H
#define UOE_LUA_UOE_H

#include <signal.h>
#include <stdbool.h>

#include <lauxlib.h>
#include <lua.h>

#include "model.h"
#include "npy.h"
#include "dataset.h"
#include "tokenizer.h"
#include "unlearn.h"

/* Metatable names: luaL_checkudata reports these in type errors. */
#define LUA_UOE_MODEL "uoe.Model"
#define LUA_UOE_TENSOR "uoe.Tensor"
#define LUA_UOE_CORPUS "uoe.Corpus"
#define LUA_UOE_MCQ "uoe.Mcq"
#define LUA_UOE_RUN "uoe.Run"

/* What the host gives the module: kept in the registry under a private key. */
typedef struct {
    volatile sig_atomic_t *interrupted; /* set by SIGINT; NULL = never */
    bool progress;                      /* print a line per evaluation on stdout */
    const char *script;                 /* the running script's path, for run records */
    bool resume;                        /* each uoe.run goes on from the state its
                                         * directory saved (uoe-wb run --resume) */
} LuaUoeContext;

/* Opens the module: `require "uoe"` calls it through package.preload. */
int luaopen_uoe(lua_State *L);
/* Stores the host's context (which must outlive the state) in the registry. */
void lua_uoe_set_context(lua_State *L, const LuaUoeContext *context);
/* The context in the registry, or a quiet, uninterruptible default. */
LuaUoeContext lua_uoe_context(lua_State *L);
/* Raises "interrupted" when the host's interrupt flag is set. */
void lua_uoe_check_interrupt(lua_State *L);

/* Argument helpers: each raises a Lua error naming the argument. */
/* No more than max arguments (self included): the first extra one is named. */
void lua_uoe_check_arity(lua_State *L, int max);
/* The table at arg (absent or nil when optional) has only string keys from
 * `keys` (NULL-terminated); returns whether a table is there. */
bool lua_uoe_check_options(lua_State *L, int arg, bool optional, const char *const *keys);
/* Typed fields of the options table at arg: each returns false, leaving
 * *out, when the field is absent or nil. Integers must be whole numbers of
 * at least min. */
bool lua_uoe_opt_integer(lua_State *L, int arg, const char *key, lua_Integer min,
                         lua_Integer *out);
bool lua_uoe_opt_number(lua_State *L, int arg, const char *key, double min, double *out);
bool lua_uoe_opt_boolean(lua_State *L, int arg, const char *key, bool *out);
/* The string stays valid while the table holds it. */
bool lua_uoe_opt_string(lua_State *L, int arg, const char *key, const char **out);
/* Sets t[key] = value in the table on top of the stack. */
void lua_uoe_set_number(lua_State *L, const char *key, double value);
void lua_uoe_set_integer(lua_State *L, const char *key, lua_Integer value);
/* Raises the engine's recorded error (error.h) as a Lua error. */
int lua_uoe_engine_error(lua_State *L);
/* The message handler of every protected call: adds a traceback, as lua.c's
 * msghandler does, unless the message has one already (an error from a
 * callback, traced where it happened). */
int lua_uoe_traceback(lua_State *L);

/* The parts of the module: each registers its metatables and puts its
 * functions into the module table on top of the stack. */
void lua_uoe_open_tensor(lua_State *L);
void lua_uoe_open_model(lua_State *L);
void lua_uoe_open_dataset(lua_State *L);
void lua_uoe_open_attribute(lua_State *L);
void lua_uoe_open_json(lua_State *L);
void lua_uoe_open_evaluate(lua_State *L);
void lua_uoe_open_plot(lua_State *L);
void lua_uoe_open_run(lua_State *L);
void lua_uoe_open_train(lua_State *L);

/* Tensors: float32 or int32 (int64 when read from a .npy), C order. */
typedef struct {
    NpyType type;
    int ndim;
    int64_t shape[8];
    int64_t numel;
    void *data;             /* (numel) elements of type, inside the userdata */
} LuaTensor;

/* Pushes a new tensor of the shape, its data uninitialised. */
LuaTensor *lua_tensor_push(lua_State *L, NpyType type, int ndim, const int64_t *shape);

/* A loaded model with its tokenizer. */
typedef struct {
    Model model;
    Tokenizer *tokenizer;
    char *dir;
    bool loaded;            /* false once collected */
    bool in_step;           /* a run's loss is running inside a step: the model's
                             * activations belong to that step */
    bool in_run;            /* an unfinished run trains it */
} LuaModel;

LuaModel *lua_model_check(lua_State *L, int arg);
/* As lua_model_check, refusing a model that a step is using. */
LuaModel *lua_model_check_idle(lua_State *L, int arg);
/* Writes the model and its tokenizer.json to dir, created when missing. */
int lua_model_save(const LuaModel *model, const char *dir, DType dtype, bool fused);

typedef struct {
    TextCorpus corpus;
    char *path;
} LuaCorpus;

typedef struct {
    McqSet set;
    char *path;
} LuaMcq;

LuaCorpus *lua_corpus_check(lua_State *L, int arg);
LuaMcq *lua_mcq_check(lua_State *L, int arg);

/* Call the Lua loss function at stack index `function` on one batch of the
 * step `step` (lua_loss.c): a forget loss on the rows' NLL and the named
 * terms, a retain loss on the tokens' NLL and target hits (unlearn.h says
 * what goes in and out). Each returns 0 with out filled, or -1 with the error
 * message on top of the stack. Never raises: they run inside a step. */
int lua_loss_forget_call(lua_State *L, int function, int step, const CustomForgetInput *in,
                         CustomForgetOutput *out);
int lua_loss_retain_call(lua_State *L, int function, int step, const CustomRetainInput *in,
                         CustomRetainOutput *out);

/* Calls the schedule function at stack index `function` with the step
 * (lua_schedule.c): 0 with *value, or -1 with the error message on top of
 * the stack. Never raises. `what` names the value in messages. */
int lua_schedule_call(lua_State *L, int function, int step, const char *what, float *value);

#endif
