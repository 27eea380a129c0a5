/* The workbench screen's pure layout (tui_layout.h) and its ring buffers
 * (ring.h): colour ramps, half-block packing, scrolling and fitting the
 * heatmaps of real models (24 x 60 Qwen1.5-MoE, 26 x 64 DeepSeek-V2-Lite,
 * 48 x 128 Qwen3-30B-A3B) into 80 x 24, 120 x 40 and 200 x 60 terminals,
 * the panes, braille lines, bars and the α and learning-rate ladders. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"
#include "tap.h"
#include "tui_layout.h"

static void test_ramps(void)
{
    TuiRamp seq256 = tui_ramp(TUI_RAMP_SEQUENTIAL, TUI_PALETTE_256);
    TuiRamp div256 = tui_ramp(TUI_RAMP_DIVERGING, TUI_PALETTE_256);
    TuiRamp seq8 = tui_ramp(TUI_RAMP_SEQUENTIAL, TUI_PALETTE_8);
    TuiRamp mono = tui_ramp(TUI_RAMP_SEQUENTIAL, TUI_PALETTE_MONO);
    TuiRamp div_mono = tui_ramp(TUI_RAMP_DIVERGING, TUI_PALETTE_MONO);
    tap_ok(seq256.levels == 10 && div256.levels == 11 && seq8.levels == 5,
           "ramps have 10 (256 colours, sequential), 11 (diverging) and 5 (8 colours) levels");
    bool in_range = true;
    for (int l = 1; l <= seq256.levels; l++)
        in_range &= seq256.colours[l] >= 16 && seq256.colours[l] < 256;
    for (int l = 1; l <= seq8.levels; l++)
        in_range &= seq8.colours[l] >= 0 && seq8.colours[l] < 8;
    tap_ok(in_range && seq256.colours[0] == -1, "ramp colours are xterm-256 or curses-8 numbers; "
           "level 0 is the background");
    tap_ok(mono.levels == 10 && strcmp(mono.glyphs + 1, " .:-=+*#%@") == 0,
           "monochrome levels are the glyphs \" .:-=+*#%%@\"");
    tap_ok(div_mono.glyphs[(div_mono.levels + 1) / 2] == ' ' &&
               div256.glyphs[(div256.levels + 1) / 2] == ' ',
           "a diverging ramp's middle level (no change) is a blank glyph");
    tap_ok(seq8.glyphs[1] == ' ' && seq8.glyphs[5] == '@',
           "a colour ramp carries glyphs spread over the glyph ramp");
    tap_ok(tui_ramp_level(0.0, 0.0, 1.0, 10) == 1 && tui_ramp_level(1.0, 0.0, 1.0, 10) == 10 &&
               tui_ramp_level(0.55, 0.0, 1.0, 10) == 6 && tui_ramp_level(5.0, 0.0, 1.0, 10) == 10 &&
               tui_ramp_level(-1.0, 0.0, 1.0, 10) == 1,
           "levels split [lo, hi] evenly, clamping outside it");
    tap_ok(tui_ramp_level(NAN, 0.0, 1.0, 10) == 0, "NaN has level 0 (no value)");
    tap_ok(tui_ramp_level(0.0, -0.2, 0.2, 11) == 6 && tui_ramp_level(-0.2, -0.2, 0.2, 11) == 1 &&
               tui_ramp_level(0.2, -0.2, 0.2, 11) == 11,
           "a diverging range puts 0 at the middle of 11 levels");
    tap_ok(tui_ramp_level(0.3, 0.3, 0.3, 10) == 1 && tui_ramp_level(0.4, 0.3, 0.3, 10) == 10,
           "an empty range still gives a level");
}

static void test_half_blocks(void)
{
    /* 5 layers x 3 experts; level = 1 + layer */
    int levels[15];
    for (int l = 0; l < 5; l++)
        for (int e = 0; e < 3; e++)
            levels[l * 3 + e] = 1 + l;
    tap_ok(tui_heatmap_rows(5, 2) == 3 && tui_heatmap_rows(5, 1) == 5 && tui_heatmap_rows(48, 2) == 24,
           "packed, 5 layers take 3 rows and 48 take 24; unpacked, one row per layer");
    int upper, lower;
    tui_heatmap_row_layers(2, 5, 2, &upper, &lower);
    bool last = upper == 4 && lower == -1;
    tui_heatmap_row_layers(1, 5, 2, &upper, &lower);
    bool middle = upper == 2 && lower == 3;
    tui_heatmap_row_layers(3, 5, 1, &upper, &lower);
    tap_ok(last && middle && upper == 3 && lower == -1,
           "row r holds layers 2r and 2r+1 packed, the last alone; layer r unpacked");
    TuiHalfBlock cells[2];
    tui_pack_half_blocks(levels, 5, 3, 1, 1, 2, cells);
    bool packed = cells[0].upper == 3 && cells[0].lower == 4 && cells[1].upper == 3;
    tui_pack_half_blocks(levels, 5, 3, 2, 0, 1, cells);
    tap_ok(packed && cells[0].upper == 5 && cells[0].lower == 0,
           "half blocks pack layers 2r (upper) and 2r+1 (lower); past the last layer is level 0");
    int n = 11, pairs = tui_half_block_pairs(n);
    char *seen = calloc((size_t)pairs + 1, 1);
    bool distinct = true;
    for (int u = 0; u <= n; u++)
        for (int l = 0; l <= n; l++) {
            int pair = tui_half_block_pair((TuiHalfBlock){u, l}, n);
            distinct &= pair >= 1 && pair <= pairs && !seen[pair];
            if (pair >= 1 && pair <= pairs)
                seen[pair] = 1;
        }
    free(seen);
    tap_ok(distinct && pairs == 144, "each (upper, lower) of 11 levels has its own pair in 1..144");
}

static void test_scrolling(void)
{
    tap_ok(tui_scroll_to_show(0, 20, 128, 5) == 0, "a cursor inside the window does not scroll it");
    tap_ok(tui_scroll_to_show(0, 20, 128, 25) == 6, "moving right past the window scrolls just enough");
    tap_ok(tui_scroll_to_show(30, 20, 128, 12) == 12, "moving left before it scrolls back to the cursor");
    tap_ok(tui_scroll_to_show(120, 20, 128, 127) == 108 && tui_scroll_to_show(0, 200, 128, 127) == 0,
           "the window never runs past the end, nor scrolls when everything fits");
}

/* Fits a model's heatmap into a screen of the given size as the workbench
 * does, and checks that it stays inside its pane, uses the widest cells that
 * fit, and reaches every layer and expert by scrolling. */
static void check_model_fits(const char *name, int layers, int experts, int rows, int cols)
{
    int packed_rows = tui_heatmap_rows(layers, 2);
    TuiLayout layout;
    tui_layout_compute(rows, cols, packed_rows + TUI_HEATMAP_CHROME_ROWS,
                       tui_heatmap_natural_width(layers, experts, 2), &layout);
    int cell_rows = layout.heatmap.height - TUI_HEATMAP_CHROME_ROWS;
    TuiHeatmapView view, end;
    tui_heatmap_fit(layout.heatmap.width, cell_rows, layers, experts, 2, 0, 0, NULL, &view);
    tui_heatmap_fit(layout.heatmap.width, cell_rows, layers, experts, 2, layers - 1, experts - 1,
                    &view, &end);
    bool inside = view.label_width + view.visible_experts * view.cell_width <= layout.heatmap.width &&
                  view.visible_rows <= cell_rows && view.visible_rows >= 1;
    bool widest = view.visible_experts < experts ? view.cell_width == 1
                                                 : (view.cell_width == TUI_MAX_CELL_WIDTH ||
                                                    view.label_width + experts * (view.cell_width + 1) >
                                                        layout.heatmap.width);
    bool reaches = end.first_expert + end.visible_experts == experts &&
                   end.first_row + end.visible_rows == packed_rows && view.first_expert == 0 &&
                   view.first_row == 0;
    tap_ok(!layout.too_small && inside && widest && reaches,
           "%s (%d x %d) in %d x %d: %d of %d experts at %d column(s), %d of %d rows, scrolls to "
           "the last cell", name, layers, experts, cols, rows, view.visible_experts, experts,
           view.cell_width, view.visible_rows, packed_rows);
}

static void test_model_shapes(void)
{
    static const struct {
        const char *name;
        int layers, experts;
    } models[] = {{"Qwen1.5-MoE", 24, 60}, {"DeepSeek-V2-Lite", 26, 64}, {"Qwen3-30B-A3B", 48, 128}};
    static const int screens[][2] = {{24, 80}, {40, 120}, {60, 200}};
    for (int m = 0; m < 3; m++)
        for (int s = 0; s < 3; s++)
            check_model_fits(models[m].name, models[m].layers, models[m].experts, screens[s][0],
                             screens[s][1]);
    TuiHeatmapView view;
    tui_heatmap_fit(200, 30, 48, 128, 2, 0, 0, NULL, &view);
    tap_ok(view.visible_experts == 128 && view.visible_rows == 24 && view.cell_width == 1,
           "48 x 128 shows whole in a 200-column pane, two layers per row");
    tui_heatmap_fit(120, 30, 4, 16, 2, 0, 0, NULL, &view);
    tap_ok(view.cell_width == TUI_MAX_CELL_WIDTH && view.visible_experts == 16,
           "a small model's cells widen to %d columns", TUI_MAX_CELL_WIDTH);
}

static void test_cell_at(void)
{
    TuiHeatmapView view;
    tui_heatmap_fit(80, 6, 48, 128, 2, 30, 100, NULL, &view);
    bool round_trip = true;
    for (int y = 0; y < view.visible_rows; y++)
        for (int c = 0; c < view.visible_experts; c++) {
            int layer, expert, lower_layer, lower_expert;
            int x = view.label_width + c * view.cell_width + view.cell_width - 1;
            round_trip &= tui_heatmap_cell_at(&view, 48, x, y, false, &layer, &expert) &&
                          tui_heatmap_cell_at(&view, 48, x, y, true, &lower_layer, &lower_expert) &&
                          expert == view.first_expert + c && lower_expert == expert &&
                          layer == 2 * (view.first_row + y) && lower_layer == layer + 1;
        }
    int layer, expert;
    tap_ok(round_trip, "every visible cell maps back to its (layer, expert), upper or lower half");
    tap_ok(!tui_heatmap_cell_at(&view, 48, 0, 0, false, &layer, &expert) &&
               !tui_heatmap_cell_at(&view, 48, view.label_width, view.visible_rows, false, &layer,
                                    &expert),
           "the labels and the rows below the cells are not cells");
    tap_ok(view.first_row <= 15 && 15 < view.first_row + view.visible_rows &&
               view.first_expert <= 100 && 100 < view.first_expert + view.visible_experts,
           "the window scrolled to show the cursor at layer 30, expert 100");
}

static bool inside(TuiRect r, int rows, int cols)
{
    return r.y >= 0 && r.x >= 0 && r.height >= 1 && r.width >= 1 && r.y + r.height <= rows &&
           r.x + r.width <= cols;
}

static bool overlap(TuiRect a, TuiRect b)
{
    return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

static void test_panes(void)
{
    static const int screens[][2] = {{24, 80}, {40, 120}, {60, 200}, {20, 60}};
    for (int s = 0; s < 4; s++) {
        int rows = screens[s][0], cols = screens[s][1];
        TuiLayout l;
        tui_layout_compute(rows, cols, 6, tui_heatmap_natural_width(4, 16, 2), &l);
        TuiRect panes[] = {l.header, l.heatmap, l.shift, l.loss, l.evals, l.log, l.keys};
        bool ok = !l.too_small;
        int area = 0;
        for (int i = 0; i < 7; i++) {
            ok &= inside(panes[i], rows, cols);
            area += panes[i].height * panes[i].width;
            for (int j = 0; j < i; j++)
                ok &= !overlap(panes[i], panes[j]);
        }
        tap_ok(ok && l.heatmap.height >= TUI_HEATMAP_CHROME_ROWS + 2 && l.shift.height >= 6 && l.log.height >= 3 &&
                   area >= rows * cols * 9 / 10,
               "%d x %d: seven panes inside the screen, none overlapping, covering it", cols, rows);
    }
    TuiLayout l;
    tui_layout_compute(40, 120, 6, tui_heatmap_natural_width(4, 16, 2), &l);
    tap_ok(l.log.x > 0 && l.log.y == l.heatmap.y, "at 120 columns the log sits beside a small heatmap");
    tui_layout_compute(24, 80, 6, tui_heatmap_natural_width(4, 16, 2), &l);
    tap_ok(l.log.x == 0 && l.log.y > l.shift.y, "at 80 columns the log goes below the charts");
    tui_layout_compute(15, 50, 6, 60, &l);
    tap_ok(l.too_small, "below %d x %d the screen is too small", TUI_MIN_COLS, TUI_MIN_ROWS);
}

static void test_braille(void)
{
    unsigned char dots[3 * 4];
    TuiBraille canvas = {3, 4, dots};
    memset(dots, 0, sizeof dots);
    double xs[] = {0, 1}, ys[] = {0, 1};
    tui_braille_line(&canvas, xs, ys, 1, 0, 1, 0, 1);
    tap_ok(dots[2 * 4 + 0] == 0x40, "the point (x0, y0) is the bottom-left dot of the bottom-left cell");
    memset(dots, 0, sizeof dots);
    tui_braille_line(&canvas, xs + 1, ys + 1, 1, 0, 1, 0, 1);
    tap_ok(dots[0 * 4 + 3] == 0x08, "the point (x1, y1) is the top-right dot of the top-right cell");
    memset(dots, 0, sizeof dots);
    double flat_x[] = {0, 1}, flat_y[] = {0.5, 0.5};
    tui_braille_line(&canvas, flat_x, flat_y, 2, 0, 1, 0, 1);
    bool every_column = true;
    for (int c = 0; c < 4; c++) {
        int lit = 0;
        for (int r = 0; r < 3; r++)
            lit += dots[r * 4 + c] != 0;
        every_column &= lit == 1;
    }
    tap_ok(every_column, "a line between two points lights every column between them");
}

static void test_resample(void)
{
    double xs[10], ys[10], out_x[10], out_y[10];
    for (int i = 0; i < 10; i++) {
        xs[i] = i + 1;
        ys[i] = i % 2 ? 1.0 : 3.0;
    }
    int m = tui_resample_mean(xs, ys, 10, 5, out_x, out_y);
    bool means = m == 5;
    for (int b = 0; b < 5; b++)
        means &= out_y[b] == 2.0 && out_x[b] == 2 * b + 1.5;
    tap_ok(means, "10 alternating points average into 5 buckets of 2");
    m = tui_resample_mean(xs, ys, 4, 5, out_x, out_y);
    tap_ok(m == 4 && out_x[3] == 4 && out_y[3] == 1.0, "fewer points than buckets are copied");
}

static void test_bars_buckets_ladders(void)
{
    tap_ok(tui_bar_eighths(1.0, 0, 1, 2, 0) == 8 && tui_bar_eighths(1.0, 0, 1, 2, 1) == 8 &&
               tui_bar_eighths(0.5, 0, 1, 2, 0) == 8 && tui_bar_eighths(0.5, 0, 1, 2, 1) == 0 &&
               tui_bar_eighths(0.25, 0, 1, 2, 0) == 4 && tui_bar_eighths(0.0, 0, 1, 2, 0) == 0,
           "bars fill rows from the bottom in eighths");
    tap_ok(tui_bar_eighths(0.95, 0.9, 1.0, 1, 0) == 4, "a bar scales to its axis [lo, hi]");
    bool monotone = tui_bucket_first(0, 20, 48) == 0 && tui_bucket_first(19, 20, 48) == 45;
    for (int c = 1; c < 20; c++)
        monotone &= tui_bucket_first(c, 20, 48) > tui_bucket_first(c - 1, 20, 48);
    tap_ok(monotone && tui_bucket_first(3, 20, 4) == 3 && tui_bucket_first(5, 20, 4) == -1,
           "48 layers share 20 columns evenly; 4 layers take one column each");
    tap_ok(tui_ladder_step(1, 1, 0.01, 100, true) == 2 && tui_ladder_step(2, 1, 0.01, 100, true) == 5 &&
               tui_ladder_step(5, 1, 0.01, 100, true) == 10 && tui_ladder_step(1, -1, 0.01, 100, true) == 0.5,
           "α steps along 1, 2, 5, 10 and back");
    tap_ok(fabs(tui_ladder_step(1e-3, -1, 1e-6, 1e-1, false) - 5e-4) < 1e-12 &&
               fabs(tui_ladder_step(1e-3, 1, 1e-6, 1e-1, false) - 2e-3) < 1e-12 &&
               fabs(tui_ladder_step(3e-4, 1, 1e-6, 1e-1, false) - 5e-4) < 1e-12,
           "the learning rate steps along the same ladder, from off-ladder values to the next rung");
    tap_ok(tui_ladder_step(0, 1, 0.01, 100, true) == 0.01 && tui_ladder_step(0.01, -1, 0.01, 100, true) == 0 &&
               tui_ladder_step(1e-6, -1, 1e-6, 1e-1, false) == 1e-6 &&
               tui_ladder_step(100, 1, 0.01, 100, true) == 100,
           "the ladders stop at their ends; α reaches 0 below its lowest rung");
    double lo, hi;
    tui_nice_range(0.913, 0.998, &lo, &hi);
    tap_ok(fabs(lo - 0.9) < 1e-9 && fabs(hi - 1.0) < 1e-9, "an axis of [0.913, 0.998] is [0.9, 1.0]");
    tui_nice_range(2.0, 2.0, &lo, &hi);
    tap_ok(lo < 2.0 && hi > 2.0, "a flat series still gets a range around it");
}

static void test_ring(void)
{
    Ring ring, copy = {0};
    ring_init(&ring, sizeof(int), 4);
    tap_ok(ring_newest(&ring) == NULL && ring_at(&ring, 0) == NULL, "an empty ring has no records");
    for (int i = 1; i <= 6; i++)
        ring_push(&ring, &i);
    tap_ok(ring.count == 4 && ring.pushed == 6 && *(const int *)ring_at(&ring, 0) == 3 &&
               *(const int *)ring_newest(&ring) == 6 && ring_at(&ring, 4) == NULL,
           "a full ring keeps the newest records, the oldest first");
    ring_copy(&copy, &ring);
    int seven = 7;
    ring_push(&ring, &seven);
    tap_ok(copy.count == 4 && *(const int *)ring_at(&copy, 0) == 3 && *(const int *)ring_newest(&copy) == 6,
           "a copy keeps its records when the original moves on");
    ring_clear(&ring);
    tap_ok(ring.count == 0 && ring_newest(&ring) == NULL, "a cleared ring is empty");
    ring_free(&ring);
    ring_free(&copy);
}

int main(void)
{
    test_ramps();
    test_half_blocks();
    test_scrolling();
    test_model_shapes();
    test_cell_at();
    test_panes();
    test_braille();
    test_resample();
    test_bars_buckets_ladders();
    test_ring();
    return tap_done();
}
