/* The workbench's terminal: curses started and restored, the palette
 * (256 colours, 8, or none under NO_COLOR or on a monochrome terminal),
 * whether it takes UTF-8 (half blocks, braille, box lines) or plain ASCII,
 * the mouse, and the colour pairs of the heatmap ramps and the UI.
 *
 * The terminal is restored on every exit path: tui_screen_close is
 * registered with atexit, and the fatal signals (SIGSEGV, SIGBUS, SIGFPE,
 * SIGABRT) restore it before the default action. SIGINT and SIGTERM set a
 * flag that the UI thread reads (a second one restores the terminal and
 * exits at once). A resize reaches the UI thread as KEY_RESIZE from curses'
 * own SIGWINCH handler, which only sets a flag. */
#ifndef UOE_TUI_SCREEN_H
#define UOE_TUI_SCREEN_H

#include <stdbool.h>

#include <curses.h>

#include "tui_layout.h"

typedef enum {
    TUI_COLOUR_TITLE,        /* the title bar and pane titles */
    TUI_COLOUR_FORGET,       /* series of the forget side */
    TUI_COLOUR_RETAIN,
    TUI_COLOUR_ANCHOR,
    TUI_COLOUR_UTILITY,      /* UT */
    TUI_COLOUR_DIM,          /* axes, units, hints */
    TUI_COLOUR_GOOD,         /* running */
    TUI_COLOUR_WARN,         /* paused, stopping */
    TUI_COLOUR_BAD,          /* failed, errors */
    TUI_COLOUR_KEY,          /* key names in the hints and the help */
    TUI_COLOUR_COUNT
} TuiColour;

typedef struct {
    TuiPalette palette;
    bool unicode;
    bool mouse;
    TuiRampKind ramp_kind;   /* whose pairs are set up now */
    TuiRamp ramp;
} TuiScreen;

/* Starts curses on the terminal (setlocale must have run). Returns -1 with
 * an error set when the terminal cannot be used. */
int tui_screen_open(TuiScreen *screen);
/* Restores the terminal; safe to call more than once. */
void tui_screen_close(void);
/* The SIGINT or SIGTERM that arrived, or 0. */
int tui_screen_signal(void);

/* Sets up the heatmap's colour pairs for a ramp (cheap when unchanged). */
void tui_screen_use_ramp(TuiScreen *screen, TuiRampKind kind);
/* The attribute of a packed half block, of a single cell at `level`, and of
 * a marker glyph drawn on a cell at `level`. */
attr_t tui_screen_half_block(const TuiScreen *screen, TuiHalfBlock cell);
attr_t tui_screen_level(const TuiScreen *screen, int level);
attr_t tui_screen_marker(const TuiScreen *screen, int level);
attr_t tui_screen_colour(const TuiScreen *screen, TuiColour colour);

#endif
