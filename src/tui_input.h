/* The workbench's keys and mouse: what the UI thread does with each, as
 * changes to its own state (cursor, heatmap view, help, a question) and
 * commands for the worker. Every key here is listed by tui_input_keys(),
 * which the help screen prints, and in man uoe-wb. */
#ifndef UOE_TUI_INPUT_H
#define UOE_TUI_INPUT_H

#include <stdbool.h>

#include "tui_layout.h"
#include "tui_state.h"

typedef enum { TUI_HEATMAP_SHARE, TUI_HEATMAP_CHANGE, TUI_HEATMAP_ATTRIBUTION } TuiHeatmapKind;
typedef enum { TUI_ASK_NOTHING, TUI_ASK_QUIT, TUI_ASK_RETARGET } TuiQuestion;

typedef struct {
    int cursor_layer, cursor_expert;
    bool cursor_placed;      /* the user moved it; until then it sits on the target */
    bool pause_wanted;       /* space and s asked for a pause (the worker takes it between steps) */
    TuiHeatmapKind kind;
    bool retain;             /* the retain probe, else the forget probe */
    bool help;
    TuiQuestion question;    /* waiting for y or n */
    int asked_layer, asked_expert;
    TuiHeatmapView heatmap;  /* the last frame's heatmap: scroll position, mouse hits */
    TuiRect heatmap_cells;   /* where its cells were drawn */
    bool quit;               /* leave the UI loop */
    char note[160];          /* a line for the key bar, until the next key */
} TuiUi;

void tui_ui_init(TuiUi *ui);

/* Mouse buttons, as the caller read them from curses. */
typedef struct {
    int x, y;                /* screen column and row */
} TuiClick;

/* Handles one key (a curses key code; KEY_MOUSE with *click). Returns the
 * number of commands written to out (at most 1). */
int tui_input_key(TuiUi *ui, const TuiView *view, int key, const TuiClick *click, TuiCommand *out);
/* Puts the cursor on the target until the user moves it; keeps it inside
 * the model's grid. */
void tui_input_settle_cursor(TuiUi *ui, const TuiView *view);

typedef struct {
    const char *keys, *what;
} TuiKeyHelp;

/* Every key, in the order of the help screen; ends with {NULL, NULL}. */
const TuiKeyHelp *tui_input_keys(void);

#endif
