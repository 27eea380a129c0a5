#include "tui_screen.h"

#include <langinfo.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"

static volatile sig_atomic_t screen_active;
static volatile sig_atomic_t interrupted;

void tui_screen_close(void)
{
    if (screen_active) {
        screen_active = 0;
        endwin();
    }
}

static void on_interrupt(int sig)
{
    if (interrupted) { /* the second one: now */
        tui_screen_close();
        _exit(128 + sig);
    }
    interrupted = sig;
}

static void on_fatal(int sig)
{
    tui_screen_close();
    signal(sig, SIG_DFL);
    raise(sig);
}

int tui_screen_signal(void)
{
    return interrupted;
}

/* Pair numbers: the heatmap's (upper, lower) pairs first, then a marker
 * pair per level, then the UI's. */
static int marker_base(const TuiScreen *s)
{
    return 1 + tui_half_block_pairs(s->ramp.levels);
}

/* After room for the palette's largest ramp, so the UI's pairs never move. */
static int ui_base(const TuiScreen *s)
{
    int most = s->palette == TUI_PALETTE_256 ? TUI_RAMP_MAX_LEVELS : 5;
    return 1 + tui_half_block_pairs(most) + most + 1;
}

static void init_ui_pairs(const TuiScreen *s)
{
    bool rich = s->palette == TUI_PALETTE_256;
    /* foreground, background */
    const short colours[TUI_COLOUR_COUNT][2] = {
        [TUI_COLOUR_TITLE] = {COLOR_BLACK, rich ? 110 : COLOR_CYAN},
        [TUI_COLOUR_FORGET] = {rich ? 203 : COLOR_RED, -1},
        [TUI_COLOUR_RETAIN] = {rich ? 75 : COLOR_CYAN, -1},
        [TUI_COLOUR_ANCHOR] = {rich ? 221 : COLOR_YELLOW, -1},
        [TUI_COLOUR_UTILITY] = {rich ? 114 : COLOR_GREEN, -1},
        [TUI_COLOUR_DIM] = {rich ? 244 : COLOR_WHITE, -1},
        [TUI_COLOUR_GOOD] = {rich ? 114 : COLOR_GREEN, -1},
        [TUI_COLOUR_WARN] = {rich ? 214 : COLOR_YELLOW, -1},
        [TUI_COLOUR_BAD] = {rich ? 196 : COLOR_RED, -1},
        [TUI_COLOUR_KEY] = {rich ? 117 : COLOR_CYAN, -1},
    };
    for (int c = 0; c < TUI_COLOUR_COUNT; c++)
        init_pair((short)(ui_base(s) + c), colours[c][0], colours[c][1]);
}

int tui_screen_open(TuiScreen *s)
{
    memset(s, 0, sizeof *s);
    s->unicode = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
    if (!newterm(NULL, stdout, stdin))
        return error_set("cannot start the terminal interface (TERM=%s)",
                         getenv("TERM") ? getenv("TERM") : "unset");
    screen_active = 1;
    atexit(tui_screen_close);
    struct sigaction action;
    memset(&action, 0, sizeof action);
    sigemptyset(&action.sa_mask);
    action.sa_handler = on_interrupt;
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    action.sa_handler = on_fatal;
    action.sa_flags = SA_RESETHAND;
    int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGABRT};
    for (int i = 0; i < 4; i++)
        sigaction(fatal[i], &action, NULL);

    cbreak();
    noecho();
    set_escdelay(25); /* Escape closes the help at once, not after a second */
    keypad(stdscr, TRUE);
    curs_set(0);
    const char *no_color = getenv("NO_COLOR");
    s->palette = TUI_PALETTE_MONO;
    if (has_colors() && !(no_color && *no_color)) {
        start_color();
        use_default_colors();
        TuiPalette palettes[] = {TUI_PALETTE_256, TUI_PALETTE_8};
        int colours[] = {256, 8};
        for (int i = 0; i < 2 && s->palette == TUI_PALETTE_MONO; i++) {
            s->palette = palettes[i];
            if (COLORS < colours[i] || COLOR_PAIRS <= ui_base(s) + TUI_COLOUR_COUNT)
                s->palette = TUI_PALETTE_MONO;
        }
    }
    if (s->palette != TUI_PALETTE_MONO)
        init_ui_pairs(s);
    s->ramp_kind = TUI_RAMP_DIVERGING; /* so that the first use sets up the pairs */
    s->ramp.levels = 0;
    tui_screen_use_ramp(s, TUI_RAMP_SEQUENTIAL);
    mouseinterval(0);
    s->mouse = mousemask(BUTTON1_PRESSED | BUTTON1_CLICKED, NULL) != 0;
    return 0;
}

void tui_screen_use_ramp(TuiScreen *s, TuiRampKind kind)
{
    if (s->ramp.levels && s->ramp_kind == kind)
        return;
    s->ramp_kind = kind;
    s->ramp = tui_ramp(kind, s->palette);
    if (s->palette == TUI_PALETTE_MONO)
        return;
    int n = s->ramp.levels;
    for (int upper = 0; upper <= n; upper++)
        for (int lower = 0; lower <= n; lower++)
            init_pair((short)tui_half_block_pair((TuiHalfBlock){upper, lower}, n),
                      s->ramp.colours[upper], s->ramp.colours[lower]);
    for (int level = 0; level <= n; level++)
        init_pair((short)(marker_base(s) + level), s->palette == TUI_PALETTE_256 ? 231 : COLOR_WHITE,
                  s->ramp.colours[level]);
}

attr_t tui_screen_half_block(const TuiScreen *s, TuiHalfBlock cell)
{
    return COLOR_PAIR(tui_half_block_pair(cell, s->ramp.levels));
}

attr_t tui_screen_level(const TuiScreen *s, int level)
{
    if (s->palette == TUI_PALETTE_MONO)
        return A_NORMAL;
    /* a single layer: its colour as the background of a blank cell */
    return COLOR_PAIR(tui_half_block_pair((TuiHalfBlock){level, level}, s->ramp.levels));
}

attr_t tui_screen_marker(const TuiScreen *s, int level)
{
    if (s->palette == TUI_PALETTE_MONO)
        return A_REVERSE | A_BOLD;
    return COLOR_PAIR(marker_base(s) + level) | A_BOLD;
}

attr_t tui_screen_colour(const TuiScreen *s, TuiColour colour)
{
    if (s->palette == TUI_PALETTE_MONO) {
        switch (colour) {
        case TUI_COLOUR_TITLE: return A_REVERSE;
        case TUI_COLOUR_DIM: return A_DIM;
        case TUI_COLOUR_KEY: case TUI_COLOUR_BAD: case TUI_COLOUR_WARN: return A_BOLD;
        default: return A_NORMAL;
        }
    }
    return COLOR_PAIR(ui_base(s) + colour) | (colour == TUI_COLOUR_KEY ? A_BOLD : A_NORMAL);
}
