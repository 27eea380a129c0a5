/* The table that uoe.run takes, read into an unlearning run's settings. Its
 * keys mirror `uoe-wb unlearn --help`, with '_' for '-' (man uoe-wb-lua). */
#ifndef UOE_LUA_RUN_CONFIG_H
#define UOE_LUA_RUN_CONFIG_H

#include <stdbool.h>

#include "lua_uoe.h"
#include "unlearn.h"

typedef struct {
    UnlearnConfig config;      /* custom_loss and step_schedule are left for the run to connect */
    UnlearnData data;          /* the paths, owned */
    char *out;                 /* the run directory */
    bool save_model, quiet;
    TrainableTarget *targets;  /* (config.trainable.target_count) of an explicit set, owned */
    char *loss_name;           /* of a custom loss; NULL = the method's own */
    char *loss_reduction;      /* what the custom loss computes, for config.json; may be NULL */
    bool forget_loss, retain_loss; /* the custom loss has a forget, a retain function */
    bool lr_function, alpha_function; /* lr, alpha are Lua functions of the step */
} LuaRunSettings;

/* Reads the table at arg: every key is checked (unknown keys, types,
 * values), raising a Lua error that names the key. The model, the callbacks,
 * the loss functions and the lr and alpha functions are not copied: the caller takes them from the
 * table. Strings are copied into settings, which the caller zeroes first
 * and frees with lua_run_settings_free (also after an error). */
void lua_run_settings_read(lua_State *L, int arg, LuaRunSettings *settings);
void lua_run_settings_free(LuaRunSettings *settings);

#endif
