/* The workbench screen's geometry and glyphs, as pure functions of sizes
 * and values (no curses): colour ramps and level glyphs, the heatmap packed
 * two layers per character cell with half blocks, scrolling windows, the
 * panes of a terminal of any size, braille line charts, eighth-block bars
 * and the α and learning-rate ladders. tui_draw.c puts them on the screen;
 * tests/test_tui_layout.c checks them.
 *
 * Dimensions: L layers, E experts; heatmap matrices are (L, E), row-major. */
#ifndef UOE_TUI_LAYOUT_H
#define UOE_TUI_LAYOUT_H

#include <stdbool.h>

/* ---- colour ramps ---- */

typedef enum { TUI_PALETTE_MONO, TUI_PALETTE_8, TUI_PALETTE_256 } TuiPalette;
typedef enum { TUI_RAMP_SEQUENTIAL, TUI_RAMP_DIVERGING } TuiRampKind;

#define TUI_RAMP_MAX_LEVELS 11

/* Levels 1..levels of a ramp, low to high (diverging: negative to positive,
 * zero at the middle level), and level 0 for "no value" (a dense layer).
 * colours[] are curses colour numbers (-1 = the terminal's background);
 * glyphs[] the characters that stand for the levels without colour. */
typedef struct {
    int levels;
    short colours[TUI_RAMP_MAX_LEVELS + 1];
    char glyphs[TUI_RAMP_MAX_LEVELS + 2];
} TuiRamp;

TuiRamp tui_ramp(TuiRampKind kind, TuiPalette palette);
/* The level of value on [lo, hi] split evenly into `levels` bins: 1 at or
 * below lo, `levels` at or above hi; 0 for a NaN. With lo = -hi and an odd
 * number of levels, 0 falls in the middle level. */
int tui_ramp_level(double value, double lo, double hi, int levels);

/* ---- the heatmap ---- */

/* Text rows that L layers take at layers_per_row (2 = packed in half blocks). */
int tui_heatmap_rows(int layers, int layers_per_row);
/* The layers drawn in text row `row`: *upper, and *lower (-1 when the row
 * holds one layer, unpacked or the last of an odd count). */
void tui_heatmap_row_layers(int row, int layers, int layers_per_row, int *upper, int *lower);

/* A packed character cell: the ramp levels of its upper and lower halves. */
typedef struct {
    int upper, lower;
} TuiHalfBlock;

/* Packs text row `row` of levels (L, E) for experts first .. first+count-1
 * into out (count): the upper half is layer 2*row, the lower 2*row+1, and a
 * lower half past the last layer is level 0. */
void tui_pack_half_blocks(const int *levels, int layers, int experts, int row, int first,
                          int count, TuiHalfBlock *out);
/* The colour pair of a half block on a ramp of `levels` levels: pairs
 * 1 .. tui_half_block_pairs(levels), one per (upper, lower). */
int tui_half_block_pair(TuiHalfBlock cell, int levels);
int tui_half_block_pairs(int levels);

/* The first item of a window of `visible` items over `total` that shows
 * `cursor`, moving the window from `first` as little as it must. */
int tui_scroll_to_show(int first, int visible, int total, int cursor);

/* Where the heatmap's cells go in a pane `width` columns by `rows` text
 * rows (its labels included), and which part of the (L, E) grid shows. */
typedef struct {
    int layers_per_row;      /* 2 packed, 1 one layer per row */
    int label_width;         /* "L46/47 " */
    int cell_width;          /* columns per expert, 1 to TUI_MAX_CELL_WIDTH */
    int first_expert, visible_experts;
    int first_row, visible_rows, total_rows;
} TuiHeatmapView;

#define TUI_MAX_CELL_WIDTH 4

/* Columns of the row labels ("L46/47" with a marker column and a space). */
int tui_heatmap_label_width(int layers, int layers_per_row);
/* Columns the heatmap would use at the widest cells. */
int tui_heatmap_natural_width(int layers, int experts, int layers_per_row);
/* Fits an L x E heatmap into a pane `width` columns wide (labels included)
 * with `rows` text rows for its cells, keeping the cursor's cell in view
 * and the scroll position of `previous` (NULL = from the top left) where it
 * can. */
void tui_heatmap_fit(int width, int rows, int layers, int experts, int layers_per_row,
                     int cursor_layer, int cursor_expert, const TuiHeatmapView *previous,
                     TuiHeatmapView *out);
/* The (layer, expert) under column x and text row y of the pane (0-based,
 * labels included); false outside the cells. A packed cell holds two layers:
 * `prefer_lower` picks the lower one (when there is one). */
bool tui_heatmap_cell_at(const TuiHeatmapView *view, int layers, int x, int y, bool prefer_lower,
                         int *layer, int *expert);

/* ---- panes ---- */

typedef struct {
    int y, x, height, width;
} TuiRect;

/* The screen: a 3-line header, the heatmap, a row of three charts (router
 * shift, losses, FE and UT), the log, and a line of key hints at the bottom.
 * The heatmap pane asks for `heatmap_rows_wanted` rows (its cells plus title,
 * ruler, legend and cell lines) and gets what leaves the others their
 * minimum. Where the heatmap at its natural width (`heatmap_cols_wanted`)
 * leaves TUI_MIN_SIDE_LOG columns, the log goes beside it; else below the
 * charts. */
typedef struct {
    bool too_small;          /* below TUI_MIN_COLS x TUI_MIN_ROWS: draw only a notice */
    TuiRect header, heatmap, shift, loss, evals, log, keys;
} TuiLayout;

#define TUI_MIN_COLS 60
#define TUI_MIN_ROWS 20
#define TUI_MIN_SIDE_LOG 40
/* Rows of the heatmap pane around its cells: title, ruler, legend, two cell lines. */
#define TUI_HEATMAP_CHROME_ROWS 5

void tui_layout_compute(int rows, int cols, int heatmap_rows_wanted, int heatmap_cols_wanted,
                        TuiLayout *out);

/* ---- charts ---- */

/* A braille canvas: each character cell holds 2 x 4 dots. dots is (rows,
 * cols), each entry the bit mask of the cell's dots in Unicode braille order
 * (the character is U+2800 + mask). */
typedef struct {
    int rows, cols;
    unsigned char *dots;
} TuiBraille;

/* Plots the line through the points (xs, ys) (n) onto the canvas, x over
 * [x0, x1] and y over [y0, y1] (y up); points outside are clamped. */
void tui_braille_line(TuiBraille *canvas, const double *xs, const double *ys, int n, double x0,
                      double x1, double y0, double y1);

/* Averages the points (xs, ys) (n) into `buckets` consecutive groups of
 * about n / buckets points each, into out_xs and out_ys (buckets), so that
 * a long history draws as a line rather than a smear. Returns the number of
 * points written: n itself (copied) when n <= buckets. */
int tui_resample_mean(const double *xs, const double *ys, int n, int buckets, double *out_xs,
                      double *out_ys);

/* A vertical bar of value on [lo, hi] in a column of `rows` cells, in
 * eighths: the glyph index (0 = empty .. 8 = full block) of the cell `row`
 * counted from the bottom. */
int tui_bar_eighths(double value, double lo, double hi, int rows, int row);

/* The first of the items that column `column` of `columns` stands for, when
 * `items` items share the columns evenly (items > columns), or item
 * `column` (items <= columns, -1 past the last). */
int tui_bucket_first(int column, int columns, int items);

/* The next value up (direction > 0) or down on a 1-2-5 ladder within
 * [low, high], with 0 below low when zero_allowed; a value between rungs goes
 * to the next rung in the direction. */
double tui_ladder_step(double value, int direction, double low, double high, bool zero_allowed);

/* [lo, hi] rounded outwards to a tidy step (1, 2 or 5 times a power of 10),
 * never empty: for chart axes. */
void tui_nice_range(double lo, double hi, double *nice_lo, double *nice_hi);

#endif
