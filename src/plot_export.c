#include "plot_export.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "plot.h"
#include "run_reader.h"

/* Makes the output folder; *created tells whether it was not there before. */
static int make_output_directory(const char *dir, bool *created)
{
    *created = false;
    if (mkdir(dir, 0777) == 0) {
        *created = true;
        return 0;
    }
    struct stat status;
    if (errno != EEXIST)
        return error_set("%s: cannot create the output folder: %s", dir, strerror(errno));
    if (stat(dir, &status) != 0 || !S_ISDIR(status.st_mode))
        return error_set("%s: exists but is not a folder", dir);
    return 0;
}

int plot_export(const char *const *run_dirs, int num_runs, const PlotExport *request,
                void (*written)(void *ctx, const char *path), void *ctx)
{
    if (num_runs < 1 || (num_runs > 1 && !request->compare))
        return error_set("plot: one run directory, or several to compare");
    bool formats[GNUPLOT_FORMAT_COUNT], any_format = false;
    for (int f = 0; f < GNUPLOT_FORMAT_COUNT; f++)
        any_format |= formats[f] = request->formats[f];
    if (!any_format)
        formats[GNUPLOT_PNG] = true;

    /* Read and check every run before drawing anything. */
    RunData *runs = xcalloc((size_t)num_runs, sizeof *runs);
    GnuplotFigure *figures = NULL;
    int num_loaded = 0, num_figures = 0, rc = 0;
    for (; num_loaded < num_runs && rc == 0; num_loaded++)
        rc = run_data_load(&runs[num_loaded], run_dirs[num_loaded]);
    if (rc == 0)
        rc = request->compare
                 ? plot_compare_figures(runs, num_runs, &figures, &num_figures)
                 : plot_run_figures(&runs[0], request->share_layer >= 0 ? request->share_layer
                                                                       : runs[0].target_layer,
                                    &figures, &num_figures);
    bool created = false;
    if (rc == 0)
        rc = make_output_directory(request->out_dir, &created);
    const char *program = gnuplot_program();
    for (int i = 0; i < num_figures && rc == 0; i++)
        for (int f = 0; f < GNUPLOT_FORMAT_COUNT && rc == 0; f++) {
            if (!formats[f])
                continue;
            rc = gnuplot_render(program, &figures[i], (GnuplotFormat)f, request->out_dir,
                                request->keep_script);
            if (rc == 0 && written) {
                char path[4096];
                snprintf(path, sizeof path, "%s/%s.%s", request->out_dir, figures[i].name,
                         gnuplot_format_name(f));
                written(ctx, path);
            }
        }
    if (rc < 0 && created)
        rmdir(request->out_dir); /* only succeeds if nothing was written */
    plot_figures_free(figures, num_figures);
    for (int i = 0; i < num_loaded; i++)
        run_data_free(&runs[i]);
    free(runs);
    return rc;
}
