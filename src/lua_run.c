/* uoe.Run: one unlearning run (unlearn.h) driven from Lua, writing its run
 * directory (run_dir.h) as it goes. The script starts it, steps it, pauses
 * and stops it; Lua callbacks see each step, evaluation, routing snapshot
 * and log line, and a Lua loss may replace the method's forget term.
 *
 * Callbacks and the loss run inside the engine's step, so a Lua error there
 * never unwinds through the engine: it is caught, kept, and raised by the
 * method once the engine has returned.
 *
 * In the workbench (lua_host.h), each run also reports its begin, events
 * and end to the workbench's sink, and asks its control before every step:
 * that may wait while the workbench is paused, change α or the learning
 * rate, or stop the run and with it the script. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "lua_host.h"
#include "lua_run_config.h"
#include "lua_uoe.h"
#include "run_dir.h"
#include "run_state.h"
#include "run_setup.h"
#include "unlearn.h"

/* The run is argument 1 of each method; the observer and the loss reach
 * its Lua values through that slot of the method's frame. */
#define RUN_SELF 1
/* User values of the run userdata. */
enum {
    VALUES_SLOT = 1, /* {model, on_step, on_eval, on_snapshot, on_log, lr, alpha,
                      *  forget_loss, retain_loss} */
    ERROR_SLOT = 2,  /* a callback's traced error, waiting to be raised */
};

typedef enum { RUN_READY, RUN_RUNNING, RUN_PAUSED, RUN_FINISHED, RUN_STOPPED, RUN_FAILED } LuaRunState;
static const char *const state_names[] = {"ready", "running", "paused", "finished", "stopped", "failed"};

typedef struct {
    LuaRunSettings settings;
    LuaRunState state;
    bool begun;               /* unlearn_begin ran: run and dir hold resources until the end */
    bool in_step;             /* inside the engine: callbacks may pause or stop, not step */
    bool pause_requested, stop_requested;
    bool callback_failed;     /* its message waits in ERROR_SLOT */
    UnlearnRun run;           /* the engine's run, while it lasts */
    UnlearnRun ended;         /* after the end, what summary() and targets() read: the run's
                               * record, with its selection and attribution moved here */
    RunDir dir;
    LuaModel *model;
    lua_State *L;             /* the thread inside start() or step() */
    LuaUoeContext context;
    LuaHostWorkbench *workbench; /* NULL when headless */
    int number;               /* in the workbench: the run's number, from 1 */
} LuaRun;

static LuaRun *check_run(lua_State *L)
{
    return luaL_checkudata(L, RUN_SELF, LUA_UOE_RUN);
}

static bool printing(const LuaRun *r)
{
    return r->context.progress && !r->settings.quiet;
}

/* Calls the run's callback `name`, when it has one, with the value on top
 * of the stack and the run; pops the value. A failure waits in ERROR_SLOT,
 * and later callbacks are skipped until it is raised. */
static void call_back(LuaRun *r, const char *name)
{
    lua_State *L = r->L;
    int value = lua_gettop(L);
    lua_getiuservalue(L, RUN_SELF, VALUES_SLOT);
    lua_getfield(L, -1, name);
    if (!r->callback_failed && lua_type(L, -1) == LUA_TFUNCTION) {
        lua_pushcfunction(L, lua_uoe_traceback);
        lua_insert(L, -2);
        lua_pushvalue(L, value);
        lua_pushvalue(L, RUN_SELF);
        if (lua_pcall(L, 2, 0, value + 2) != LUA_OK) {
            lua_setiuservalue(L, RUN_SELF, ERROR_SLOT);
            r->callback_failed = true;
        }
    }
    lua_settop(L, value - 1);
}

static void push_eval(lua_State *L, const UnlearnEval *e)
{
    lua_createtable(L, 0, 7);
    lua_uoe_set_integer(L, "step", e->step);
    lua_uoe_set_number(L, "fe", e->fe);
    lua_uoe_set_number(L, "fe_norm", e->fe_norm);
    lua_uoe_set_number(L, "ut", e->ut);
    lua_uoe_set_number(L, "ut_norm", e->ut_norm);
    lua_uoe_set_number(L, "forget_nll", e->forget_nll);
    lua_uoe_set_number(L, "retain_nll", e->retain_nll);
}

/* The workbench's sink, or NULL when headless. */
static const WorkbenchSink *sink(const LuaRun *r)
{
    return r->workbench ? &r->workbench->sink : NULL;
}

/* The run's label in the workbench: its directory's name. */
static const char *label(const LuaRun *r)
{
    const char *slash = strrchr(r->settings.out, '/');
    return slash && slash[1] ? slash + 1 : r->settings.out;
}

static void observe_start(void *ctx, const UnlearnRun *run)
{
    LuaRun *r = ctx;
    run_dir_on_start(&r->dir, run);
    if (sink(r) && sink(r)->events.on_start)
        sink(r)->events.on_start(sink(r)->ctx, run);
}

static void observe_step(void *ctx, const UnlearnStep *s)
{
    LuaRun *r = ctx;
    run_dir_on_step(&r->dir, s);
    if (sink(r) && sink(r)->events.on_step)
        sink(r)->events.on_step(sink(r)->ctx, s);
    lua_createtable(r->L, 0, 9);
    lua_uoe_set_integer(r->L, "step", s->step);
    lua_uoe_set_number(r->L, "loss", s->loss);
    lua_uoe_set_number(r->L, "forget_term", s->forget_term);
    lua_uoe_set_number(r->L, "retain_term", s->retain_term);
    lua_uoe_set_number(r->L, "anchor_term", s->anchor_term);
    lua_uoe_set_number(r->L, "grad_norm", s->grad_norm);
    lua_uoe_set_number(r->L, "learning_rate", s->learning_rate);
    lua_uoe_set_number(r->L, "anchor_alpha", s->anchor_alpha);
    lua_uoe_set_number(r->L, "seconds", s->seconds);
    call_back(r, "on_step");
}

static void observe_eval(void *ctx, const UnlearnEval *e)
{
    LuaRun *r = ctx;
    run_dir_on_eval(&r->dir, e);
    if (sink(r) && sink(r)->events.on_eval)
        sink(r)->events.on_eval(sink(r)->ctx, e);
    if (printing(r))
        run_setup_print_eval(stdout, e);
    push_eval(r->L, e);
    call_back(r, "on_eval");
}

static void observe_snapshot(void *ctx, const UnlearnSnapshot *s)
{
    LuaRun *r = ctx;
    run_dir_on_snapshot(&r->dir, s);
    if (sink(r) && sink(r)->events.on_snapshot)
        sink(r)->events.on_snapshot(sink(r)->ctx, s);
    lua_createtable(r->L, 0, 9);
    lua_uoe_set_integer(r->L, "step", s->step);
    lua_uoe_set_number(r->L, "forget_token_overlap", s->forget_token_overlap);
    lua_uoe_set_number(r->L, "forget_set_overlap", s->forget_set_overlap);
    lua_uoe_set_number(r->L, "retain_token_overlap", s->retain_token_overlap);
    lua_uoe_set_number(r->L, "retain_set_overlap", s->retain_set_overlap);
    lua_uoe_set_integer(r->L, "target_layer", s->target_layer);
    lua_uoe_set_integer(r->L, "target_expert", s->target_expert);
    lua_uoe_set_integer(r->L, "target_rank", s->target_rank);
    lua_uoe_set_number(r->L, "target_prob", s->target_prob);
    call_back(r, "on_snapshot");
}

static void observe_log(void *ctx, const char *line)
{
    LuaRun *r = ctx;
    if (printing(r))
        fprintf(stderr, "%s\n", line);
    if (sink(r) && sink(r)->events.on_log)
        sink(r)->events.on_log(sink(r)->ctx, line);
    lua_pushstring(r->L, line);
    call_back(r, "on_log");
}

/* Pushes the run's Lua value `name` (a loss or schedule function), marks
 * the model busy and returns the stack top below it, or -1 when a callback
 * already failed. */
static int hook_enter(LuaRun *r, const char *name)
{
    if (r->callback_failed)
        return -1;
    int top = lua_gettop(r->L);
    lua_getiuservalue(r->L, RUN_SELF, VALUES_SLOT);
    lua_getfield(r->L, -1, name);
    r->model->in_step = true;
    return top;
}

/* Keeps a failed hook's message for the method to raise; returns rc. */
static int hook_leave(LuaRun *r, int top, int rc, const char *what)
{
    r->model->in_step = false;
    if (rc < 0) {
        lua_setiuservalue(r->L, RUN_SELF, ERROR_SLOT);
        r->callback_failed = true;
    }
    lua_settop(r->L, top);
    return rc < 0 ? error_set("the Lua %s failed", what) : 0;
}

/* The engine's hooks for a Lua loss (UnlearnCustomLoss). */
static int forget_loss(void *ctx, const CustomForgetInput *in, CustomForgetOutput *out)
{
    LuaRun *r = ctx;
    int top = hook_enter(r, "forget_loss");
    if (top < 0)
        return error_set("a callback failed");
    int rc = lua_loss_forget_call(r->L, top + 2, r->run.step + 1, in, out);
    return hook_leave(r, top, rc, "loss");
}

static int retain_loss(void *ctx, const CustomRetainInput *in, CustomRetainOutput *out)
{
    LuaRun *r = ctx;
    int top = hook_enter(r, "retain_loss");
    if (top < 0)
        return error_set("a callback failed");
    int rc = lua_loss_retain_call(r->L, top + 2, r->run.step + 1, in, out);
    return hook_leave(r, top, rc, "loss");
}

/* The engine's hooks for Lua schedules (UnlearnStepSchedule). */
static int schedule(LuaRun *r, const char *key, int step, float *value)
{
    int top = hook_enter(r, key);
    if (top < 0)
        return error_set("a callback failed");
    int rc = lua_schedule_call(r->L, top + 2, step, key, value);
    return hook_leave(r, top, rc, "schedule");
}

static int learning_rate_schedule(void *ctx, int step, float *value)
{
    return schedule(ctx, "lr", step, value);
}

static int alpha_schedule(void *ctx, int step, float *value)
{
    return schedule(ctx, "alpha", step, value);
}

/* Raises the error a callback left, if any. */
static void raise_callback_error(lua_State *L, LuaRun *r)
{
    if (!r->callback_failed)
        return;
    r->callback_failed = false;
    lua_getiuservalue(L, RUN_SELF, ERROR_SLOT);
    lua_pushnil(L);
    lua_setiuservalue(L, RUN_SELF, ERROR_SLOT);
    lua_error(L);
}

static int save_model(const LuaRun *r)
{
    size_t size = strlen(r->settings.out) + sizeof "/model";
    char *dir = xmalloc(size);
    snprintf(dir, size, "%s/model", r->settings.out);
    int rc = lua_model_save(r->model, dir, DTYPE_F32, false);
    free(dir);
    return rc;
}

/* Ends a begun run: summary.json, with the reason when it ended early; the
 * selected weights when asked for and `save` allows (the model must still
 * be there); the directory closed; the engine's resources freed, keeping
 * the record for summary(). Returns -1 with an error set when a file could
 * not be written. Calls no Lua. */
static int end_run(LuaRun *r, LuaRunState state, const char *reason, bool save)
{
    if (reason && !r->run.stop_reason[0])
        snprintf(r->run.stop_reason, sizeof r->run.stop_reason, "%s", reason);
    int rc = run_dir_write_summary(&r->dir, &r->run);
    if (rc == 0 && save && r->settings.save_model)
        rc = save_model(r);
    if (run_dir_close(&r->dir) < 0)
        rc = -1;
    if (sink(r) && sink(r)->on_run_end) {
        WorkbenchRunResult result;
        workbench_result(&result, &r->run, r->number, label(r), r->settings.out,
                         state == RUN_FINISHED);
        sink(r)->on_run_end(sink(r)->ctx, &result);
    }
    r->ended = r->run;
    r->ended.state = NULL;
    r->run.selection = (TrainableSelection){0};
    r->run.attribution = (Attribution){0};
    unlearn_end(&r->run);
    r->model->in_run = false;
    r->begun = false;
    r->state = state;
    return rc;
}

static json_t *experiment_json(const LuaRun *r)
{
    const UnlearnData *d = &r->settings.data;
    json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?, s:s?}", "model", r->model->dir,
                          "forget", d->forget_path, "retain", d->retain_path, "forget_mcq",
                          d->forget_mcq_path, "utility_mcq", d->utility_mcq_path, "attribution",
                          d->attribution_path, "script", r->context.script);
    if (r->settings.loss_name)
        json_object_set_new(e, "custom_loss", json_pack("{s:s, s:s?}", "name", r->settings.loss_name,
                                                        "reduction", r->settings.loss_reduction));
    return e;
}

static void tell_begin(LuaRun *r, const UnlearnConfig *config)
{
    r->number = ++r->workbench->runs_begun;
    WorkbenchRunInfo info = {.number = r->number, .label = label(r), .dir = r->settings.out,
                             .model_dir = r->model->dir, .config = config};
    if (sink(r)->on_run_begin)
        sink(r)->on_run_begin(sink(r)->ctx, &info);
}

/* Opens the run directory, with the folders above it, and begins the run:
 * attribution, the trainable set, the evaluation and snapshot of step 0. */
static void begin(lua_State *L, LuaRun *r)
{
    if (r->model->in_run)
        luaL_error(L, "the model is being unlearned by another run; stop that run first");
    int rc = workbench_make_directories(r->settings.out);
    if (rc == 0) {
        UnlearnConfig config = r->settings.config;
        const LuaRunSettings *set = &r->settings;
        config.custom_loss = (UnlearnCustomLoss){.ctx = r,
                                                 .forget = set->forget_loss ? forget_loss : NULL,
                                                 .retain = set->retain_loss ? retain_loss : NULL};
        config.step_schedule = (UnlearnStepSchedule){
            .ctx = r, .learning_rate = set->lr_function ? learning_rate_schedule : NULL,
            .anchor_alpha = set->alpha_function ? alpha_schedule : NULL};
        UnlearnObserver observer = {.ctx = r, .on_start = observe_start, .on_step = observe_step,
                                    .on_eval = observe_eval, .on_snapshot = observe_snapshot,
                                    .on_log = observe_log};
        if (sink(r))
            tell_begin(r, &config);
        r->state = RUN_RUNNING;
        r->in_step = true;
        json_t *experiment = experiment_json(r);
        rc = run_state_begin(&r->dir, r->settings.out, experiment, r->context.resume, &r->run,
                             &r->model->model, r->model->tokenizer, &r->settings.data, &config,
                             &observer);
        json_decref(experiment);
        r->in_step = false;
    }
    if (rc < 0) {
        lua_pushstring(L, error_message());
        unlearn_end(&r->run);
        if (r->dir.path)
            run_dir_close(&r->dir);
        r->state = RUN_FAILED;
        raise_callback_error(L, r);
        lua_error(L);
    }
    r->begun = true;
    r->model->in_run = true;
    r->state = RUN_PAUSED;
}

/* Ends the run after its last step, for the reason given, its state saved
 * for a resume first. */
static void stop_for(lua_State *L, LuaRun *r, const char *reason)
{
    r->L = L;
    if (run_state_save(&r->run, r->settings.out) < 0)
        lua_uoe_engine_error(L);
    r->in_step = true;
    unlearn_finish(&r->run);
    r->in_step = false;
    if (end_run(r, RUN_STOPPED, reason, true) < 0)
        lua_uoe_engine_error(L);
}

static void stop_now(lua_State *L, LuaRun *r)
{
    char reason[128];
    snprintf(reason, sizeof reason, "stopped by the script after step %d of %d", r->run.step,
             r->run.config.steps);
    stop_for(L, r, reason);
}

/* In the workbench, before a step: its commands (it may wait here while
 * paused). Its stop ends the run, and the script with an error. Callbacks
 * may run meanwhile (a changed α is logged): they may not step the run. */
static void ask_workbench(lua_State *L, LuaRun *r)
{
    const WorkbenchControl *control = &r->workbench->control;
    WorkbenchCurrent current = {&r->run, &r->dir, r->settings.out};
    r->in_step = true;
    WorkbenchDecision decision = control->between_steps(control->ctx, &current);
    r->in_step = false;
    if (decision.action == WORKBENCH_STEP)
        return;
    stop_for(L, r, decision.reason);
    luaL_error(L, "%s", decision.reason);
}

/* One step, with the evaluation and snapshot due after it; the run ends
 * after its last step, on a non-finite value, or when a callback stopped
 * it. Raises a callback's error, or the engine's. */
static void one_step(lua_State *L, LuaRun *r)
{
    if (r->workbench)
        ask_workbench(L, r);
    r->state = RUN_RUNNING;
    r->in_step = true;
    int rc = unlearn_step(&r->run);
    r->in_step = false;
    r->state = RUN_PAUSED;
    int end_rc = 0;
    if (rc < 0 && r->run.stop_reason[0]) { /* the non-finite guard */
        observe_log(r, r->run.stop_reason);
        if (!r->run.have_selected)
            r->run.selected_eval = r->run.last_eval;
        end_rc = end_run(r, RUN_STOPPED, NULL, true);
    } else if (rc < 0) {
        char reason[600];
        snprintf(reason, sizeof reason, "failed at step %d: %s", r->run.step + 1, error_message());
        lua_pushstring(L, error_message());
        end_run(r, RUN_FAILED, reason, false);
        raise_callback_error(L, r);
        lua_error(L);
    } else if (rc == 0) {
        r->in_step = true;
        unlearn_finish(&r->run);
        r->in_step = false;
        if (printing(r))
            run_setup_print_done(stdout, &r->run.selected_eval, r->run.last_forget_overlap,
                                 r->run.selection.fraction);
        end_rc = end_run(r, RUN_FINISHED, NULL, true);
    } else if (r->stop_requested) {
        stop_now(L, r);
    }
    if (end_rc < 0)
        lua_uoe_engine_error(L);
    raise_callback_error(L, r);
}

/* Checks that the run may take steps: not ended, and not from its own callbacks. */
static LuaRun *check_steppable(lua_State *L)
{
    LuaRun *r = check_run(L);
    lua_uoe_check_arity(L, 1);
    if (r->in_step)
        luaL_error(L, "the run is inside a step: its callbacks may pause or stop it, not step it");
    if (r->state >= RUN_FINISHED)
        luaL_error(L, "the run has %s; it takes no more steps", state_names[r->state]);
    if (!lua_checkstack(L, 16))
        luaL_error(L, "out of Lua stack");
    r->L = L;
    return r;
}

/* Begins the run if needed, unless the script is being interrupted; false
 * when a callback stopped it at step 0. */
static bool ensure_begun(lua_State *L, LuaRun *r)
{
    if (r->state == RUN_READY) {
        lua_uoe_check_interrupt(L);
        begin(L, r);
        if (r->stop_requested)
            stop_now(L, r);
        raise_callback_error(L, r);
    }
    return r->state == RUN_PAUSED;
}

/* run:step() -> true while steps remain */
static int run_step(lua_State *L)
{
    LuaRun *r = check_steppable(L);
    if (ensure_begun(L, r)) {
        lua_uoe_check_interrupt(L);
        one_step(L, r);
    }
    lua_pushboolean(L, r->state == RUN_PAUSED);
    return 1;
}

/* run:start() -> state: steps until the end, or until a callback pauses or
 * stops the run; returns "paused", "finished" or "stopped". */
static int run_start(lua_State *L)
{
    LuaRun *r = check_steppable(L);
    r->pause_requested = false;
    ensure_begun(L, r);
    while (r->state == RUN_PAUSED && !r->pause_requested) {
        lua_uoe_check_interrupt(L);
        one_step(L, r);
    }
    r->pause_requested = false;
    lua_pushstring(L, state_names[r->state]);
    return 1;
}

/* run:pause(): start() returns after the current step. */
static int run_pause(lua_State *L)
{
    LuaRun *r = check_run(L);
    lua_uoe_check_arity(L, 1);
    if (r->in_step)
        r->pause_requested = true;
    return 0;
}

/* run:stop(): ends the run now (after the current step, from a callback),
 * applying the selection rule and writing summary.json. */
static int run_stop(lua_State *L)
{
    LuaRun *r = check_run(L);
    lua_uoe_check_arity(L, 1);
    if (r->in_step)
        r->stop_requested = true;
    else if (r->state == RUN_READY)
        r->state = RUN_STOPPED;
    else if (r->state == RUN_PAUSED)
        stop_now(L, r);
    return 0;
}

/* run:state() -> "ready" | "running" | "paused" | "finished" | "stopped" | "failed" */
static int run_state(lua_State *L)
{
    LuaRun *r = check_run(L);
    lua_uoe_check_arity(L, 1);
    lua_pushstring(L, state_names[r->state]);
    return 1;
}

/* The engine's record: live while the run lasts, kept after its end. */
static const UnlearnRun *record(const LuaRun *r)
{
    return r->begun ? &r->run : &r->ended;
}

static bool has_record(const LuaRun *r)
{
    return r->begun || r->ended.model != NULL;
}

/* run:summary() -> {state, out, steps, step, fe, ut, selected_step, first,
 * last, target_layer, target_expert, tunable_fraction, stopped} */
static int run_summary(lua_State *L)
{
    LuaRun *r = check_run(L);
    lua_uoe_check_arity(L, 1);
    const UnlearnRun *run = record(r);
    lua_createtable(L, 0, 14);
    lua_pushstring(L, state_names[r->state]);
    lua_setfield(L, -2, "state");
    lua_pushstring(L, r->settings.out);
    lua_setfield(L, -2, "out");
    lua_uoe_set_integer(L, "steps", r->settings.config.steps);
    lua_uoe_set_integer(L, "step", run->step);
    if (!has_record(r))
        return 1;
    lua_uoe_set_number(L, "fe", run->selected_eval.fe);
    lua_uoe_set_number(L, "ut", run->selected_eval.ut);
    lua_uoe_set_integer(L, "selected_step", run->selected_eval.step);
    push_eval(L, &run->first_eval);
    lua_setfield(L, -2, "first");
    push_eval(L, &run->last_eval);
    lua_setfield(L, -2, "last");
    lua_uoe_set_integer(L, "target_layer", run->target_layer);
    lua_uoe_set_integer(L, "target_expert", run->target_expert);
    lua_uoe_set_number(L, "tunable_fraction", run->selection.fraction);
    lua_uoe_set_number(L, "mean_forget_token_overlap", run->last_forget_overlap);
    if (run->stop_reason[0]) {
        lua_pushstring(L, run->stop_reason);
        lua_setfield(L, -2, "stopped");
    }
    return 1;
}

/* run:targets() -> {{layer, expert}, ...}: the experts the trainable set
 * chose (empty for whole-tensor sets), known once the run has begun. */
static int run_targets(lua_State *L)
{
    LuaRun *r = check_run(L);
    lua_uoe_check_arity(L, 1);
    if (!has_record(r))
        return luaL_error(L, "the run has not begun: its targets are chosen when it starts");
    const TrainableSelection *s = &record(r)->selection;
    lua_createtable(L, s->count, 0);
    for (int i = 0; i < s->count; i++) {
        lua_createtable(L, 0, 2);
        lua_uoe_set_integer(L, "layer", s->layers[i]);
        lua_uoe_set_integer(L, "expert", s->experts[i]);
        lua_rawseti(L, -2, i + 1);
    }
    return 1;
}

static int run_tostring(lua_State *L)
{
    LuaRun *r = check_run(L);
    lua_pushfstring(L, "uoe.Run %s (%s, step %d of %d)", r->settings.out ? r->settings.out : "?",
                    state_names[r->state], record(r)->step, r->settings.config.steps);
    return 1;
}

/* A run the script dropped (or left behind on an error or an interrupt)
 * keeps what it finished: summary.json says where it stopped. */
static int run_gc(lua_State *L)
{
    LuaRun *r = check_run(L);
    if (r->begun) {
        int signal_number = r->context.interrupted ? *r->context.interrupted : 0;
        const char *why = !signal_number ? "the script ended without finishing the run"
                          : r->workbench ? "stopped from the workbench"
                          : signal_number == SIGTERM ? "interrupted (SIGTERM)"
                                                     : "interrupted (SIGINT)";
        char reason[160];
        snprintf(reason, sizeof reason, "%s after step %d of %d", why, r->run.step,
                 r->run.config.steps);
        if (printing(r))
            fprintf(stderr, "%s: %s; the run directory keeps what was finished\n", r->settings.out,
                    reason);
        if (run_state_save(&r->run, r->settings.out) < 0 || end_run(r, RUN_STOPPED, reason, false) < 0) {
            if (sink(r))
                workbench_log_lines(sink(r), error_message());
            else
                fprintf(stderr, "uoe-wb: %s\n", error_message());
        }
    }
    lua_run_settings_free(&r->settings);
    trainable_selection_free(&r->ended.selection);
    attribution_free(&r->ended.attribution);
    return 0;
}

/* uoe.run{model = ..., out = ..., world = ..., ...} -> run (ready) */
static int uoe_run(lua_State *L)
{
    static const char *const lua_values[] = {"model", "on_step", "on_eval", "on_snapshot",
                                             "on_log", "lr", "alpha"};
    lua_uoe_check_arity(L, 1);
    luaL_checktype(L, 1, LUA_TTABLE);
    LuaRun *r = lua_newuserdatauv(L, sizeof *r, 2);
    memset(r, 0, sizeof *r);
    r->dir.metrics_fd = -1;
    luaL_setmetatable(L, LUA_UOE_RUN);
    lua_run_settings_read(L, 1, &r->settings);
    r->context = lua_uoe_context(L);
    r->workbench = lua_host_workbench(L);
    lua_createtable(L, 0, 9);
    for (int i = 0; i < 7; i++) {
        lua_getfield(L, 1, lua_values[i]);
        lua_setfield(L, -2, lua_values[i]);
    }
    if (lua_getfield(L, 1, "loss") == LUA_TTABLE) {
        lua_getfield(L, -1, "retain");
        lua_setfield(L, -3, "retain_loss");
        lua_getfield(L, -1, "forget");
        lua_remove(L, -2);
    }
    lua_setfield(L, -2, "forget_loss");
    lua_getfield(L, -1, "model");
    r->model = lua_touserdata(L, -1);
    lua_pop(L, 1);
    lua_setiuservalue(L, -2, VALUES_SLOT);
    return 1;
}

void lua_uoe_open_run(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"start", run_start},     {"step", run_step},       {"pause", run_pause},
        {"stop", run_stop},       {"state", run_state},     {"summary", run_summary},
        {"targets", run_targets}, {NULL, NULL},
    };
    static const luaL_Reg metamethods[] = {
        {"__gc", run_gc}, {"__tostring", run_tostring}, {NULL, NULL},
    };
    luaL_newmetatable(L, LUA_UOE_RUN);
    luaL_setfuncs(L, metamethods, 0);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
    lua_pushcfunction(L, uoe_run);
    lua_setfield(L, -2, "run");
}
