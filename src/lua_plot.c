/* uoe.plot: the plots of run directories through gnuplot (plot_export.h),
 * the same set `uoe-wb plot` renders. */
#include <string.h>

#include "error.h"
#include "lua_uoe.h"
#include "plot_export.h"

static void collect_path(void *ctx, const char *path)
{
    lua_State *L = ctx;
    lua_pushstring(L, path);
    lua_rawseti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
}

/* uoe.plot(run_dir | {run_dir, ...}, {format=, out=, keep_script=, layer=}) -> {path, ...}
 * A list of several runs renders their comparison; format is "png", "svg",
 * "pdf" or a comma-separated list of them. */
static int uoe_plot(lua_State *L)
{
    static const char *const keys[] = {"format", "out", "keep_script", "layer", NULL};
    lua_uoe_check_arity(L, 2);
    int num_runs = 1;
    if (lua_type(L, 1) == LUA_TTABLE) {
        num_runs = (int)luaL_len(L, 1);
        luaL_argcheck(L, num_runs >= 1, 1, "an empty list of run directories");
    } else {
        luaL_checkstring(L, 1);
    }
    const char **run_dirs = lua_newuserdatauv(L, (size_t)num_runs * sizeof(char *), 0);
    int anchor = lua_gettop(L); /* keeps the array alive */
    if (lua_type(L, 1) == LUA_TTABLE) {
        for (int i = 0; i < num_runs; i++) {
            if (lua_geti(L, 1, i + 1) != LUA_TSTRING)
                return luaL_argerror(L, 1, lua_pushfstring(L, "entry %d: a run directory (string) "
                                                              "expected", i + 1));
            run_dirs[i] = lua_tostring(L, -1); /* held by the table */
            lua_pop(L, 1);
        }
    } else {
        run_dirs[0] = lua_tostring(L, 1);
    }

    PlotExport request = {.out_dir = ".", .compare = num_runs > 1, .share_layer = -1};
    lua_uoe_check_options(L, 2, true, keys);
    const char *formats = NULL;
    lua_Integer layer = -1;
    lua_uoe_opt_string(L, 2, "format", &formats);
    lua_uoe_opt_string(L, 2, "out", &request.out_dir);
    lua_uoe_opt_boolean(L, 2, "keep_script", &request.keep_script);
    if (lua_uoe_opt_integer(L, 2, "layer", 0, &layer)) {
        luaL_argcheck(L, num_runs == 1, 2, "key 'layer' applies to the plots of one run");
        request.share_layer = (int)layer;
    }
    for (const char *at = formats; at && *at;) {
        size_t length = strcspn(at, ",");
        char name[16];
        GnuplotFormat format;
        snprintf(name, sizeof name, "%.*s", (int)(length < sizeof name ? length : sizeof name - 1), at);
        if (gnuplot_format_parse(name, &format) < 0)
            return luaL_argerror(L, 2, lua_pushfstring(L, "key 'format': %s", error_message()));
        request.formats[format] = true;
        at += length + (at[length] == ',');
    }
    lua_newtable(L);
    if (plot_export(run_dirs, num_runs, &request, collect_path, L) < 0)
        return lua_uoe_engine_error(L);
    lua_remove(L, anchor);
    return 1;
}

void lua_uoe_open_plot(lua_State *L)
{
    lua_pushcfunction(L, uoe_plot);
    lua_setfield(L, -2, "plot");
}
