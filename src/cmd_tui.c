/* uoe-wb tui, and bare uoe-wb: the workbench on a Lua experiment script
 * (lua_host.h; bare uoe-wb: experiments/default.lua) or on an experiment
 * the options describe (workbench.h), interactive on a terminal (tui_*.h:
 * the worker thread runs it, the UI thread draws), headless when standard
 * output is not a terminal: a script as `uoe-wb run` runs it, the options'
 * experiment with progress lines. */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "lua_host.h"
#include "model_config.h"
#include "run_args.h"
#include "run_setup.h"
#include "tui_draw.h"
#include "tui_input.h"
#include "tui_screen.h"
#include "tui_state.h"
#include "tui_worker.h"
#include "workbench.h"

static const char tui_usage[] =
    "Usage: uoe-wb tui [--paused] [SCRIPT.lua] [KEY=VALUE...]\n"
    "       uoe-wb tui [MODEL_DIR] [OPTIONS]\n"
    "       uoe-wb        (no arguments: the default experiment)\n"
    "Runs an unlearning experiment in the interactive workbench: routing heatmaps,\n"
    "router shift, losses, FE and UT as they change, and keys to pause, step,\n"
    "retarget and tune the run (press ? for them; man uoe-wb lists them too).\n"
    "Each run writes a run directory. When standard output is not a terminal,\n"
    "the same experiment runs headless.\n"
    "\n"
    "The first form runs a Lua experiment script, with its keys, as 'uoe-wb run'\n"
    "does (man uoe-wb-lua): every run it starts is shown, the keys act between its\n"
    "steps (its runs cannot be retargeted), and its print and warn lines go to the\n"
    "log pane. Without SCRIPT.lua it runs experiments/default.lua, found where\n"
    "'require' looks (UOE_LUA_PATH, else the installed lua folder, else the source\n"
    "tree), on data/models/default and data/world (here, else in the source tree),\n"
    "into out=runs/tui-YYYYMMDD-HHMMSS, unless the keys say otherwise. Headless,\n"
    "the script runs as 'uoe-wb run' runs it.\n"
    "\n"
    "The second form runs the unlearning run the options describe, then its\n"
    "baseline: the same method on all parameters, without the router anchor, each\n"
    "as 'uoe-wb unlearn' would. MODEL_DIR defaults to data/models/default and\n"
    "--world to data/world (in the current directory, else in the source tree),\n"
    "--steps to 60 and --eval-questions to 200, as in the default experiment.\n"
    "Every option of 'uoe-wb unlearn' applies (see uoe-wb unlearn --help); and:\n"
    "  --out DIR        the experiment's folder (default runs/tui-YYYYMMDD-HHMMSS);\n"
    "                   run N goes to DIR/N-LABEL, e.g. DIR/1-ga-uoe\n"
    "  --no-baseline    only the run the options describe\n"
    "  --paused         start paused before step 1 (space resumes, s takes a step)\n"
    "  --resume         (with MODEL_DIR and --out) each run goes on from the state\n"
    "                   its directory saved; quitting or a signal saves it\n"
    "\n"
    "Exit status: 0 when the experiment finished or was quit; 1 on an error; 2 for\n"
    "a bad command line; 130 when interrupted (SIGINT; 143 for SIGTERM), after the\n"
    "run in progress has written its summary.\n";

enum { OPT_NO_BASELINE = RUN_SETUP_FIRST_EXTRA, OPT_PAUSED };

typedef struct {
    bool no_baseline, paused;
} TuiOptions;

static int tui_option(void *ctx, int opt, const char *arg)
{
    (void)arg;
    TuiOptions *o = ctx;
    if (opt == OPT_NO_BASELINE)
        o->no_baseline = true;
    else
        o->paused = true;
    return 0;
}

/* data/NAME here when it exists, else in the source tree. */
static const char *default_data_path(const char *name, char *out, size_t size)
{
    struct stat status;
    snprintf(out, size, "data/%s", name);
    if (stat(out, &status) != 0)
        snprintf(out, size, "%s/%s", UOE_SOURCE_DATA_DIR, name);
    return out;
}

static void default_out_dir(char *out, size_t size)
{
    time_t now = time(NULL);
    struct tm local;
    localtime_r(&now, &local);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
    struct stat status;
    snprintf(out, size, "runs/tui-%s", stamp);
    for (int n = 2; stat(out, &status) == 0; n++)
        snprintf(out, size, "runs/tui-%s-%d", stamp, n);
}

/* The defaults of the options' experiment: those of the default experiment
 * (lua/experiments/default.lua) where the two share a setting. */
static UnlearnConfig default_config(void)
{
    UnlearnConfig c = unlearn_default_config();
    c.steps = 60;
    c.eval_questions = 200;
    return c;
}

/* ---- headless ---- */

typedef struct {
    bool quiet;
} Printer;

static void print_run_begin(void *ctx, const WorkbenchRunInfo *info)
{
    if (((Printer *)ctx)->quiet)
        return;
    char set[48];
    trainable_set_name(&info->config->trainable, set, sizeof set);
    printf("== %d-%s: %s, trainable set %s, alpha %g, %d steps -> %s\n", info->number, info->label,
           unlearn_method_name(info->config->method), set, (double)info->config->anchor_alpha,
           info->config->steps, info->dir);
    fflush(stdout);
}

static void print_eval(void *ctx, const UnlearnEval *eval)
{
    if (!((Printer *)ctx)->quiet)
        run_setup_print_eval(stdout, eval);
}

static void print_log(void *ctx, const char *line)
{
    if (!((Printer *)ctx)->quiet)
        fprintf(stderr, "%s\n", line);
}

static void print_run_end(void *ctx, const WorkbenchRunResult *r)
{
    if (!((Printer *)ctx)->quiet)
        run_setup_print_done(stdout, &r->selected, r->forget_overlap, r->tunable_fraction);
    if (r->stop_reason[0])
        fprintf(stderr, "uoe-wb: %s: %s\n", r->dir, r->stop_reason);
}

static WorkbenchDecision headless_between_steps(void *ctx, WorkbenchCurrent *current)
{
    (void)ctx;
    int signal_number = run_setup_stop_signal();
    WorkbenchDecision d = {.action = signal_number ? WORKBENCH_STOP : WORKBENCH_STEP};
    if (signal_number)
        run_setup_stop_reason(d.reason, sizeof d.reason, signal_number, current->run->step,
                              current->run->config.steps);
    return d;
}

static int run_headless(const WorkbenchExperiment *x, bool quiet)
{
    run_setup_catch_stop_signals();
    Printer printer = {quiet};
    WorkbenchSink sink = {.ctx = &printer, .events = {.on_eval = print_eval, .on_log = print_log},
                          .on_run_begin = print_run_begin, .on_run_end = print_run_end};
    WorkbenchControl control = {.between_steps = headless_between_steps};
    int outcome = workbench_run(x, &sink, &control);
    if (outcome == WORKBENCH_FAILED)
        return cli_report_error();
    return outcome == WORKBENCH_STOPPED ? 128 + run_setup_stop_signal() : 0;
}

/* ---- interactive ---- */

/* What stays on the terminal after the workbench closes: each run's result. */
static void print_results(const TuiView *view)
{
    for (int i = 0; i < view->results.count; i++) {
        const WorkbenchRunResult *r = ring_at(&view->results, i);
        printf("%d-%s: FE %.4f  UT %.4f (step %d)  forget token overlap %.4f  tunable %.4f%%  -> %s\n",
               r->number, r->label, r->selected.fe, r->selected.ut, r->selected.step,
               r->forget_overlap, 100.0 * r->tunable_fraction, r->dir);
        if (r->stop_reason[0])
            printf("  %s\n", r->stop_reason);
    }
}

static int run_interactive(TuiExperiment x, bool paused)
{
    setlocale(LC_CTYPE, ""); /* the terminal's character set: UTF-8 or not */
    TuiScreen screen;
    if (tui_screen_open(&screen) < 0)
        return cli_report_error();
    TuiShared shared;
    tui_shared_init(&shared);
    TuiWorker worker;
    tui_worker_start(&worker, &shared, x, paused);
    TuiUi ui;
    tui_ui_init(&ui);
    ui.pause_wanted = paused;
    TuiView view;
    tui_view_init(&view);
    view.version = (unsigned long)-1; /* the first fetch copies */
    enum { TICK_MS = 100, NOTE_TICKS = 30 }; /* a note stays on the key bar for 3 s */
    timeout(TICK_MS);
    bool dirty = true;
    int note_age = 0;
    while (!ui.quit && !tui_screen_signal()) {
        if (tui_shared_fetch(&shared, &view))
            dirty = true;
        if (dirty)
            tui_draw_frame(&screen, &ui, &view);
        dirty = false;
        int key = getch();
        if (key == ERR) {
            if (ui.note[0] && ++note_age >= NOTE_TICKS) {
                ui.note[0] = '\0';
                dirty = true;
            }
            continue;
        }
        note_age = 0;
        dirty = true;
        TuiClick click = {0};
        MEVENT event;
        if (key == KEY_MOUSE) {
            if (getmouse(&event) != OK)
                continue;
            click = (TuiClick){event.x, event.y};
        }
        TuiCommand command;
        if (key != KEY_RESIZE && tui_input_key(&ui, &view, key, &click, &command) > 0)
            tui_shared_post(&shared, command);
    }
    snprintf(ui.note, sizeof ui.note, "stopping: the run writes its summary after this step");
    ui.question = TUI_ASK_NOTHING;
    tui_draw_frame(&screen, &ui, &view);
    int outcome = tui_worker_finish(&worker);
    tui_shared_fetch(&shared, &view);
    tui_screen_close();
    print_results(&view);
    int status = 0;
    if (outcome == WORKBENCH_FAILED) {
        fprintf(stderr, "uoe-wb: %s\n", view.failure);
        status = 1;
    } else if (tui_screen_signal()) {
        status = 128 + tui_screen_signal();
    }
    tui_view_free(&view);
    tui_shared_free(&shared);
    return status;
}

/* ---- a Lua script ---- */

static bool is_lua_script(const char *path)
{
    size_t length = strlen(path);
    return length > 4 && strcmp(path + length - 4, ".lua") == 0;
}

static bool is_key_value(const char *arg)
{
    const char *equals = strchr(arg, '=');
    return equals && run_args_is_lua_name(arg, (size_t)(equals - arg));
}

/* Whether argv[1..] has the script form [--paused] [SCRIPT.lua] [KEY=VALUE...]:
 * *first is then the index after --paused. */
static bool script_form(int argc, char **argv, int *first, bool *paused)
{
    *first = 1;
    *paused = argc > 1 && strcmp(argv[1], "--paused") == 0;
    if (*paused)
        *first = 2;
    return *first == argc || is_lua_script(argv[*first]) || is_key_value(argv[*first]);
}

/* Runs SCRIPT.lua, or the default experiment, with the KEY=VALUE pairs. */
static int tui_script(int count, char **args, bool paused)
{
    char path[PATH_MAX], model_dir[PATH_MAX], world[PATH_MAX], out_dir[PATH_MAX];
    bool named = count > 0 && is_lua_script(args[0]);
    if (!named && !lua_host_find("experiments/default.lua", path, sizeof path)) {
        fprintf(stderr, "uoe-wb: tui: experiments/default.lua is in none of the Lua folders "
                        "(UOE_LUA_PATH, %s, %s)\n", UOE_LUA_DIR, UOE_SOURCE_LUA_DIR);
        return 1;
    }
    LuaHostScript script;
    if (lua_host_script_init(&script, named ? args[0] : path, count - named, args + named) < 0) {
        fprintf(stderr, "uoe-wb: tui: %s\n", error_message());
        lua_host_script_free(&script);
        return EXIT_USAGE;
    }
    if (!named) {
        default_out_dir(out_dir, sizeof out_dir);
        lua_host_script_default(&script, "model", default_data_path("models/default", model_dir,
                                                                   sizeof model_dir));
        lua_host_script_default(&script, "world", default_data_path("world", world, sizeof world));
        lua_host_script_default(&script, "out", out_dir);
    }
    int status;
    if (!isatty(STDOUT_FILENO)) {
        status = lua_host_run(&script, NULL);
    } else if (access(script.path, R_OK) != 0) { /* said before the screen opens */
        fprintf(stderr, "uoe-wb: tui: cannot open %s: %s\n", script.path, strerror(errno));
        status = 1;
    } else {
        status = run_interactive((TuiExperiment){.script = &script}, paused);
    }
    lua_host_script_free(&script);
    return status;
}

/* ---- the command ---- */

int cmd_tui(int argc, char **argv)
{
    int first;
    bool paused;
    if (script_form(argc, argv, &first, &paused))
        return tui_script(argc - first, argv + first, paused);

    static const struct option extra_options[] = {
        {"no-baseline", no_argument, NULL, OPT_NO_BASELINE},
        {"paused", no_argument, NULL, OPT_PAUSED},
        {NULL, 0, NULL, 0},
    };
    TuiOptions options = {0};
    RunSetupExtra extra = {extra_options, tui_option, &options};
    RunSetup a = {.config = default_config()};
    int rc = run_setup_parse(argc, argv, &a, &extra);
    if (rc == RUN_SETUP_HELP) {
        fputs(tui_usage, stdout);
        return 0;
    }
    if (rc == RUN_SETUP_OK && a.positional_count > 1)
        rc = RUN_SETUP_USAGE;
    if (rc == RUN_SETUP_USAGE) {
        fputs(tui_usage, stderr);
        return EXIT_USAGE;
    }
    if (rc < 0)
        return cli_report_error();
    char model_dir[PATH_MAX], world[PATH_MAX], out_dir[PATH_MAX];
    const char *model = a.positional_count == 1 ? a.positional[0]
                                                : default_data_path("models/default", model_dir,
                                                                    sizeof model_dir);
    if (!a.world && !a.data.forget_path && !a.data.retain_path && !a.data.forget_mcq_path &&
        !a.data.utility_mcq_path)
        a.world = default_data_path("world", world, sizeof world);
    if (run_setup_resolve_data(&a) < 0) {
        fprintf(stderr, "uoe-wb: tui %s\n", error_message());
        run_setup_free(&a);
        return EXIT_USAGE;
    }
    if (!a.out_dir)
        default_out_dir(out_dir, sizeof out_dir);
    /* a missing model says so before the screen opens */
    char config_path[PATH_MAX + 16];
    snprintf(config_path, sizeof config_path, "%s/config.json", model);
    ModelConfig config;
    if (model_config_load(&config, config_path) < 0) {
        run_setup_free(&a);
        return cli_report_error();
    }

    WorkbenchRunSpec runs[2];
    int count = 1;
    runs[0].config = a.config;
    workbench_label(&runs[0].config, runs[0].label, sizeof runs[0].label);
    bool already_baseline = a.config.trainable.kind == TRAINABLE_ALL && a.config.anchor_alpha == 0;
    if (!options.no_baseline && !already_baseline) {
        runs[1].config = a.config;
        runs[1].config.trainable = (TrainableSetSpec){.kind = TRAINABLE_ALL,
                                                      .rank_by = a.config.trainable.rank_by};
        runs[1].config.anchor_alpha = 0;
        workbench_label(&runs[1].config, runs[1].label, sizeof runs[1].label);
        count = 2;
    }
    WorkbenchExperiment experiment = {
        .model_dir = model, .data = a.data, .out_dir = a.out_dir ? a.out_dir : out_dir,
        .runs = runs, .run_count = count, .save_model = a.save_model, .resume = a.resume,
    };
    int status = isatty(STDOUT_FILENO)
                     ? run_interactive((TuiExperiment){.runs = &experiment}, options.paused)
                     : run_headless(&experiment, a.quiet);
    run_setup_free(&a);
    return status;
}
