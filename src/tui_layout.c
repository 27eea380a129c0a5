#include "tui_layout.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- colour ramps ---- */

/* xterm-256 numbers: dark blue through teal and green to yellow; and cyan
 * (fewer selections) through dark grey (no change) to red (more). */
static const short sequential_256[] = {17, 19, 25, 31, 37, 43, 78, 114, 184, 226};
static const short diverging_256[] = {51, 45, 39, 33, 24, 237, 52, 88, 124, 160, 196};
/* curses' eight: COLOR_BLUE 4, CYAN 6, GREEN 2, YELLOW 3, RED 1, WHITE 7 */
static const short sequential_8[] = {4, 6, 2, 3, 1};
static const short diverging_8[] = {4, 6, 7, 3, 1};
static const char sequential_glyphs[] = " .:-=+*#%@";
static const char diverging_glyphs[] = "=-~, .+*#";

TuiRamp tui_ramp(TuiRampKind kind, TuiPalette palette)
{
    TuiRamp ramp;
    memset(&ramp, 0, sizeof ramp);
    bool diverging = kind == TUI_RAMP_DIVERGING;
    const short *colours = NULL;
    int levels;
    if (palette == TUI_PALETTE_256) {
        colours = diverging ? diverging_256 : sequential_256;
        levels = diverging ? (int)sizeof diverging_256 / (int)sizeof(short)
                           : (int)sizeof sequential_256 / (int)sizeof(short);
    } else if (palette == TUI_PALETTE_8) {
        colours = diverging ? diverging_8 : sequential_8;
        levels = diverging ? (int)sizeof diverging_8 / (int)sizeof(short)
                           : (int)sizeof sequential_8 / (int)sizeof(short);
    } else {
        levels = (int)strlen(diverging ? diverging_glyphs : sequential_glyphs);
    }
    ramp.levels = levels;
    ramp.colours[0] = -1;
    ramp.glyphs[0] = ' ';
    const char *glyphs = diverging ? diverging_glyphs : sequential_glyphs;
    int glyph_count = (int)strlen(glyphs);
    for (int level = 1; level <= levels; level++) {
        ramp.colours[level] = colours ? colours[level - 1] : -1;
        /* the glyph of the same position on the glyph ramp */
        int g = levels > 1 ? (int)lround((double)(level - 1) * (glyph_count - 1) / (levels - 1)) : 0;
        ramp.glyphs[level] = glyphs[g];
    }
    return ramp;
}

int tui_ramp_level(double value, double lo, double hi, int levels)
{
    if (isnan(value))
        return 0;
    if (!(hi > lo) || value <= lo)
        return value > lo ? levels : 1;
    if (value >= hi)
        return levels;
    int level = 1 + (int)((value - lo) / (hi - lo) * levels);
    return level > levels ? levels : level;
}

/* ---- the heatmap ---- */

int tui_heatmap_rows(int layers, int layers_per_row)
{
    return (layers + layers_per_row - 1) / layers_per_row;
}

void tui_heatmap_row_layers(int row, int layers, int layers_per_row, int *upper, int *lower)
{
    *upper = row * layers_per_row;
    *lower = layers_per_row == 2 && *upper + 1 < layers ? *upper + 1 : -1;
}

void tui_pack_half_blocks(const int *levels, int layers, int experts, int row, int first,
                          int count, TuiHalfBlock *out)
{
    int upper, lower;
    tui_heatmap_row_layers(row, layers, 2, &upper, &lower);
    for (int i = 0; i < count; i++) {
        int e = first + i;
        out[i].upper = levels[(size_t)upper * experts + e];
        out[i].lower = lower >= 0 ? levels[(size_t)lower * experts + e] : 0;
    }
}

int tui_half_block_pair(TuiHalfBlock cell, int levels)
{
    return 1 + cell.upper * (levels + 1) + cell.lower;
}

int tui_half_block_pairs(int levels)
{
    return (levels + 1) * (levels + 1);
}

int tui_scroll_to_show(int first, int visible, int total, int cursor)
{
    if (visible <= 0)
        return 0;
    if (cursor < first)
        first = cursor;
    if (cursor >= first + visible)
        first = cursor - visible + 1;
    int last_first = total > visible ? total - visible : 0;
    if (first > last_first)
        first = last_first;
    return first < 0 ? 0 : first;
}

static int digits(int value)
{
    int count = 1;
    while (value >= 10) {
        value /= 10;
        count++;
    }
    return count;
}

int tui_heatmap_label_width(int layers, int layers_per_row)
{
    int d = digits(layers > 0 ? layers - 1 : 0);
    int text = layers_per_row == 2 ? 1 + d + 1 + d : 1 + d; /* "L46/47" or "L47" */
    return text + 2; /* a marker column and a space */
}

int tui_heatmap_natural_width(int layers, int experts, int layers_per_row)
{
    return tui_heatmap_label_width(layers, layers_per_row) + experts * TUI_MAX_CELL_WIDTH;
}

void tui_heatmap_fit(int width, int rows, int layers, int experts, int layers_per_row,
                     int cursor_layer, int cursor_expert, const TuiHeatmapView *previous,
                     TuiHeatmapView *out)
{
    memset(out, 0, sizeof *out);
    out->layers_per_row = layers_per_row;
    out->label_width = tui_heatmap_label_width(layers, layers_per_row);
    int room = width - out->label_width;
    if (room < 1)
        room = 1;
    int cell = experts > 0 ? room / experts : 1;
    out->cell_width = cell < 1 ? 1 : cell > TUI_MAX_CELL_WIDTH ? TUI_MAX_CELL_WIDTH : cell;
    out->visible_experts = room / out->cell_width < experts ? room / out->cell_width : experts;
    out->total_rows = tui_heatmap_rows(layers, layers_per_row);
    out->visible_rows = rows < out->total_rows ? (rows > 0 ? rows : 0) : out->total_rows;
    out->first_expert = tui_scroll_to_show(previous ? previous->first_expert : 0,
                                           out->visible_experts, experts, cursor_expert);
    out->first_row = tui_scroll_to_show(previous ? previous->first_row : 0, out->visible_rows,
                                        out->total_rows, cursor_layer / layers_per_row);
}

bool tui_heatmap_cell_at(const TuiHeatmapView *view, int layers, int x, int y, bool prefer_lower,
                         int *layer, int *expert)
{
    if (x < view->label_width || y < 0 || y >= view->visible_rows)
        return false;
    int column = (x - view->label_width) / view->cell_width;
    if (column >= view->visible_experts)
        return false;
    int upper, lower;
    tui_heatmap_row_layers(view->first_row + y, layers, view->layers_per_row, &upper, &lower);
    if (upper >= layers)
        return false;
    *expert = view->first_expert + column;
    *layer = prefer_lower && lower >= 0 ? lower : upper;
    return true;
}

/* ---- panes ---- */

static int clamp(int value, int low, int high)
{
    return value < low ? low : value > high ? high : value;
}

void tui_layout_compute(int rows, int cols, int heatmap_rows_wanted, int heatmap_cols_wanted,
                        TuiLayout *out)
{
    memset(out, 0, sizeof *out);
    if (rows < TUI_MIN_ROWS || cols < TUI_MIN_COLS) {
        out->too_small = true;
        return;
    }
    enum { HEADER = 3, MIN_HEATMAP = TUI_HEATMAP_CHROME_ROWS + 2, MIN_CHARTS = 6, MIN_LOG = 3 };
    out->header = (TuiRect){0, 0, HEADER, cols};
    out->keys = (TuiRect){rows - 1, 0, 1, cols};
    int body = rows - HEADER - 1;
    bool side_log = cols - heatmap_cols_wanted - 1 >= TUI_MIN_SIDE_LOG;
    int most = body - MIN_CHARTS - (side_log ? 0 : MIN_LOG);
    /* the heatmap takes up to ~55% of the body, so that charts stay readable */
    int share = body * 55 / 100;
    int heatmap = clamp(heatmap_rows_wanted, MIN_HEATMAP, share > MIN_HEATMAP ? share : MIN_HEATMAP);
    heatmap = clamp(heatmap, MIN_HEATMAP, most);
    int rest = body - heatmap;
    int charts = side_log ? rest : clamp(body * 40 / 100, MIN_CHARTS, rest - MIN_LOG);
    int heatmap_width = side_log ? heatmap_cols_wanted : cols;
    out->heatmap = (TuiRect){HEADER, 0, heatmap, heatmap_width};
    int charts_y = HEADER + heatmap;
    if (side_log)
        out->log = (TuiRect){HEADER, heatmap_width + 1, heatmap, cols - heatmap_width - 1};
    else
        out->log = (TuiRect){charts_y + charts, 0, rest - charts, cols};
    /* shift 40%, losses 30%, FE and UT the rest, with a separator column between */
    int shift_width = cols * 40 / 100, loss_width = cols * 30 / 100;
    out->shift = (TuiRect){charts_y, 0, charts, shift_width};
    out->loss = (TuiRect){charts_y, shift_width + 1, charts, loss_width};
    out->evals = (TuiRect){charts_y, shift_width + loss_width + 2, charts,
                           cols - shift_width - loss_width - 2};
}

/* ---- charts ---- */

/* The bit of the dot in column dx (0, 1) and row dy (0 = top .. 3) of a cell. */
static unsigned char braille_bit(int dx, int dy)
{
    static const unsigned char left[] = {0x01, 0x02, 0x04, 0x40};
    static const unsigned char right[] = {0x08, 0x10, 0x20, 0x80};
    return dx ? right[dy] : left[dy];
}

static void braille_set(TuiBraille *canvas, int px, int py)
{
    int rows = canvas->rows * 4, cols = canvas->cols * 2;
    if (px < 0 || py < 0 || px >= cols || py >= rows)
        return;
    int from_top = rows - 1 - py;
    canvas->dots[(size_t)(from_top / 4) * canvas->cols + px / 2] |= braille_bit(px % 2, from_top % 4);
}

static int scale_to_dots(double value, double lo, double hi, int dots)
{
    if (!(hi > lo))
        return 0;
    double t = (value - lo) / (hi - lo);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return (int)lround(t * (dots - 1));
}

void tui_braille_line(TuiBraille *canvas, const double *xs, const double *ys, int n, double x0,
                      double x1, double y0, double y1)
{
    int width = canvas->cols * 2, height = canvas->rows * 4;
    int prev_x = 0, prev_y = 0;
    bool started = false;
    for (int i = 0; i < n; i++) {
        if (isnan(ys[i]))
            continue;
        int px = scale_to_dots(xs[i], x0, x1, width), py = scale_to_dots(ys[i], y0, y1, height);
        if (!started) {
            started = true;
            braille_set(canvas, px, py);
        } else {
            /* Bresenham from the previous point */
            int dx = abs(px - prev_x), sx = prev_x < px ? 1 : -1;
            int dy = -abs(py - prev_y), sy = prev_y < py ? 1 : -1;
            int err = dx + dy, x = prev_x, y = prev_y;
            for (;;) {
                braille_set(canvas, x, y);
                if (x == px && y == py)
                    break;
                int e2 = 2 * err;
                if (e2 >= dy) {
                    err += dy;
                    x += sx;
                }
                if (e2 <= dx) {
                    err += dx;
                    y += sy;
                }
            }
        }
        prev_x = px;
        prev_y = py;
    }
}

int tui_resample_mean(const double *xs, const double *ys, int n, int buckets, double *out_xs,
                      double *out_ys)
{
    if (n <= buckets) {
        memcpy(out_xs, xs, (size_t)n * sizeof(double));
        memcpy(out_ys, ys, (size_t)n * sizeof(double));
        return n;
    }
    for (int b = 0; b < buckets; b++) {
        int first = (int)((long)b * n / buckets), end = (int)((long)(b + 1) * n / buckets);
        double sum_x = 0, sum_y = 0;
        int count = 0;
        for (int i = first; i < end; i++)
            if (!isnan(ys[i])) {
                sum_x += xs[i];
                sum_y += ys[i];
                count++;
            }
        out_xs[b] = count ? sum_x / count : xs[first];
        out_ys[b] = count ? sum_y / count : NAN;
    }
    return buckets;
}

int tui_bar_eighths(double value, double lo, double hi, int rows, int row)
{
    if (isnan(value) || !(hi > lo))
        return 0;
    double t = (value - lo) / (hi - lo);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    long total = lround(t * rows * 8);
    long here = total - (long)row * 8;
    return here < 0 ? 0 : here > 8 ? 8 : (int)here;
}

int tui_bucket_first(int column, int columns, int items)
{
    if (items <= columns)
        return column < items ? column : -1;
    return (int)((long)column * items / columns);
}

/* The rung of the 1-2-5 ladder nearest above (direction > 0) or below value > 0. */
static double next_rung(double value, int direction)
{
    static const double mantissas[] = {1, 2, 5};
    int exponent = (int)floor(log10(value));
    double best = direction > 0 ? INFINITY : 0;
    for (int e = exponent - 1; e <= exponent + 1; e++)
        for (int m = 0; m < 3; m++) {
            double rung = mantissas[m] * pow(10, e);
            /* a relative tolerance, so a float's 1e-3 counts as the rung 1e-3 */
            if (direction > 0 && rung > value * (1 + 1e-6) && rung < best)
                best = rung;
            if (direction < 0 && rung < value * (1 - 1e-6) && rung > best)
                best = rung;
        }
    return best;
}

double tui_ladder_step(double value, int direction, double low, double high, bool zero_allowed)
{
    if (direction > 0) {
        if (value < low)
            return low;
        double up = next_rung(value, 1);
        return up > high ? high : up;
    }
    if (value <= low * (1 + 1e-6))
        return zero_allowed ? 0 : low;
    double down = value > high ? high : next_rung(value, -1);
    return down < low ? low : down;
}

void tui_nice_range(double lo, double hi, double *nice_lo, double *nice_hi)
{
    double span = hi - lo;
    if (!(span > 1e-12)) {
        span = fabs(hi) > 1e-12 ? fabs(hi) * 0.1 : 1.0;
        lo -= span / 2;
        hi += span / 2;
    }
    double raw = span / 4, power = pow(10, floor(log10(raw))), step = power;
    if (raw > 5 * power)
        step = 10 * power;
    else if (raw > 2 * power)
        step = 5 * power;
    else if (raw > power)
        step = 2 * power;
    *nice_lo = floor(lo / step + 1e-9) * step;
    *nice_hi = ceil(hi / step - 1e-9) * step;
}
