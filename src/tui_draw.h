/* Draws one frame of the workbench from the UI thread's copy of the view:
 * the header, the routing heatmap with its ruler, legend and cell line,
 * router shift (per-layer bars and the mean over steps, forget and retain
 * side by side), the loss terms, FE and UT, the log, the key bar, and the
 * help screen or a question over them. The geometry comes from
 * tui_layout.h; nothing here changes the view. */
#ifndef UOE_TUI_DRAW_H
#define UOE_TUI_DRAW_H

#include "tui_input.h"
#include "tui_screen.h"
#include "tui_state.h"

/* Draws and refreshes; remembers in *ui where the heatmap's cells went. */
void tui_draw_frame(TuiScreen *screen, TuiUi *ui, const TuiView *view);

#endif
