#include "tui_input.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>

/* α moves over 0 and 0.01 .. 100, the learning rate over 1e-6 .. 1, on 1-2-5 ladders. */
#define ALPHA_LOW 0.01
#define ALPHA_HIGH 100.0
#define LEARNING_RATE_LOW 1e-6
#define LEARNING_RATE_HIGH 1.0

static const TuiKeyHelp keys[] = {
    {"space", "pause or resume (the run pauses between steps)"},
    {"s", "take one step, then pause"},
    {"arrow keys", "move the cursor; the cell line gives that cell's numbers"},
    {"Home, End", "the first or the last expert of the layer"},
    {"mouse click", "put the cursor on a cell (again: the cell's other layer)"},
    {"t", "unlearn the expert under the cursor (a new run; not in scripts)"},
    {"v", "heatmap: selection share, change since step 0, attribution"},
    {"f", "heatmap probe: forget or retain"},
    {"a, A", "router anchor weight alpha down or up (0 turns it off)"},
    {"l, L", "peak learning rate down or up"},
    {"e", "export the run's plots through gnuplot (to RUN_DIR/plots)"},
    {"?, F1", "this help; any key closes it"},
    {"q, F10", "quit (asks first while a run is going)"},
    {NULL, NULL},
};

const TuiKeyHelp *tui_input_keys(void)
{
    return keys;
}

void tui_ui_init(TuiUi *ui)
{
    memset(ui, 0, sizeof *ui);
}

static bool experiment_going(const TuiView *view)
{
    return view->phase == TUI_PREPARING || view->phase == TUI_RUNNING || view->phase == TUI_PAUSED;
}

void tui_input_settle_cursor(TuiUi *ui, const TuiView *view)
{
    if (!view->started)
        return;
    if (!ui->cursor_placed) {
        ui->cursor_layer = view->target_layer;
        ui->cursor_expert = view->target_expert;
    }
    if (ui->cursor_layer >= view->layers)
        ui->cursor_layer = view->layers - 1;
    if (ui->cursor_expert >= view->experts)
        ui->cursor_expert = view->experts - 1;
}

static void move_cursor(TuiUi *ui, const TuiView *view, int layers, int experts)
{
    if (!view->started)
        return;
    int layer = ui->cursor_layer + layers, expert = ui->cursor_expert + experts;
    ui->cursor_layer = layer < 0 ? 0 : layer >= view->layers ? view->layers - 1 : layer;
    ui->cursor_expert = expert < 0 ? 0 : expert >= view->experts ? view->experts - 1 : expert;
    ui->cursor_placed = true;
}

static void click(TuiUi *ui, const TuiView *view, const TuiClick *at)
{
    const TuiRect *r = &ui->heatmap_cells;
    int x = at->x - r->x, y = at->y - r->y, layer, expert;
    if (!view->started || x < 0 || y < 0 || x >= r->width || y >= r->height)
        return;
    /* a second click on the upper half of the cursor's cell takes the lower */
    bool again = false;
    if (tui_heatmap_cell_at(&ui->heatmap, view->layers, x, y, false, &layer, &expert))
        again = layer == ui->cursor_layer && expert == ui->cursor_expert;
    if (tui_heatmap_cell_at(&ui->heatmap, view->layers, x, y, again, &layer, &expert)) {
        ui->cursor_layer = layer;
        ui->cursor_expert = expert;
        ui->cursor_placed = true;
    }
}

/* `t`: a new target, asked about first when steps would be lost. */
static int retarget(TuiUi *ui, const TuiView *view, TuiCommand *out)
{
    int layer = ui->cursor_layer, expert = ui->cursor_expert;
    if (!view->started || !experiment_going(view))
        snprintf(ui->note, sizeof ui->note, "no run to retarget");
    else if (view->script[0]) { /* the worker says why not, in the log */
        *out = (TuiCommand){.kind = TUI_COMMAND_RETARGET, .layer = layer, .expert = expert};
        snprintf(ui->note, sizeof ui->note, "a script's runs keep their targets: see the log");
        return 1;
    } else if (!view->target_movable)
        snprintf(ui->note, sizeof ui->note, "%s trains whole tensors: it has no target to move",
                 view->label);
    else if (!view->is_moe[layer])
        snprintf(ui->note, sizeof ui->note, "layer %d is dense: it has no experts", layer);
    else if (layer == view->target_layer && expert == view->target_expert)
        snprintf(ui->note, sizeof ui->note, "L%d E%d is the target already", layer, expert);
    else if (view->have_step) {
        ui->question = TUI_ASK_RETARGET;
        ui->asked_layer = layer;
        ui->asked_expert = expert;
    } else {
        *out = (TuiCommand){.kind = TUI_COMMAND_RETARGET, .layer = layer, .expert = expert};
        snprintf(ui->note, sizeof ui->note, "target L%d E%d: the run starts on it", layer, expert);
        return 1;
    }
    return 0;
}

static int answer(TuiUi *ui, int key, TuiCommand *out)
{
    TuiQuestion question = ui->question;
    ui->question = TUI_ASK_NOTHING;
    if (key != 'y' && key != 'Y') {
        snprintf(ui->note, sizeof ui->note, "cancelled");
        return 0;
    }
    if (question == TUI_ASK_QUIT) {
        ui->quit = true;
        return 0;
    }
    *out = (TuiCommand){.kind = TUI_COMMAND_RETARGET, .layer = ui->asked_layer,
                        .expert = ui->asked_expert};
    snprintf(ui->note, sizeof ui->note, "target L%d E%d: the run starts again on it",
             ui->asked_layer, ui->asked_expert);
    return 1;
}

/* a/A, l/L: the next rung of the knob's ladder. */
static int knob(TuiUi *ui, const TuiView *view, bool alpha, int direction, TuiCommand *out)
{
    if (!view->started || !experiment_going(view)) {
        snprintf(ui->note, sizeof ui->note, "no run to change");
        return 0;
    }
    double now = alpha ? view->alpha : view->learning_rate;
    double next = alpha ? tui_ladder_step(now, direction, ALPHA_LOW, ALPHA_HIGH, true)
                        : tui_ladder_step(now, direction, LEARNING_RATE_LOW, LEARNING_RATE_HIGH, false);
    *out = (TuiCommand){.kind = alpha ? TUI_COMMAND_SET_ALPHA : TUI_COMMAND_SET_LEARNING_RATE,
                        .value = next};
    snprintf(ui->note, sizeof ui->note, "%s %g -> %g from the next step", alpha ? "alpha" : "lr",
             now, next);
    return 1;
}

int tui_input_key(TuiUi *ui, const TuiView *view, int key, const TuiClick *at, TuiCommand *out)
{
    ui->note[0] = '\0';
    if (ui->help) {
        ui->help = false;
        return 0;
    }
    if (ui->question != TUI_ASK_NOTHING)
        return answer(ui, key, out);
    bool going = experiment_going(view);
    switch (key) {
    case ' ':
        if (!going)
            break;
        ui->pause_wanted = !ui->pause_wanted;
        *out = (TuiCommand){.kind = ui->pause_wanted ? TUI_COMMAND_PAUSE : TUI_COMMAND_RESUME};
        snprintf(ui->note, sizeof ui->note, "%s",
                 ui->pause_wanted ? "pausing before the next step" : "resuming");
        return 1;
    case 's':
        if (!going)
            break;
        ui->pause_wanted = true;
        *out = (TuiCommand){.kind = TUI_COMMAND_STEP};
        return 1;
    case 'q':
    case KEY_F(10):
        if (going)
            ui->question = TUI_ASK_QUIT;
        else
            ui->quit = true;
        return 0;
    case '?':
    case KEY_F(1):
        ui->help = true;
        return 0;
    case KEY_UP: move_cursor(ui, view, -1, 0); return 0;
    case KEY_DOWN: move_cursor(ui, view, 1, 0); return 0;
    case KEY_LEFT: move_cursor(ui, view, 0, -1); return 0;
    case KEY_RIGHT: move_cursor(ui, view, 0, 1); return 0;
    case KEY_HOME: move_cursor(ui, view, 0, -ui->cursor_expert); return 0;
    case KEY_END: move_cursor(ui, view, 0, view->experts); return 0;
    case KEY_MOUSE:
        if (at)
            click(ui, view, at);
        return 0;
    case 't': return retarget(ui, view, out);
    case 'v':
        ui->kind = (TuiHeatmapKind)((ui->kind + 1) % 3);
        return 0;
    case 'f':
        ui->retain = !ui->retain;
        return 0;
    case 'a': return knob(ui, view, true, -1, out);
    case 'A': return knob(ui, view, true, 1, out);
    case 'l': return knob(ui, view, false, -1, out);
    case 'L': return knob(ui, view, false, 1, out);
    case 'e':
        *out = (TuiCommand){.kind = TUI_COMMAND_EXPORT};
        snprintf(ui->note, sizeof ui->note, "exporting plots (the log says where)");
        return 1;
    }
    if (!going && (key == ' ' || key == 's'))
        snprintf(ui->note, sizeof ui->note, "the experiment has ended: e exports, q quits");
    return 0;
}
