/* uoe-wb run: a Lua experiment script, headless (lua_host.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "lua_host.h"

static const char run_usage[] =
    "Usage: uoe-wb run SCRIPT.lua [KEY=VALUE...]\n"
    "Runs a Lua experiment script headless. The script defines `name` (a string)\n"
    "and `experiment` (a function), which is called with the keys as a table:\n"
    "values that read as numbers become numbers (or take the type of the\n"
    "script's `defaults`). Progress prints one line per evaluation.\n"
    "\n"
    "Exit status: 0 on success; 1 when the script cannot load, lacks a field or\n"
    "fails; 2 for a bad command line or key; 130 when interrupted (SIGINT, Ctrl-C),\n"
    "143 for SIGTERM: the run in progress writes its summary.json first.\n"
    "UOE_LUA_PATH (directories separated by ':') replaces where `require` looks\n"
    "for the uoe.*, policies.* and experiments.* modules. 'uoe-wb tui SCRIPT.lua'\n"
    "runs the same script in the interactive workbench. See man uoe-wb-lua.\n";

int cmd_run(int argc, char **argv)
{
    static const struct option options[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;
    optind = 1;
    /* '+': options end at the script, so its keys are never read as options */
    while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
        if (opt == 'h') {
            fputs(run_usage, stdout);
            return 0;
        }
        fputs(run_usage, stderr);
        return EXIT_USAGE;
    }
    if (optind >= argc) {
        fputs(run_usage, stderr);
        return EXIT_USAGE;
    }
    LuaHostScript script;
    int status = 0;
    if (lua_host_script_init(&script, argv[optind], argc - optind - 1, argv + optind + 1) != 0) {
        fprintf(stderr, "uoe-wb: run: %s\n", error_message());
        status = EXIT_USAGE;
    }
    if (status == 0)
        status = lua_host_run(&script, NULL);
    lua_host_script_free(&script);
    return status;
}
