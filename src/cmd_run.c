/* uoe-wb run: a Lua experiment script, headless (lua_host.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "lua_host.h"

static const char run_usage[] =
    "Usage: uoe-wb run SCRIPT.lua [KEY=VALUE...] [--resume RUN_DIR]\n"
    "Runs a Lua experiment script headless. The script defines `name` (a string)\n"
    "and `experiment` (a function), which is called with the keys as a table:\n"
    "values that read as numbers become numbers (or take the type of the\n"
    "script's `defaults`). Progress prints one line per evaluation.\n"
    "\n"
    "  --resume RUN_DIR  run the script again with out=RUN_DIR (and the same keys),\n"
    "                    each of its runs going on from the state its directory\n"
    "                    saved (at its last snapshot, or where it was stopped):\n"
    "                    a killed or stopped experiment ends bit for bit as if\n"
    "                    never interrupted; finished runs end again at once\n"
    "\n"
    "Exit status: 0 on success; 1 when the script cannot load, lacks a field or\n"
    "fails; 2 for a bad command line or key; 130 when interrupted (SIGINT, Ctrl-C),\n"
    "143 for SIGTERM: the run in progress writes its summary.json and its state\n"
    "first.\n"
    "UOE_LUA_PATH (directories separated by ':') replaces where `require` looks\n"
    "for the uoe.*, policies.* and experiments.* modules. 'uoe-wb tui SCRIPT.lua'\n"
    "runs the same script in the interactive workbench. See man uoe-wb-lua.\n";

/* Takes "--resume DIR" out of the arguments after the script (the keys),
 * where the usage line puts it; returns how many arguments remain, or -1
 * when --resume has no folder. */
static int take_resume(int count, char **arguments, const char **resume_dir)
{
    int kept = 0;
    for (int i = 0; i < count; i++) {
        if (strcmp(arguments[i], "--resume") != 0) {
            arguments[kept++] = arguments[i];
            continue;
        }
        if (i + 1 == count)
            return -1;
        *resume_dir = arguments[++i];
    }
    return kept;
}

int cmd_run(int argc, char **argv)
{
    static const struct option options[] = {
        {"help", no_argument, NULL, 'h'},
        {"resume", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    const char *resume_dir = NULL;
    int opt;
    optind = 1;
    /* '+': options end at the script, so its keys are never read as options */
    while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
        if (opt == 'h') {
            fputs(run_usage, stdout);
            return 0;
        }
        if (opt == 'r') {
            resume_dir = optarg;
            continue;
        }
        fputs(run_usage, stderr);
        return EXIT_USAGE;
    }
    int keys = optind < argc ? take_resume(argc - optind - 1, argv + optind + 1, &resume_dir) : -1;
    if (keys < 0) {
        fputs(run_usage, stderr);
        return EXIT_USAGE;
    }
    LuaHostScript script;
    int status = 0;
    if (lua_host_script_init(&script, argv[optind], keys, argv + optind + 1) != 0) {
        fprintf(stderr, "uoe-wb: run: %s\n", error_message());
        status = EXIT_USAGE;
    }
    if (status == 0 && resume_dir) {
        script.resume = true;
        lua_host_script_default(&script, "out", resume_dir);
        for (int i = 0; i < script.count; i++)
            if (strcmp(script.keys[i], "out") == 0 && strcmp(script.values[i], resume_dir) != 0) {
                fprintf(stderr, "uoe-wb: run: --resume %s and out=%s name different folders\n",
                        resume_dir, script.values[i]);
                status = EXIT_USAGE;
            }
    }
    if (status == 0)
        status = lua_host_run(&script, NULL);
    lua_host_script_free(&script);
    return status;
}
