/* uoe-wb plot: renders the plots of unlearning run directories through
 * gnuplot (plot.h), as PNG, SVG or PDF. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "gnuplot.h"
#include "plot_export.h"

static const char plot_usage[] =
    "Usage: uoe-wb plot RUN_DIR [--format FORMAT] [--out DIR] [--keep-script] [--layer L]\n"
    "       uoe-wb plot RUN_DIR... --compare [--format FORMAT] [--out DIR] [--keep-script]\n"
    "Renders the plots of a run directory written by 'uoe-wb unlearn' through gnuplot:\n"
    "  routing-heatmap-forget, routing-heatmap-retain\n"
    "                       the share of the top-k selections per MoE layer and expert\n"
    "                       at step 0, at the last snapshot, and the change; the\n"
    "                       target expert boxed\n"
    "  token-overlap        per-layer and mean token overlap with step 0 over steps\n"
    "  loss                 forget, retain and router anchor terms, and the total\n"
    "  fe-ut                FE and UT at each evaluation, the selected step marked\n"
    "  expert-share-layerL  each expert's share of layer L, step 0 and last snapshot\n"
    "With --compare, one plot of all the runs given:\n"
    "  compare-scatter      FE against UT, one point per run (method + set)\n"
    "  compare-bars         UT and FE by run\n"
    "Every file is checked before anything is drawn; the run directories are only read.\n"
    "  --format F      png (default), svg or pdf; a comma-separated list renders each\n"
    "  --out DIR       where the plots go (default: the current directory); created\n"
    "                  if missing\n"
    "  --keep-script   also write NAME.EXT.gp beside each plot: its gnuplot script,\n"
    "                  data inline, which re-renders it when gnuplot runs it in DIR\n"
    "  --layer L       the MoE layer of the expert-share bars (default: the layer of\n"
    "                  the target expert)\n"
    "  --compare       compare the runs given\n"
    "gnuplot is $UOE_GNUPLOT if set, else gnuplot from PATH (5.2 or later, with the\n"
    "pngcairo and pdfcairo terminals for PNG and PDF).\n";

/* Reads "png,svg" into a set of formats. */
static int parse_formats(const char *text, bool wanted[GNUPLOT_FORMAT_COUNT])
{
    char *copy = xstrdup(text), *save = NULL;
    int rc = 0, any = 0;
    for (char *name = strtok_r(copy, ",", &save); name && rc == 0;
         name = strtok_r(NULL, ",", &save)) {
        GnuplotFormat format;
        rc = gnuplot_format_parse(name, &format);
        if (rc == 0) {
            wanted[format] = true;
            any = 1;
        }
    }
    free(copy);
    if (rc == 0 && !any)
        rc = error_set("--format: expected png, svg or pdf");
    return rc;
}

static int parse_layer(const char *text, int *layer)
{
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (end == text || *end != '\0' || errno != 0 || value < 0 || value > 100000)
        return error_set("--layer: expected a layer index, got '%s'", text);
    *layer = (int)value;
    return 0;
}

static void print_path(void *ctx, const char *path)
{
    (void)ctx;
    printf("%s\n", path);
}

int cmd_plot(int argc, char **argv)
{
    static const struct option options[] = {
        {"format", required_argument, NULL, 'f'}, {"out", required_argument, NULL, 'o'},
        {"keep-script", no_argument, NULL, 'k'},  {"layer", required_argument, NULL, 'l'},
        {"compare", no_argument, NULL, 'c'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool formats[GNUPLOT_FORMAT_COUNT] = {false}, keep_script = false, compare = false;
    const char *out_dir = ".";
    int layer = -1, opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'f':
            if (parse_formats(optarg, formats) < 0) {
                cli_report_error();
                return EXIT_USAGE;
            }
            break;
        case 'o': out_dir = optarg; break;
        case 'k': keep_script = true; break;
        case 'c': compare = true; break;
        case 'l':
            if (parse_layer(optarg, &layer) < 0) {
                cli_report_error();
                return EXIT_USAGE;
            }
            break;
        case 'h': fputs(plot_usage, stdout); return 0;
        default: fputs(plot_usage, stderr); return EXIT_USAGE;
        }
    }
    int num_runs = argc - optind;
    if (num_runs < 1 || (num_runs > 1 && !compare) || (compare && layer >= 0) || !*out_dir) {
        if (num_runs > 1 && !compare)
            fputs("uoe-wb: plot: several run directories need --compare\n", stderr);
        if (compare && layer >= 0)
            fputs("uoe-wb: plot: --layer applies to the plots of one run, not to --compare\n",
                  stderr);
        fputs(plot_usage, stderr);
        return EXIT_USAGE;
    }
    PlotExport request = {.out_dir = out_dir, .keep_script = keep_script, .compare = compare,
                          .share_layer = layer};
    memcpy(request.formats, formats, sizeof formats);
    if (plot_export((const char *const *)argv + optind, num_runs, &request, print_path, NULL) < 0)
        return cli_report_error();
    return 0;
}
