/* The workbench's shared state and keys, without a terminal: the sink turns
 * a run's events into the view (tui_state.h), the UI thread's copy is deep
 * and moves only with the version, the command queue drops nothing but a
 * 65th command and never QUIT, and each key does what the help says
 * (tui_input.h), on a hand-made run of 4 layers (layer 1 dense) x 4 experts. */
#include <curses.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "tui_input.h"
#include "tui_state.h"

enum { L = 4, E = 4, K = 2 };

static double gate_score[L * E];
static Model model;
static UnlearnRun run;
static double counts[L * E], prob_sum[L * E];
static ProbeRouting routing;
static LayerShift shift[L];

static void make_run(void)
{
    model.config.num_layers = L;
    model.config.num_experts = E;
    model.config.experts_per_token = K;
    for (int l = 0; l < L; l++)
        model.config.layer_is_moe[l] = l != 1;
    for (int i = 0; i < L * E; i++)
        gate_score[i] = 0.01 * i;
    run.config = unlearn_default_config();
    run.model = &model;
    run.attribution = (Attribution){.num_layers = L, .num_experts = E, .gate_score = gate_score};
    run.selection.fraction = 0.25;
    run.target_layer = 2;
    run.target_expert = 3;
    routing = (ProbeRouting){.num_layers = L, .num_experts = E, .experts_per_token = K,
                             .tokens = 10, .counts = counts, .prob_sum = prob_sum};
}

static UnlearnSnapshot snapshot_at(int step, double count)
{
    for (int i = 0; i < L * E; i++) {
        counts[i] = count;
        prob_sum[i] = 0.5;
    }
    for (int l = 0; l < L; l++)
        shift[l].token_overlap = 1.0 - 0.01 * step;
    return (UnlearnSnapshot){.step = step, .forget = &routing, .retain = &routing,
                             .forget_shift = shift, .retain_shift = shift,
                             .forget_token_overlap = 1.0 - 0.01 * step,
                             .retain_token_overlap = 1.0 - 0.005 * step, .target_layer = 2,
                             .target_expert = 3, .target_rank = 1};
}

static void test_sink(TuiShared *shared, TuiView *copy)
{
    WorkbenchSink sink = tui_shared_sink(shared);
    UnlearnConfig config = unlearn_default_config();
    WorkbenchRunInfo info = {.number = 1, .remaining = 1, .label = "ga-uoe", .dir = "out/1-ga-uoe",
                             .model_dir = "model", .config = &config};
    sink.on_run_begin(sink.ctx, &info);
    tap_ok(tui_shared_fetch(shared, copy) && copy->phase == TUI_PREPARING && !copy->started &&
               strcmp(copy->label, "ga-uoe") == 0 && copy->runs_after == 1,
           "a run's beginning: preparing, named, not started");
    tap_ok(!tui_shared_fetch(shared, copy), "nothing new: no copy");
    sink.events.on_start(sink.ctx, &run);
    UnlearnEval first = {.step = 0, .fe = 0.7, .ut = 0.8};
    sink.events.on_eval(sink.ctx, &first);
    UnlearnSnapshot at_start = snapshot_at(0, 5.0);
    sink.events.on_snapshot(sink.ctx, &at_start);
    for (int s = 1; s <= 10; s++) {
        UnlearnStep step = {.step = s, .loss = -s, .forget_term = -s, .anchor_term = 0.1 * s};
        sink.events.on_step(sink.ctx, &step);
    }
    UnlearnSnapshot later = snapshot_at(10, 7.0);
    sink.events.on_snapshot(sink.ctx, &later);
    UnlearnEval last = {.step = 10, .fe = 0.5, .ut = 0.78};
    sink.events.on_eval(sink.ctx, &last);
    sink.events.on_log(sink.ctx, "a line of the run");
    tap_ok(tui_shared_fetch(shared, copy), "events move the version");
    tap_ok(copy->started && copy->layers == L && copy->experts == E && copy->experts_per_token == K &&
               !copy->is_moe[1] && copy->is_moe[2] && copy->gate_score[5] == 0.05 &&
               copy->target_layer == 2 && copy->target_expert == 3 && copy->tunable_fraction == 0.25 &&
               copy->target_movable,
           "on_start: the model's shape, the attribution, the target and the set");
    tap_ok(copy->have_step && copy->last_step.step == 10 && copy->step_history.count == 10 &&
               ((const UnlearnStep *)ring_at(&copy->step_history, 0))->step == 1,
           "on_step: the newest step, and every step in the history");
    tap_ok(copy->have_first_eval && copy->first_eval.fe == 0.7 && copy->eval_history.count == 2 &&
               ((const UnlearnEval *)ring_newest(&copy->eval_history))->fe == 0.5,
           "on_eval: step 0 kept apart, the rest in the history");
    tap_ok(copy->have_snapshot && copy->snapshot_step == 10 && copy->forget.counts[3] == 7.0 &&
               copy->forget.start_counts[3] == 5.0 && copy->forget.tokens == 10 &&
               copy->forget.shift[2].token_overlap == 0.9 && copy->overlap_history.count == 2 &&
               ((const TuiOverlapPoint *)ring_newest(&copy->overlap_history))->retain == 0.95,
           "on_snapshot: the latest counts, step 0's kept, the shift per layer and its history");
    tap_ok(strcmp(((const TuiLogLine *)ring_newest(&copy->log))->text, "a line of the run") == 0 &&
               strstr(((const TuiLogLine *)ring_at(&copy->log, 0))->text, "== 1-ga-uoe") != NULL,
           "on_log: the run's lines after the workbench's own");
    UnlearnSnapshot again = snapshot_at(20, 9.0);
    sink.events.on_snapshot(sink.ctx, &again);
    tap_ok(copy->forget.counts[3] == 7.0, "the copy stays as it was when the view moves on");
    WorkbenchRunResult result = {.number = 1, .label = "ga-uoe", .finished = true, .steps = 10};
    sink.on_run_end(sink.ctx, &result);
    tui_shared_set_knobs(shared, 2.0f, 5e-4f);
    tui_shared_fetch(shared, copy);
    tap_ok(copy->results.count == 1 && copy->alpha == 2.0f && copy->learning_rate == 5e-4f,
           "the end of a run is kept, and alpha and the learning rate follow the worker");
}

static void test_queue(TuiShared *shared)
{
    int accepted = 0;
    for (int i = 0; i < TUI_QUEUE_SIZE + 1; i++)
        accepted += tui_shared_post(shared, (TuiCommand){.kind = TUI_COMMAND_STEP});
    tap_ok(accepted == TUI_QUEUE_SIZE && shared->queue_count == TUI_QUEUE_SIZE,
           "the queue takes %d commands and drops the next", TUI_QUEUE_SIZE);
    tap_ok(tui_shared_post(shared, (TuiCommand){.kind = TUI_COMMAND_QUIT}) && shared->quit &&
               shared->view.stopping,
           "QUIT gets through a full queue");
}

static int key(TuiUi *ui, const TuiView *view, int k, TuiCommand *out)
{
    memset(out, 0, sizeof *out);
    return tui_input_key(ui, view, k, NULL, out);
}

static void test_keys(TuiView *view)
{
    TuiUi ui;
    tui_ui_init(&ui);
    TuiCommand c;
    view->phase = TUI_RUNNING;
    view->have_step = false;
    view->alpha = 1.0f;
    view->learning_rate = 1e-3f;
    tui_input_settle_cursor(&ui, view);
    tap_ok(ui.cursor_layer == 2 && ui.cursor_expert == 3, "the cursor starts on the target");
    bool pause = key(&ui, view, ' ', &c) == 1 && c.kind == TUI_COMMAND_PAUSE && ui.pause_wanted;
    bool resume = key(&ui, view, ' ', &c) == 1 && c.kind == TUI_COMMAND_RESUME && !ui.pause_wanted;
    tap_ok(pause && resume, "space pauses, and again resumes");
    tap_ok(key(&ui, view, 's', &c) == 1 && c.kind == TUI_COMMAND_STEP && ui.pause_wanted,
           "s takes a step and leaves the run paused");
    bool up = key(&ui, view, 'A', &c) == 1 && c.kind == TUI_COMMAND_SET_ALPHA && c.value == 2.0;
    bool down = key(&ui, view, 'a', &c) == 1 && c.kind == TUI_COMMAND_SET_ALPHA && c.value == 0.5;
    tap_ok(up && down, "A and a move alpha up and down its ladder");
    bool lower = key(&ui, view, 'l', &c) == 1 && c.kind == TUI_COMMAND_SET_LEARNING_RATE &&
                 fabs(c.value - 5e-4) < 1e-12;
    bool higher = key(&ui, view, 'L', &c) == 1 && fabs(c.value - 2e-3) < 1e-12;
    tap_ok(lower && higher, "l and L move the learning rate (a float's 1e-3) to 5e-4 and 2e-3");
    key(&ui, view, KEY_LEFT, &c);
    key(&ui, view, KEY_UP, &c);
    tap_ok(ui.cursor_layer == 1 && ui.cursor_expert == 2 && ui.cursor_placed, "arrows move the cursor");
    tap_ok(key(&ui, view, 't', &c) == 0 && strstr(ui.note, "dense") != NULL,
           "t on a dense layer says it has no experts");
    key(&ui, view, KEY_UP, &c);
    tap_ok(key(&ui, view, 't', &c) == 1 && c.kind == TUI_COMMAND_RETARGET && c.layer == 0 && c.expert == 2,
           "t before any step retargets at once");
    view->have_step = true;
    bool asked = key(&ui, view, 't', &c) == 0 && ui.question == TUI_ASK_RETARGET;
    bool declined = key(&ui, view, 'n', &c) == 0 && ui.question == TUI_ASK_NOTHING;
    key(&ui, view, 't', &c);
    bool accepted = key(&ui, view, 'y', &c) == 1 && c.kind == TUI_COMMAND_RETARGET && c.layer == 0;
    tap_ok(asked && declined && accepted, "t after a step asks first: n keeps the run, y retargets");
    key(&ui, view, KEY_END, &c);
    tap_ok(ui.cursor_expert == E - 1, "End goes to the last expert");
    for (int i = 0; i < 10; i++)
        key(&ui, view, KEY_DOWN, &c);
    tap_ok(ui.cursor_layer == L - 1, "the cursor stays inside the grid");
    key(&ui, view, 'v', &c);
    bool change = ui.kind == TUI_HEATMAP_CHANGE;
    key(&ui, view, 'v', &c);
    bool attribution = ui.kind == TUI_HEATMAP_ATTRIBUTION;
    key(&ui, view, 'v', &c);
    key(&ui, view, 'f', &c);
    tap_ok(change && attribution && ui.kind == TUI_HEATMAP_SHARE && ui.retain,
           "v cycles share, change, attribution; f switches to the retain probe");
    key(&ui, view, '?', &c);
    bool help = ui.help;
    tap_ok(help && key(&ui, view, 'q', &c) == 0 && !ui.help && !ui.quit,
           "? opens the help, and any key (q too) only closes it");
    key(&ui, view, 'q', &c);
    bool quit_asked = ui.question == TUI_ASK_QUIT && !ui.quit;
    key(&ui, view, 'y', &c);
    tap_ok(quit_asked && ui.quit, "q asks while the run is going; y quits");
    tui_ui_init(&ui);
    view->phase = TUI_FINISHED;
    tap_ok(key(&ui, view, ' ', &c) == 0 && key(&ui, view, 'A', &c) == 0 &&
               key(&ui, view, 'e', &c) == 1 && c.kind == TUI_COMMAND_EXPORT,
           "after the experiment: nothing to pause or tune, but e exports");
    key(&ui, view, 'q', &c);
    tap_ok(ui.quit && ui.question == TUI_ASK_NOTHING, "q quits without asking once it has ended");
    const TuiKeyHelp *keys = tui_input_keys();
    int listed = 0;
    while (keys[listed].keys)
        listed++;
    tap_ok(listed == 13, "the help lists 13 keys");
}

int main(void)
{
    make_run();
    TuiShared shared;
    tui_shared_init(&shared);
    TuiView copy;
    tui_view_init(&copy);
    test_sink(&shared, &copy);
    test_queue(&shared);
    test_keys(&copy);
    tui_view_free(&copy);
    tui_shared_free(&shared);
    return tap_done();
}
