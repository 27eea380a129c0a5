#include "tui_draw.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "routing_shift.h"

/* The glyphs of a frame: Unicode where the terminal takes UTF-8, else ASCII. */
typedef struct {
    const char *alpha, *delta, *bar, *upper_half, *target, *cursor_row, *play, *pause;
    const char *eighths[9];
    bool braille;
} Glyphs;

static const Glyphs unicode_glyphs = {
    "α", "Δ", "│", "▀", "◆", "▸", "▶", "⏸",
    {" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"}, true,
};
static const Glyphs ascii_glyphs = {
    "alpha", "d", "|", "#", "*", ">", ">", "=",
    {" ", "_", "_", "_", "=", "=", "=", "#", "#"}, false,
};

/* A frame being drawn: the screen, its glyphs, the view and the UI state. */
typedef struct {
    TuiScreen *screen;
    const Glyphs *g;
    const TuiView *view;
    TuiUi *ui;
} Frame;

/* ---- text ---- */

/* The bytes of the first `columns` characters of UTF-8 text (every glyph
 * used here is one column wide). */
static int clip_utf8(const char *text, int columns)
{
    int bytes = 0, seen = 0;
    while (text[bytes]) {
        if (((unsigned char)text[bytes] & 0xC0) != 0x80) {
            if (seen == columns)
                break;
            seen++;
        }
        bytes++;
    }
    return bytes;
}

static int text_columns(const char *text)
{
    int columns = 0;
    for (; *text; text++)
        columns += ((unsigned char)*text & 0xC0) != 0x80;
    return columns;
}

/* Writes text at (y, x), at most `width` columns, in attr; returns the columns used. */
static int put(int y, int x, int width, attr_t attr, const char *text)
{
    if (width <= 0)
        return 0;
    int bytes = clip_utf8(text, width);
    attrset(attr);
    mvaddnstr(y, x, text, bytes);
    attrset(A_NORMAL);
    int columns = text_columns(text);
    return columns < width ? columns : width;
}

static int putf(int y, int x, int width, attr_t attr, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int putf(int y, int x, int width, attr_t attr, const char *fmt, ...)
{
    char text[512];
    va_list args;
    va_start(args, fmt);
    vsnprintf(text, sizeof text, fmt, args);
    va_end(args);
    return put(y, x, width, attr, text);
}

static attr_t colour(const Frame *f, TuiColour c)
{
    return tui_screen_colour(f->screen, c);
}

/* A pane's title row: the title on the title colour, then a rule. */
static void pane_title(const Frame *f, TuiRect r, const char *title, const char *right)
{
    int used = putf(r.y, r.x, r.width, colour(f, TUI_COLOUR_TITLE) | A_BOLD, " %s ", title);
    /* lines take their attributes with the character, not from attrset */
    mvhline(r.y, r.x + used, (f->screen->unicode ? ACS_HLINE : '-') | colour(f, TUI_COLOUR_DIM),
            r.width - used);
    if (right && *right) {
        int columns = text_columns(right) + 2;
        if (used + columns < r.width)
            putf(r.y, r.x + r.width - columns, columns, colour(f, TUI_COLOUR_DIM), " %s ", right);
    }
}

/* ---- the header ---- */

static const char *phase_name(const Frame *f)
{
    const TuiView *v = f->view;
    if (v->stopping && v->phase <= TUI_PAUSED)
        return "stopping";
    switch (v->phase) {
    case TUI_PREPARING: return f->ui->pause_wanted ? "preparing (then paused)" : "preparing";
    case TUI_RUNNING: return f->ui->pause_wanted ? "pausing" : "running";
    case TUI_PAUSED: return "paused";
    case TUI_FINISHED: return "finished";
    case TUI_STOPPED: return "stopped";
    case TUI_FAILED: return "failed";
    }
    return "";
}

static TuiColour phase_colour(const TuiView *v)
{
    switch (v->phase) {
    case TUI_RUNNING: case TUI_FINISHED: return TUI_COLOUR_GOOD;
    case TUI_FAILED: return TUI_COLOUR_BAD;
    default: return TUI_COLOUR_WARN;
    }
}

static const UnlearnEval *latest_eval(const TuiView *v)
{
    return ring_newest(&v->eval_history);
}

static void draw_header(const Frame *f, TuiRect r)
{
    const TuiView *v = f->view;
    const Glyphs *g = f->g;
    attr_t title = colour(f, TUI_COLOUR_TITLE);
    mvhline(r.y, r.x, ' ' | title, r.width);
    int x = put(r.y, r.x, r.width, title | A_BOLD, " uoe-wb ");
    if (v->script[0]) {
        const char *slash = strrchr(v->script, '/');
        x += putf(r.y, r.x + x, r.width - x, title, "%s %s ", g->bar, slash ? slash + 1 : v->script);
    }
    char run[160] = "";
    if (v->run_number)
        snprintf(run, sizeof run, "%s run %d-%s%s", g->bar, v->run_number, v->label,
                 v->runs_after ? (v->runs_after == 1 ? " (then 1 more)" : " (then more)") : "");
    x += putf(r.y, r.x + x, r.width - x, title, "%s %s ", run, g->bar);
    const char *icon = v->phase == TUI_PAUSED ? g->pause : g->play;
    x += putf(r.y, r.x + x, r.width - x, colour(f, phase_colour(v)) | A_REVERSE | A_BOLD, " %s %s ",
              icon, phase_name(f));
    x += put(r.y, r.x + x, r.width - x, title, " ");
    int done = v->have_step ? v->last_step.step : 0;
    x += putf(r.y, r.x + x, r.width - x, title, "%s step %d/%d %s %s", g->bar, done, v->steps,
              v->activity[0] ? g->bar : "", v->activity);

    if (!v->started) {
        putf(r.y + 1, r.x, r.width, A_NORMAL, " %s", v->phase == TUI_FAILED ? v->failure
                                                    : "loading the model and the data");
        return;
    }
    char lr[32];
    snprintf(lr, sizeof lr, "%.1e", (double)v->learning_rate);
    char rank[32] = "";
    if (v->have_snapshot)
        snprintf(rank, sizeof rank, " (rank %d)", v->target_rank);
    putf(r.y + 1, r.x, r.width, A_NORMAL,
         " method %s %s set %s (%.4f%% tunable) %s target L%d E%d%s %s lr %s %s %s %g %s %s",
         v->method, g->bar, v->set_name, 100.0 * v->tunable_fraction, g->bar, v->target_layer,
         v->target_expert, rank, g->bar, lr, g->bar, g->alpha, (double)v->alpha, g->bar,
         v->model_dir);

    x = 0;
    if (v->have_step) {
        const UnlearnStep *s = &v->last_step;
        x += putf(r.y + 2, r.x + x, r.width - x, A_BOLD, " loss %.4f ", s->loss);
        x += putf(r.y + 2, r.x + x, r.width - x, colour(f, TUI_COLOUR_FORGET), "forget %.4f ",
                  s->forget_term);
        x += putf(r.y + 2, r.x + x, r.width - x, colour(f, TUI_COLOUR_RETAIN), "retain %.4f ",
                  s->retain_term);
        x += putf(r.y + 2, r.x + x, r.width - x, colour(f, TUI_COLOUR_ANCHOR), "anchor %.4f ",
                  s->anchor_term);
        x += putf(r.y + 2, r.x + x, r.width - x, A_NORMAL, "%s ", g->bar);
    } else {
        x += put(r.y + 2, r.x, r.width, colour(f, TUI_COLOUR_DIM), " loss (no step yet) ");
    }
    const UnlearnEval *e = latest_eval(v);
    if (e && v->have_first_eval) {
        x += putf(r.y + 2, r.x + x, r.width - x, colour(f, TUI_COLOUR_FORGET) | A_BOLD,
                  "FE %.4f (%s%+.4f) ", e->fe, g->delta, e->fe - v->first_eval.fe);
        putf(r.y + 2, r.x + x, r.width - x, colour(f, TUI_COLOUR_UTILITY) | A_BOLD,
             "UT %.4f (%s%+.4f) @ step %d", e->ut, g->delta, e->ut - v->first_eval.ut, e->step);
    } else {
        put(r.y + 2, r.x + x, r.width - x, colour(f, TUI_COLOUR_DIM), "FE, UT: evaluating step 0");
    }
}

/* ---- the heatmap ---- */

static const char *const kind_titles[] = {
    [TUI_HEATMAP_SHARE] = "selection share",
    [TUI_HEATMAP_CHANGE] = "change in share since step 0",
    [TUI_HEATMAP_ATTRIBUTION] = "attribution: Eq. 2 gate score on the forget set",
};

/* Selections of (layer, expert) over the layer's K * tokens; NaN where there are none. */
static double share_of(const double *counts, int tokens, int K, int E, int layer, int expert)
{
    if (tokens <= 0 || K <= 0)
        return NAN;
    return counts[(size_t)layer * E + expert] / ((double)tokens * K);
}

/* The value of a cell in the view the user chose; NaN for dense layers. */
static double cell_value(const Frame *f, int layer, int expert)
{
    const TuiView *v = f->view;
    if (!v->is_moe[layer])
        return NAN;
    const TuiProbe *p = f->ui->retain ? &v->retain : &v->forget;
    int K = v->experts_per_token, E = v->experts;
    switch (f->ui->kind) {
    case TUI_HEATMAP_SHARE:
        return v->have_snapshot ? share_of(p->counts, p->tokens, K, E, layer, expert) : NAN;
    case TUI_HEATMAP_CHANGE:
        return v->have_snapshot ? share_of(p->counts, p->tokens, K, E, layer, expert) -
                                      share_of(p->start_counts, p->start_tokens, K, E, layer, expert)
                                : NAN;
    case TUI_HEATMAP_ATTRIBUTION:
        return v->gate_score[(size_t)layer * E + expert];
    }
    return NAN;
}

/* Levels (L, E) of every cell on the screen's ramp; the range used goes to *lo, *hi. */
static int *heatmap_levels(const Frame *f, double *lo, double *hi)
{
    const TuiView *v = f->view;
    size_t cells = (size_t)v->layers * v->experts;
    double *values = xmalloc(cells * sizeof(double));
    double most = 0;
    for (int l = 0; l < v->layers; l++)
        for (int e = 0; e < v->experts; e++) {
            double value = cell_value(f, l, e);
            values[(size_t)l * v->experts + e] = value;
            if (!isnan(value) && fabs(value) > most)
                most = fabs(value);
        }
    bool diverging = f->ui->kind == TUI_HEATMAP_CHANGE;
    *hi = most > 0 ? most : 1e-6;
    *lo = diverging ? -*hi : 0;
    int *levels = xmalloc(cells * sizeof(int));
    for (size_t i = 0; i < cells; i++)
        levels[i] = tui_ramp_level(values[i], *lo, *hi, f->screen->ramp.levels);
    free(values);
    return levels;
}

/* Expert numbers above the columns, as many as fit apart. */
static void draw_ruler(const Frame *f, int y, int x, const TuiHeatmapView *h)
{
    static const int steps[] = {1, 2, 4, 5, 8, 10, 16, 20, 25, 32, 50, 64, 100, 128, 256};
    int label = 1, last = f->view->experts - 1;
    while (last >= 10) {
        last /= 10;
        label++;
    }
    int step = steps[0];
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        step = steps[i];
        if (step * h->cell_width >= label + 1)
            break;
    }
    for (int c = 0; c < h->visible_experts; c++) {
        int e = h->first_expert + c;
        if (e % step == 0)
            putf(y, x + h->label_width + c * h->cell_width, label + 1, colour(f, TUI_COLOUR_DIM),
                 "%d", e);
    }
}

/* One cell of the heatmap: packed half blocks, a coloured blank, or a glyph;
 * the target and the cursor drawn as markers on their layer's colour. */
static void draw_cell(const Frame *f, const int *levels, int y, int x, int width, int upper,
                      int lower, int expert)
{
    const TuiView *v = f->view;
    const TuiScreen *s = f->screen;
    int E = v->experts;
    int cursor_layer = f->ui->cursor_layer, cursor_expert = f->ui->cursor_expert;
    bool cursor = expert == cursor_expert && (cursor_layer == upper || cursor_layer == lower);
    bool target = expert == v->target_expert && (v->target_layer == upper || v->target_layer == lower);
    int marked_layer = cursor ? cursor_layer : v->target_layer;
    for (int i = 0; i < width; i++) {
        if ((cursor || target) && i == 0) {
            int level = levels[(size_t)marked_layer * E + expert];
            /* without colour the cursor keeps the cell's glyph, shown in reverse */
            char level_glyph[2] = {s->ramp.glyphs[level], 0};
            const char *glyph = target ? f->g->target
                                       : s->palette == TUI_PALETTE_MONO ? level_glyph : "+";
            attr_t attr = tui_screen_marker(s, level) | (cursor && target ? A_REVERSE : 0);
            put(y, x + i, 1, attr, glyph);
            continue;
        }
        int up = levels[(size_t)upper * E + expert];
        if (lower >= 0 && s->palette != TUI_PALETTE_MONO) {
            TuiHalfBlock cell = {up, levels[(size_t)lower * E + expert]};
            put(y, x + i, 1, tui_screen_half_block(s, cell), f->g->upper_half);
        } else if (s->palette != TUI_PALETTE_MONO) {
            put(y, x + i, 1, tui_screen_level(s, up), " ");
        } else {
            char glyph[2] = {s->ramp.glyphs[up], 0};
            put(y, x + i, 1, A_NORMAL, glyph);
        }
    }
}

/* The legend: the ramp from lo to hi, and what the markers mean. */
static void draw_legend(const Frame *f, int y, int x, int width, double lo, double hi)
{
    const TuiScreen *s = f->screen;
    int used = putf(y, x, width, A_NORMAL, " %.4f ", lo);
    for (int level = 1; level <= s->ramp.levels && used < width; level++) {
        if (s->palette == TUI_PALETTE_MONO) {
            char glyph[2] = {s->ramp.glyphs[level], 0};
            used += put(y, x + used, width - used, A_NORMAL, glyph);
        } else {
            used += put(y, x + used, width - used, tui_screen_level(s, level), " ");
        }
    }
    used += putf(y, x + used, width - used, A_NORMAL, " %.4f ", hi);
    putf(y, x + used, width - used, colour(f, TUI_COLOUR_DIM), " %s target  + cursor%s",
         f->g->target, f->ui->heatmap.layers_per_row == 2 ? "  upper half: even layer" : "");
}

/* The numbers of the cell under the cursor, on two lines from row y. */
static void draw_cell_lines(const Frame *f, int y, int x, int width)
{
    const TuiView *v = f->view;
    int l = f->ui->cursor_layer, e = f->ui->cursor_expert, E = v->experts;
    if (!v->is_moe[l]) {
        putf(y, x, width, A_BOLD, " L%d: a dense layer, no experts", l);
        return;
    }
    double gate = v->gate_score[(size_t)l * E + e];
    if (!v->have_snapshot) {
        putf(y, x, width, A_BOLD, " L%d E%d: routing comes with the first snapshot", l, e);
        putf(y + 1, x, width, A_NORMAL, " Eq. 2 gate score %.4f", gate);
        return;
    }
    const TuiProbe *p = f->ui->retain ? &v->retain : &v->forget;
    int K = v->experts_per_token;
    double count = p->counts[(size_t)l * E + e];
    double share = share_of(p->counts, p->tokens, K, E, l, e);
    double start = share_of(p->start_counts, p->start_tokens, K, E, l, e);
    double prob = p->tokens ? p->prob_sum[(size_t)l * E + e] / p->tokens : 0;
    int rank = routing_expert_rank(p->counts + (size_t)l * E, E, e);
    putf(y, x, width, A_BOLD, " L%d E%d %s: count %.0f  share %.4f (%s%+.4f)  rank %d of %d", l, e,
         f->ui->retain ? "retain" : "forget", count, share, f->g->delta, share - start, rank, E);
    putf(y + 1, x, width, A_NORMAL, " mean router prob %.4f  Eq. 2 gate score %.4f", prob, gate);
}

static void draw_heatmap(const Frame *f, TuiRect r)
{
    const TuiView *v = f->view;
    TuiUi *ui = f->ui;
    tui_screen_use_ramp(f->screen, ui->kind == TUI_HEATMAP_CHANGE ? TUI_RAMP_DIVERGING
                                                                   : TUI_RAMP_SEQUENTIAL);
    char title[160];
    const char *probe = ui->kind == TUI_HEATMAP_ATTRIBUTION ? "" : ui->retain ? "retain " : "forget ";
    snprintf(title, sizeof title, "Routing: %s%s", probe, kind_titles[ui->kind]);
    if (!v->started) {
        pane_title(f, r, title, NULL);
        put(r.y + 2, r.x + 1, r.width - 1, colour(f, TUI_COLOUR_DIM), "waiting for attribution");
        ui->heatmap_cells = (TuiRect){0};
        return;
    }
    int lpr = f->screen->unicode && f->screen->palette != TUI_PALETTE_MONO ? 2 : 1;
    TuiHeatmapView previous = ui->heatmap;
    bool same_shape = previous.layers_per_row == lpr && previous.total_rows > 0;
    tui_heatmap_fit(r.width, r.height - TUI_HEATMAP_CHROME_ROWS, v->layers, v->experts, lpr,
                    ui->cursor_layer, ui->cursor_expert, same_shape ? &previous : NULL, &ui->heatmap);
    const TuiHeatmapView *h = &ui->heatmap;
    char where[96] = "";
    int shown_layers = (h->first_row + h->visible_rows) * lpr;
    int last_layer = (shown_layers < v->layers ? shown_layers : v->layers) - 1;
    if (h->visible_experts < v->experts || h->visible_rows < h->total_rows)
        snprintf(where, sizeof where, "experts %d-%d of %d, layers %d-%d of %d", h->first_expert,
                 h->first_expert + h->visible_experts - 1, v->experts, h->first_row * lpr,
                 last_layer, v->layers);
    else if (v->have_snapshot && ui->kind != TUI_HEATMAP_ATTRIBUTION)
        snprintf(where, sizeof where, "step %d", v->snapshot_step);
    pane_title(f, r, title, where);
    draw_ruler(f, r.y + 1, r.x, h);
    double lo, hi;
    int *levels = heatmap_levels(f, &lo, &hi);
    int top = r.y + 2;
    for (int row = 0; row < h->visible_rows; row++) {
        int upper, lower;
        tui_heatmap_row_layers(h->first_row + row, v->layers, lpr, &upper, &lower);
        char label[32];
        if (lower >= 0)
            snprintf(label, sizeof label, "L%d/%d", upper, lower);
        else
            snprintf(label, sizeof label, "L%d", upper);
        putf(top + row, r.x, h->label_width - 2, A_NORMAL, "%*s", h->label_width - 2, label);
        bool cursor_row = ui->cursor_layer == upper || ui->cursor_layer == lower;
        if (cursor_row)
            put(top + row, r.x + h->label_width - 2, 1, colour(f, TUI_COLOUR_KEY), f->g->cursor_row);
        for (int c = 0; c < h->visible_experts; c++)
            draw_cell(f, levels, top + row, r.x + h->label_width + c * h->cell_width, h->cell_width,
                      upper, lower, h->first_expert + c);
    }
    free(levels);
    ui->heatmap_cells = (TuiRect){top, r.x, h->visible_rows, r.width};
    draw_legend(f, r.y + r.height - 3, r.x, r.width, lo, hi);
    draw_cell_lines(f, r.y + r.height - 2, r.x, r.width);
}

/* ---- charts ---- */

/* A braille (or ASCII) chart of series drawn over each other, each in its
 * colour; later series win shared cells. */
typedef struct {
    const double *xs, *ys;
    int n;
    TuiColour colour;
    char ascii;              /* its glyph without braille */
} Series;

static void put_braille(int y, int x, attr_t attr, unsigned char mask)
{
    unsigned code = 0x2800u + mask;
    char text[4] = {(char)(0xE0 | (code >> 12)), (char)(0x80 | ((code >> 6) & 0x3F)),
                    (char)(0x80 | (code & 0x3F)), 0};
    put(y, x, 1, attr, text);
}

static void draw_chart(const Frame *f, TuiRect r, const Series *series, int count, double x0,
                       double x1, double y0, double y1)
{
    if (r.width < 1 || r.height < 1)
        return;
    size_t cells = (size_t)r.width * r.height;
    unsigned char *dots = xcalloc(cells, 1), *merged = xcalloc(cells, 1);
    signed char *owner = xmalloc(cells);
    memset(owner, -1, cells);
    /* a point per dot column at most: long histories are averaged */
    int most = 2 * r.width;
    int room = 0;
    for (int s = 0; s < count; s++)
        room = series[s].n > room ? series[s].n : room;
    room = room < most ? room : most;
    double *xs = xmalloc((size_t)(room > 0 ? room : 1) * sizeof(double));
    double *ys = xmalloc((size_t)(room > 0 ? room : 1) * sizeof(double));
    for (int s = 0; s < count; s++) {
        memset(dots, 0, cells);
        TuiBraille canvas = {r.height, r.width, dots};
        int n = tui_resample_mean(series[s].xs, series[s].ys, series[s].n, most, xs, ys);
        tui_braille_line(&canvas, xs, ys, n, x0, x1, y0, y1);
        for (size_t i = 0; i < cells; i++)
            if (dots[i]) {
                merged[i] |= dots[i];
                owner[i] = (signed char)s;
            }
    }
    for (int row = 0; row < r.height; row++)
        for (int col = 0; col < r.width; col++) {
            size_t i = (size_t)row * r.width + col;
            if (owner[i] < 0)
                continue;
            attr_t attr = colour(f, series[owner[i]].colour);
            if (f->g->braille)
                put_braille(r.y + row, r.x + col, attr, merged[i]);
            else
                put(r.y + row, r.x + col, 1, attr, (char[2]){series[owner[i]].ascii, 0});
        }
    free(xs);
    free(ys);
    free(dots);
    free(merged);
    free(owner);
}

/* ---- router shift ---- */

/* Vertical bars of the per-layer token overlap of one probe, over the MoE layers. */
static void draw_overlap_bars(const Frame *f, TuiRect r, const TuiProbe *probe, TuiColour c,
                              double lo)
{
    const TuiView *v = f->view;
    int moe[MODEL_MAX_LAYERS], count = 0;
    for (int l = 0; l < v->layers; l++)
        if (v->is_moe[l])
            moe[count++] = l;
    if (count == 0 || r.width < 1)
        return;
    int bar_width = r.width / count;
    bar_width = bar_width < 1 ? 1 : bar_width > 3 ? 3 : bar_width;
    int columns = count < r.width ? count * bar_width : r.width;
    for (int col = 0; col < columns; col++) {
        /* a bucket of layers per column when they outnumber the columns: its lowest overlap */
        int first = count * bar_width <= r.width ? col / bar_width : tui_bucket_first(col, columns, count);
        int last = count * bar_width <= r.width ? first
                                                : (col + 1 < columns ? tui_bucket_first(col + 1, columns, count) - 1
                                                                     : count - 1);
        double value = 1.0;
        for (int i = first; i <= last; i++)
            value = fmin(value, probe->shift[moe[i]].token_overlap);
        bool gap = bar_width > 1 && col % bar_width == bar_width - 1;
        for (int row = 0; row < r.height && !gap; row++)
            put(r.y + r.height - 1 - row, r.x + col, 1, colour(f, c),
                f->g->eighths[tui_bar_eighths(value, lo, 1.0, r.height, row)]);
    }
}

static void draw_shift(const Frame *f, TuiRect r)
{
    const TuiView *v = f->view;
    pane_title(f, r, "Router shift: token overlap with step 0", NULL);
    if (!v->have_snapshot) {
        put(r.y + 1, r.x + 1, r.width - 1, colour(f, TUI_COLOUR_DIM), "waiting for a snapshot");
        return;
    }
    const Ring *history = &v->overlap_history;
    double lowest = 1.0;
    for (int l = 0; l < v->layers; l++)
        if (v->is_moe[l])
            lowest = fmin(lowest, fmin(v->forget.shift[l].token_overlap, v->retain.shift[l].token_overlap));
    int n = history->count;
    double *xs = xmalloc((size_t)(n > 0 ? n : 1) * sizeof(double));
    double *forget = xmalloc((size_t)(n > 0 ? n : 1) * sizeof(double));
    double *retain = xmalloc((size_t)(n > 0 ? n : 1) * sizeof(double));
    for (int i = 0; i < n; i++) {
        const TuiOverlapPoint *p = ring_at(history, i);
        xs[i] = p->step;
        forget[i] = p->forget;
        retain[i] = p->retain;
        lowest = fmin(lowest, fmin(p->forget, p->retain));
    }
    /* the axis: [lo, 1] with lo the lowest overlap rounded down to a tenth, at most 0.9 */
    double lo = fmin(0.9, floor(lowest * 10) / 10);
    int inner = r.height - 1, half = (r.width - 1) / 2;
    int bars = inner >= 4 ? (inner - 1) / 2 : inner - 1, line = inner - 1 - bars;
    const TuiProbe *probes[] = {&v->forget, &v->retain};
    const char *names[] = {"forget", "retain"};
    TuiColour colours[] = {TUI_COLOUR_FORGET, TUI_COLOUR_RETAIN};
    double *series[] = {forget, retain};
    for (int side = 0; side < 2; side++) {
        int x = r.x + side * (half + 1);
        int used = putf(r.y + 1, x, half, colour(f, colours[side]) | A_BOLD, "%s %.4f", names[side],
                        probes[side]->token_overlap);
        char axis[32];
        int axis_width = snprintf(axis, sizeof axis, "axis %.1f-1", lo);
        if (used + 1 + axis_width <= half)
            put(r.y + 1, x + half - axis_width, axis_width, colour(f, TUI_COLOUR_DIM), axis);
        draw_overlap_bars(f, (TuiRect){r.y + 2, x, bars, half}, probes[side], colours[side], lo);
        if (line > 0 && n > 0) {
            Series s = {xs, series[side], n, colours[side], '*'};
            double x1 = xs[n - 1] > xs[0] ? xs[n - 1] : xs[0] + 1;
            draw_chart(f, (TuiRect){r.y + 2 + bars, x, line, half}, &s, 1, xs[0], x1, lo, 1.0);
        }
    }
    if (r.width > 2 * half)
        for (int row = 1; row < r.height; row++)
            put(r.y + row, r.x + half, 1, colour(f, TUI_COLOUR_DIM), f->g->bar);
    free(xs);
    free(forget);
    free(retain);
}

/* ---- losses, FE and UT ---- */

static void draw_losses(const Frame *f, TuiRect r)
{
    const TuiView *v = f->view;
    pane_title(f, r, "Loss terms over steps", NULL);
    const Ring *h = &v->step_history;
    if (h->count == 0) {
        put(r.y + 1, r.x + 1, r.width - 1, colour(f, TUI_COLOUR_DIM), "waiting for a step");
        return;
    }
    int n = h->count, inner = r.height - 1;
    double *xs = xmalloc((size_t)n * sizeof(double)), *ys = xmalloc((size_t)n * sizeof(double));
    const char *names[] = {"forget", "retain", "anchor"};
    TuiColour colours[] = {TUI_COLOUR_FORGET, TUI_COLOUR_RETAIN, TUI_COLOUR_ANCHOR};
    int band = inner / 3 > 0 ? inner / 3 : 1;
    int label = r.width / 3 < 16 ? r.width / 3 : 16;
    for (int term = 0; term < 3 && 1 + term * band < r.height; term++) {
        double lo = INFINITY, hi = -INFINITY;
        for (int i = 0; i < n; i++) {
            const UnlearnStep *s = ring_at(h, i);
            double value = term == 0 ? s->forget_term : term == 1 ? s->retain_term : s->anchor_term;
            xs[i] = s->step;
            ys[i] = value;
            lo = fmin(lo, value);
            hi = fmax(hi, value);
        }
        int y = r.y + 1 + term * band;
        int rows = term == 2 ? inner - 2 * band : band;
        putf(y, r.x, label, colour(f, colours[term]) | A_BOLD, "%s", names[term]);
        if (rows > 1)
            putf(y + 1, r.x, label, colour(f, colours[term]), "%.4g", ys[n - 1]);
        else
            putf(y, r.x + 7, label - 7, colour(f, colours[term]), "%.4g", ys[n - 1]);
        double nice_lo, nice_hi;
        tui_nice_range(lo, hi, &nice_lo, &nice_hi);
        Series s = {xs, ys, n, colours[term], '*'};
        double x1 = xs[n - 1] > xs[0] ? xs[n - 1] : xs[0] + 1;
        draw_chart(f, (TuiRect){y, r.x + label, rows, r.width - label}, &s, 1, xs[0], x1, nice_lo,
                   nice_hi);
    }
    free(xs);
    free(ys);
}

static void draw_evals(const Frame *f, TuiRect r)
{
    const TuiView *v = f->view;
    pane_title(f, r, "FE and UT over steps", NULL);
    const Ring *results = &v->results;
    int inner = r.height - 1;
    int listed = results->count < inner / 3 ? results->count : inner / 3;
    for (int i = 0; i < listed; i++) {
        const WorkbenchRunResult *res = ring_at(results, results->count - listed + i);
        putf(r.y + r.height - listed + i, r.x, r.width, A_NORMAL, "%d-%s FE %.3f UT %.3f ov %.3f",
             res->number, res->label, res->selected.fe, res->selected.ut, res->forget_overlap);
    }
    const Ring *h = &v->eval_history;
    if (h->count == 0) {
        put(r.y + 1, r.x + 1, r.width - 1, colour(f, TUI_COLOUR_DIM), "waiting for step 0");
        return;
    }
    int n = h->count;
    double *xs = xmalloc((size_t)n * sizeof(double)), *fe = xmalloc((size_t)n * sizeof(double)),
           *ut = xmalloc((size_t)n * sizeof(double));
    for (int i = 0; i < n; i++) {
        const UnlearnEval *e = ring_at(h, i);
        xs[i] = e->step;
        fe[i] = e->fe;
        ut[i] = e->ut;
    }
    int x = putf(r.y + 1, r.x, r.width, colour(f, TUI_COLOUR_FORGET) | A_BOLD, "FE %.3f ", fe[n - 1]);
    x += putf(r.y + 1, r.x + x, r.width - x, colour(f, TUI_COLOUR_UTILITY) | A_BOLD, "UT %.3f ", ut[n - 1]);
    putf(r.y + 1, r.x + x, r.width - x, colour(f, TUI_COLOUR_DIM), "axis 0-1, steps 0-%d", v->steps);
    Series series[] = {{xs, fe, n, TUI_COLOUR_FORGET, 'f'}, {xs, ut, n, TUI_COLOUR_UTILITY, 'u'}};
    draw_chart(f, (TuiRect){r.y + 2, r.x, inner - 1 - listed, r.width}, series, 2, 0,
               v->steps > 0 ? v->steps : 1, 0, 1);
    free(xs);
    free(fe);
    free(ut);
}

/* ---- log, keys, help ---- */

static void draw_log(const Frame *f, TuiRect r)
{
    const Ring *log = &f->view->log;
    pane_title(f, r, "Log", NULL);
    int rows = r.height - 1, shown = log->count < rows ? log->count : rows;
    for (int i = 0; i < shown; i++) {
        const TuiLogLine *line = ring_at(log, log->count - shown + i);
        bool bad = strncmp(line->text, "error", 5) == 0 || strstr(line->text, "failed") ||
                   strstr(line->text, "not finite");
        put(r.y + 1 + i, r.x, r.width, bad ? colour(f, TUI_COLOUR_BAD) : A_NORMAL, line->text);
    }
}

static void draw_keys(const Frame *f, TuiRect r)
{
    const TuiUi *ui = f->ui;
    if (ui->question == TUI_ASK_QUIT) {
        put(r.y, r.x, r.width, colour(f, TUI_COLOUR_WARN) | A_BOLD,
            " Quit? The run stops after its step; its directory keeps what was done. [y/n]");
        return;
    }
    if (ui->question == TUI_ASK_RETARGET) {
        putf(r.y, r.x, r.width, colour(f, TUI_COLOUR_WARN) | A_BOLD,
             " Unlearn L%d E%d instead? The run starts again from step 0; its directory so far "
             "stays. [y/n]", ui->asked_layer, ui->asked_expert);
        return;
    }
    if (ui->note[0]) {
        putf(r.y, r.x, r.width, colour(f, TUI_COLOUR_WARN), " %s", ui->note);
        return;
    }
    static const char *const hints[][2] = {
        {"space", "pause"}, {"s", "step"}, {"arrows", "cell"}, {"t", "target"}, {"v", "view"},
        {"f", "probe"}, {"a/A", "alpha"}, {"l/L", "lr"}, {"e", "export"}, {"?", "help"}, {"q", "quit"},
    };
    int x = 1;
    for (size_t i = 0; i < sizeof hints / sizeof hints[0] && x < r.width; i++) {
        x += put(r.y, r.x + x, r.width - x, colour(f, TUI_COLOUR_KEY), hints[i][0]);
        x += putf(r.y, r.x + x, r.width - x, A_NORMAL, " %s  ", hints[i][1]);
    }
}

static void draw_help(const Frame *f, int rows, int cols)
{
    const TuiKeyHelp *keys = tui_input_keys();
    int count = 0;
    while (keys[count].keys)
        count++;
    static const char *const notes[] = {
        "The heatmap: layers are rows, experts columns. With colour and UTF-8 each",
        "character holds two layers, the upper half the even one. Colours run from low",
        "to high (change: fewer selections, none, more); without colour, glyphs do.",
    };
    int height = count + 4 + 4, width = cols - 4 < 86 ? cols - 4 : 86;
    if (height > rows - 2)
        height = rows - 2;
    int y = (rows - height) / 2, x = (cols - width) / 2;
    for (int row = 0; row < height; row++)
        mvhline(y + row, x, ' ', width);
    if (f->screen->unicode) {
        mvhline(y, x, ACS_HLINE, width);
        mvhline(y + height - 1, x, ACS_HLINE, width);
        mvvline(y, x, ACS_VLINE, height);
        mvvline(y, x + width - 1, ACS_VLINE, height);
        mvaddch(y, x, ACS_ULCORNER);
        mvaddch(y, x + width - 1, ACS_URCORNER);
        mvaddch(y + height - 1, x, ACS_LLCORNER);
        mvaddch(y + height - 1, x + width - 1, ACS_LRCORNER);
    }
    put(y, x + 2, width - 4, colour(f, TUI_COLOUR_TITLE) | A_BOLD, " uoe-wb workbench: keys ");
    int row = y + 2;
    for (int i = 0; i < count && row < y + height - 1; i++, row++) {
        put(row, x + 2, 18, colour(f, TUI_COLOUR_KEY), keys[i].keys);
        put(row, x + 20, width - 22, A_NORMAL, keys[i].what);
    }
    row++;
    for (size_t i = 0; i < sizeof notes / sizeof notes[0] && row < y + height - 1; i++, row++)
        put(row, x + 2, width - 4, colour(f, TUI_COLOUR_DIM), notes[i]);
}

static void separators(const Frame *f, const TuiLayout *l)
{
    TuiRect after[] = {l->shift, l->loss};
    for (int i = 0; i < 2; i++)
        for (int row = 0; row < after[i].height; row++)
            put(after[i].y + row, after[i].x + after[i].width, 1, colour(f, TUI_COLOUR_DIM), f->g->bar);
    if (l->log.x > 0)
        for (int row = 0; row < l->log.height; row++)
            put(l->log.y + row, l->log.x - 1, 1, colour(f, TUI_COLOUR_DIM), f->g->bar);
}

void tui_draw_frame(TuiScreen *screen, TuiUi *ui, const TuiView *view)
{
    Frame f = {screen, screen->unicode ? &unicode_glyphs : &ascii_glyphs, view, ui};
    erase();
    int rows = LINES, cols = COLS;
    tui_input_settle_cursor(ui, view);
    int lpr = screen->unicode && screen->palette != TUI_PALETTE_MONO ? 2 : 1;
    int layers = view->started ? view->layers : 2, experts = view->started ? view->experts : 8;
    TuiLayout layout;
    tui_layout_compute(rows, cols, tui_heatmap_rows(layers, lpr) + TUI_HEATMAP_CHROME_ROWS,
                       tui_heatmap_natural_width(layers, experts, lpr), &layout);
    if (layout.too_small) {
        putf(0, 0, cols, A_BOLD, "uoe-wb: the terminal is %d x %d; the workbench needs %d x %d", cols,
             rows, TUI_MIN_COLS, TUI_MIN_ROWS);
        putf(1, 0, cols, A_NORMAL, "q quits");
        ui->heatmap_cells = (TuiRect){0};
        refresh();
        return;
    }
    draw_header(&f, layout.header);
    draw_heatmap(&f, layout.heatmap);
    draw_shift(&f, layout.shift);
    draw_losses(&f, layout.loss);
    draw_evals(&f, layout.evals);
    draw_log(&f, layout.log);
    separators(&f, &layout);
    draw_keys(&f, layout.keys);
    if (ui->help)
        draw_help(&f, rows, cols);
    refresh();
}
