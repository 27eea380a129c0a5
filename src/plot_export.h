/* Plot export, the one path that `uoe-wb plot` and the Lua module's
 * uoe.plot share: read and check every run directory, build the figures
 * (plot.h), and render each in each format into an output folder, through
 * gnuplot (gnuplot.h). Nothing is drawn unless every run reads cleanly. */
#ifndef UOE_PLOT_EXPORT_H
#define UOE_PLOT_EXPORT_H

#include <stdbool.h>

#include "gnuplot.h"

typedef struct {
    bool formats[GNUPLOT_FORMAT_COUNT]; /* none set = PNG */
    const char *out_dir;                /* created when missing */
    bool keep_script;                   /* NAME.EXT.gp beside each plot */
    bool compare;                       /* the comparison figures of all the runs */
    int share_layer;                    /* expert-share bars of this layer; -1 = the target's */
} PlotExport;

/* Renders the figures of run_dirs (one run, or several with compare), and
 * calls written(ctx, path) for each file written. An output folder made by
 * this call is removed again when it fails before writing anything. */
int plot_export(const char *const *run_dirs, int num_runs, const PlotExport *request,
                void (*written)(void *ctx, const char *path), void *ctx);

#endif
