/* The gnuplot figures of `uoe-wb plot`, built from run directories read by
 * run_reader.h: one script per figure, with its data inline as datablocks,
 * rendered by gnuplot.h. The figures of one run:
 *   routing-heatmap-forget, routing-heatmap-retain
 *                    the selection share of each (MoE layer, expert) at step 0,
 *                    at the last snapshot, and the change; the target boxed
 *   token-overlap    per-layer and mean token overlap with step 0 over steps,
 *                    forget and retain probes (the paper's Figure 3, left)
 *   loss             forget, retain and anchor terms and the total per step
 *   fe-ut            FE and UT at each evaluation, the selected step marked
 *   expert-share-layer<L>
 *                    the share of each expert of one layer, step 0 against the
 *                    last snapshot, for both probes (the paper's Figure 2 kind)
 * and of several runs compared:
 *   compare-scatter  FE against UT, one point per run, from its step 0
 *   compare-bars     UT and FE of each run */
#ifndef UOE_PLOT_H
#define UOE_PLOT_H

#include "gnuplot.h"
#include "run_reader.h"

/* The figures of one run; share_layer is the model layer of the expert-share
 * bars (an MoE layer of the run). Returns 0 and *figures (*count of them). */
int plot_run_figures(const RunData *run, int share_layer, GnuplotFigure **figures, int *count);

/* The comparison of num_runs runs, each labelled by method and trainable set
 * (and its directory's name where two would read the same). */
int plot_compare_figures(const RunData *runs, int num_runs, GnuplotFigure **figures, int *count);

void plot_figures_free(GnuplotFigure *figures, int count);

#endif
