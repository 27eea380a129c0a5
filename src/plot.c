#include "plot.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* Perceptually ordered, and readable in greyscale: viridis runs from dark
 * to light. The diverging scale of changes is centred on white at zero;
 * where the grid is small enough its cells also carry their values, so that
 * the sign survives a greyscale print. */
static const char viridis_palette[] =
    "set palette defined (0 '#440154', 0.125 '#472d7b', 0.25 '#3b528b', 0.375 '#2c728e', "
    "0.5 '#21918c', 0.625 '#28ae80', 0.75 '#5ec962', 0.875 '#addc30', 1 '#fde725')\n";
static const char diverging_palette[] =
    "set palette defined (0 '#2166ac', 0.2 '#4393c3', 0.4 '#d1e5f0', 0.5 '#f7f7f7', "
    "0.6 '#fddbc7', 0.8 '#d6604d', 1 '#b2182b')\n";

/* Series colours, dark to light along viridis, each series also with its own
 * dash and point type so that lines stay apart in greyscale. */
static const char line_styles[] =
    "set style line 1 linecolor rgb '#440154' linewidth 2 dashtype 1 pointtype 7 pointsize 0.9\n"
    "set style line 2 linecolor rgb '#3b528b' linewidth 2 dashtype 2 pointtype 5 pointsize 0.9\n"
    "set style line 3 linecolor rgb '#21918c' linewidth 2 dashtype 4 pointtype 9 pointsize 1.1\n"
    "set style line 4 linecolor rgb '#5ec962' linewidth 2 dashtype 5 pointtype 13 pointsize 1.1\n"
    "set style line 9 linecolor rgb 'black' linewidth 2.5 dashtype 1 pointtype 6 pointsize 0.9\n"
    "set grid back linecolor rgb '#d9d9d9' linewidth 0.7 dashtype 1\n";
#define LIGHT_BAR "#7ad151"
#define DARK_BAR "#3b528b"

/* The text of one figure, written through a stdio stream. */
typedef struct {
    FILE *out;
    char *text;
    size_t size;
} Script;

static FILE *script_open(Script *script)
{
    script->text = NULL;
    script->size = 0;
    script->out = open_memstream(&script->text, &script->size);
    if (!script->out)
        FATAL("open_memstream: %s", strerror(errno));
    return script->out;
}

static void add_figure(GnuplotFigure **figures, int *count, const char *name, Script *script,
                       int width, int height)
{
    if (fclose(script->out) != 0)
        FATAL("open_memstream: %s", strerror(errno));
    *figures = xrealloc(*figures, (size_t)(*count + 1) * sizeof **figures);
    (*figures)[(*count)++] = (GnuplotFigure){.name = xstrdup(name), .body = script->text,
                                             .width = width, .height = height};
}

void plot_figures_free(GnuplotFigure *figures, int count)
{
    for (int i = 0; i < count; i++) {
        free(figures[i].name);
        free(figures[i].body);
    }
    free(figures);
}

/* A gnuplot double-quoted string; "\n" in text is kept as a line break. */
static void put_text(FILE *out, const char *text)
{
    fputc('"', out);
    for (; *text; text++) {
        if (*text == '\n')
            fputs("\\n", out);
        else {
            if (*text == '"' || *text == '\\')
                fputc('\\', out);
            fputc(*text, out);
        }
    }
    fputc('"', out);
}

/* A printf-formatted gnuplot string. */
static void put_textf(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_textf(FILE *out, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    put_text(out, text);
}

/* The last component of a path, without trailing slashes. */
static void base_name(const char *path, char *out, size_t size)
{
    size_t end = strlen(path);
    while (end > 1 && path[end - 1] == '/')
        end--;
    size_t start = end;
    while (start > 0 && path[start - 1] != '/')
        start--;
    snprintf(out, size, "%.*s", (int)(end - start), path + start);
}

/* "run NAME: METHOD on SET": the second line of every single-run title. */
static void run_label(const RunData *run, char *out, size_t size)
{
    char name[256];
    base_name(run->path, name, sizeof name);
    snprintf(out, size, "run %s: %s, trainable set %s", name, run->method, run->trainable_set);
}

/* The last step any record reaches: the right end of the step axis. */
static int last_step(const RunData *run)
{
    int last = run->steps[run->num_steps - 1].step;
    if (run->evals[run->num_evals - 1].step > last)
        last = run->evals[run->num_evals - 1].step;
    if (run->snapshots[run->num_snapshots - 1].step > last)
        last = run->snapshots[run->num_snapshots - 1].step;
    return last > 0 ? last : 1;
}

/* A tic step from 1, 2, 5, 10, ... that puts at most max_tics tics on count. */
static int tic_step(int count, int max_tics)
{
    static const int steps[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if (count / steps[i] <= max_tics)
            return steps[i];
    return 1000;
}

/* The smallest of 1, 2 or 5 times a power of ten that cuts [0, max] into at
 * most parts steps. */
static double nice_step(double max, int parts)
{
    double raw = max / parts, power = pow(10, floor(log10(raw)));
    double mantissa = raw / power;
    return (mantissa <= 1 ? 1 : mantissa <= 2 ? 2 : mantissa <= 5 ? 5 : 10) * power;
}

static void put_step_axis(FILE *out, const RunData *run)
{
    fprintf(out, "set xlabel \"optimizer step\"\nset xrange [0:%d]\n", last_step(run));
}

/* ---- routing heatmaps ---- */

/* The rows of a matrix datablock: one line per MoE layer, one value per expert. */
static void put_matrix(FILE *out, const char *name, const double *values, int rows, int cols)
{
    fprintf(out, "%s << EOD\n", name);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            fprintf(out, "%.6g%c", values[(size_t)r * cols + c], c + 1 < cols ? ' ' : '\n');
    fputs("EOD\n", out);
}

/* y tics naming the model layer of each row. */
static void put_layer_tics(FILE *out, const RunData *run)
{
    int every = tic_step(run->num_moe_layers, 8);
    fputs("set ytics nomirror out (", out);
    for (int row = 0; row < run->num_moe_layers; row += every)
        fprintf(out, "%s\"%d\" %d", row ? ", " : "", run->moe_layers[row], row);
    fputs(")\n", out);
}

static void put_routing_heatmap(const RunData *run, const char *probe_name, bool forget,
                                GnuplotFigure **figures, int *count)
{
    const RunRoutingSnapshot *first = &run->routing[0];
    const RunRoutingSnapshot *last = &run->routing[run->num_snapshots - 1];
    const RunProbeRouting *before = forget ? &first->forget : &first->retain;
    const RunProbeRouting *after = forget ? &last->forget : &last->retain;
    int M = run->num_moe_layers, E = run->num_experts;
    size_t cells = (size_t)M * E;
    double *share_first = xmalloc(cells * sizeof(double));   /* [M, E] percent */
    double *share_last = xmalloc(cells * sizeof(double));    /* [M, E] percent */
    double *change = xmalloc(cells * sizeof(double));        /* [M, E] percentage points */
    double share_max = 0, change_max = 0;
    for (size_t i = 0; i < cells; i++) {
        share_first[i] = 100.0 * before->selection_share[i];
        share_last[i] = 100.0 * after->selection_share[i];
        change[i] = share_last[i] - share_first[i];
        share_max = fmax(share_max, fmax(share_first[i], share_last[i]));
        change_max = fmax(change_max, fabs(change[i]));
    }
    if (share_max <= 0)
        share_max = 1;
    if (change_max < 1e-9)
        change_max = 1;

    Script script;
    FILE *out = script_open(&script);
    char label[512];
    run_label(run, label, sizeof label);
    fprintf(out, "# The %s probe's routing: each cell is the share (%%) of the probe's top-k\n"
                 "# selections in one MoE layer (row) that went to one expert (column).\n"
                 "# Datablocks: %d rows (MoE layers", probe_name, M);
    for (int r = 0; r < M; r++)
        fprintf(out, " %d", run->moe_layers[r]);
    fprintf(out, ") of %d values (experts).\n", E);
    put_matrix(out, "$share_step0", share_first, M, E);
    put_matrix(out, "$share_last", share_last, M, E);
    put_matrix(out, "$share_change", change, M, E);

    int target_row = run_data_moe_row(run, run->target_layer);
    fputs("set multiplot layout 3,1 title ", out);
    put_textf(out, "%c%s probe: share of the top-k selections by MoE layer and expert\n%s; "
                   "boxed: the target expert (layer %d, expert %d)",
              probe_name[0] - 'a' + 'A', probe_name + 1, label, run->target_layer,
              run->target_expert);
    fputs("\n", out);
    fputs("set lmargin at screen 0.10\nset rmargin at screen 0.84\n", out);
    fprintf(out, "set xrange [-0.5:%g]\nset yrange [-0.5:%g]\n", E - 0.5, M - 0.5);
    fprintf(out, "set xtics nomirror out 0,%d,%d\n", tic_step(E, 20), E - 1);
    put_layer_tics(out, run);
    fputs("set xlabel \"expert\"\nset ylabel \"MoE layer\"\nset cbtics out\n", out);
    fprintf(out, "set object 1 rectangle from %g,%g to %g,%g front fillstyle empty "
                 "border linecolor rgb 'white' linewidth 4\n",
            run->target_expert - 0.5, target_row - 0.5, run->target_expert + 0.5, target_row + 0.5);
    fprintf(out, "set object 2 rectangle from %g,%g to %g,%g front fillstyle empty "
                 "border linecolor rgb 'black' linewidth 1.5\n",
            run->target_expert - 0.5, target_row - 0.5, run->target_expert + 0.5, target_row + 0.5);

    fputs(viridis_palette, out);
    fprintf(out, "set cbrange [0:%.6g]\nset cbtics %g\nset cblabel \"share (%%)\"\n", share_max,
            nice_step(share_max, 5));
    fputs("set title \"step 0 (before unlearning)\"\n", out);
    fputs("plot $share_step0 matrix with image @image_cells notitle\n", out);
    fprintf(out, "set title \"step %d (last snapshot)\"\n", last->step);
    fputs("plot $share_last matrix with image @image_cells notitle\n", out);

    fputs(diverging_palette, out);
    fprintf(out, "set cbrange [%.6g:%.6g]\nset cbtics %g\nset cblabel \"change (%% points)\"\n",
            -change_max, change_max, nice_step(change_max, 2));
    fprintf(out, "set title \"change from step 0 to step %d\"\n", last->step);
    /* A small grid also shows its values: white on the dark ends of the scale. */
    bool show_values = E <= 20 && M <= 16;
    if (show_values)
        fprintf(out, "cell_value(v) = abs(v) < 0.05 ? \"0\" : sprintf('%%+.1f', v)\n"
                     "dark_cell = %.6g\n", 0.6 * change_max);
    fputs("plot $share_change matrix with image @image_cells notitle", out);
    if (show_values)
        fputs(", \\\n     $share_change matrix using 1:2:(abs($3) < dark_cell ? cell_value($3) : \"\") "
              "with labels font \",9\" textcolor rgb 'black' notitle"
              ", \\\n     $share_change matrix using 1:2:(abs($3) < dark_cell ? \"\" : cell_value($3)) "
              "with labels font \",9\" textcolor rgb 'white' notitle", out);
    fputs("\nunset multiplot\n", out);

    char name[64];
    snprintf(name, sizeof name, "routing-heatmap-%s", probe_name);
    add_figure(figures, count, name, &script, 800, 760);
    free(share_first);
    free(share_last);
    free(change);
}

/* ---- token overlap with step 0 ---- */

/* step, then one column per MoE layer. */
static void put_overlap_block(FILE *out, const RunData *run, const char *name, bool forget)
{
    fprintf(out, "%s << EOD\n", name);
    for (int s = 0; s < run->num_snapshots; s++) {
        const RunProbeRouting *probe = forget ? &run->routing[s].forget : &run->routing[s].retain;
        fprintf(out, "%d", run->routing[s].step);
        for (int r = 0; r < run->num_moe_layers; r++)
            fprintf(out, " %.6g", probe->token_overlap[r]);
        fputc('\n', out);
    }
    fputs("EOD\n", out);
}

static void put_token_overlap(const RunData *run, GnuplotFigure **figures, int *count)
{
    int M = run->num_moe_layers;
    Script script;
    FILE *out = script_open(&script);
    char label[512];
    run_label(run, label, sizeof label);
    fprintf(out, "# Token overlap with step 0: for each probe token, the fraction of its\n"
                 "# top-k experts at step 0 still among its top-k at the snapshot.\n"
                 "# $overlap_forget, $overlap_retain: %d rows (snapshots) of the step and\n"
                 "# one column per MoE layer; $overlap_mean: step, forget mean, retain mean.\n",
            run->num_snapshots);
    put_overlap_block(out, run, "$overlap_forget", true);
    put_overlap_block(out, run, "$overlap_retain", false);
    fputs("$overlap_mean << EOD\n", out);
    for (int s = 0; s < run->num_snapshots; s++)
        fprintf(out, "%d %.6g %.6g\n", run->snapshots[s].step,
                run->snapshots[s].forget_token_overlap, run->snapshots[s].retain_token_overlap);
    fputs("EOD\n", out);
    fprintf(out, "array moe_layer[%d] = [", M);
    for (int r = 0; r < M; r++)
        fprintf(out, "%s%d", r ? ", " : "", run->moe_layers[r]);
    fputs("]\n", out);

    fputs(line_styles, out);
    fputs(viridis_palette, out);
    fprintf(out, "set cbrange [%g:%g]\nset cblabel \"MoE layer\"\nset cbtics %d\n",
            run->moe_layers[0] - 0.5, run->moe_layers[M - 1] + 0.5,
            tic_step(run->moe_layers[M - 1] - run->moe_layers[0] + 1, 12));
    put_step_axis(out, run);
    fputs("set ylabel \"token overlap with step 0 (fraction)\"\nset yrange [0:1.02]\n"
          "set key bottom left reverse Left box opaque samplen 2 spacing 1.3\n",
          out);
    fputs("set multiplot layout 1,2 title ", out);
    put_textf(out, "Router shift: per-layer token overlap with step 0\n%s", label);
    fputc('\n', out);
    const char *probes[2][2] = {{"forget", "$overlap_forget"}, {"retain", "$overlap_retain"}};
    /* Fixed margins keep the panels the same size; one colour bar serves both. */
    const char *margins[2] = {"set lmargin at screen 0.09\nset rmargin at screen 0.45\nunset colorbox\n",
                              "set lmargin at screen 0.56\nset rmargin at screen 0.90\nset colorbox\n"};
    for (int p = 0; p < 2; p++) {
        fprintf(out, "%sset title \"%s probe\"\n", margins[p], probes[p][0]);
        fprintf(out,
                "plot for [i=1:%d] %s using 1:(column(i+1)) with linespoints linewidth 1.5 "
                "pointtype 7 pointsize 0.6 linecolor palette cb moe_layer[i] "
                "title (i == 1 ? \"each layer (colour)\" : \"\"), \\\n"
                "     $overlap_mean using 1:%d with linespoints linestyle 9 pointtype 5 "
                "title \"mean over layers\"\n",
                M, probes[p][1], 2 + p);
    }
    fputs("unset multiplot\n", out);
    add_figure(figures, count, "token-overlap", &script, 800, 500);
}

/* ---- loss ---- */

static void put_loss(const RunData *run, GnuplotFigure **figures, int *count)
{
    Script script;
    FILE *out = script_open(&script);
    char label[512];
    run_label(run, label, sizeof label);
    bool rmu = strcmp(run->method, "rmu") == 0;
    fprintf(out, "# The loss of each optimizer step. $steps: %d rows of\n"
                 "# step, total loss, forget term, retain term, router anchor term.\n",
            run->num_steps);
    fputs("$steps << EOD\n", out);
    for (int i = 0; i < run->num_steps; i++) {
        const RunStepRecord *s = &run->steps[i];
        fprintf(out, "%d %.6g %.6g %.6g %.6g\n", s->step, s->loss, s->forget_term, s->retain_term,
                s->anchor_term);
    }
    fputs("EOD\n", out);
    fputs(line_styles, out);
    fputs("set title ", out);
    put_textf(out, "Loss terms per optimizer step\n%s", label);
    fputc('\n', out);
    put_step_axis(out, run);
    fprintf(out, "set ylabel \"%s\"\n",
            rmu ? "loss (mean squared activation distance)" : "loss (nats per token)");
    fputs("set key outside right top vertical Left reverse box samplen 2 spacing 1.5\n", out);
    int every = run->num_steps > 24 ? run->num_steps / 12 : 1;
    fprintf(out, "set style data linespoints\nset pointintervalbox 0\n"
                 "plot $steps using 1:3 linestyle 1 pointinterval %d title \"forget term\", \\\n"
                 "     $steps using 1:4 linestyle 3 pointinterval %d title \"retain term\", \\\n"
                 "     $steps using 1:5 linestyle 4 pointinterval %d "
                 "title \"anchor (squared distance)\", \\\n"
                 "     $steps using 1:2 linestyle 9 pointinterval %d title \"total\"\n",
            every, every, every, every);
    add_figure(figures, count, "loss", &script, 800, 500);
}

/* ---- FE and UT ---- */

static void put_fe_ut(const RunData *run, GnuplotFigure **figures, int *count)
{
    Script script;
    FILE *out = script_open(&script);
    char label[512];
    run_label(run, label, sizeof label);
    fprintf(out, "# FE and UT at each evaluation. $evals: %d rows of\n"
                 "# step, FE (acc), UT (acc), FE (acc_norm), UT (acc_norm).\n",
            run->num_evals);
    fputs("$evals << EOD\n", out);
    for (int i = 0; i < run->num_evals; i++) {
        const RunEvalRecord *e = &run->evals[i];
        fprintf(out, "%d %.6g %.6g %.6g %.6g\n", e->step, e->fe, e->ut, e->fe_norm, e->ut_norm);
    }
    fputs("EOD\n", out);
    fputs(line_styles, out);
    fputs("set title ", out);
    put_textf(out, "Forget efficacy (FE) and model utility (UT) over the run\n%s", label);
    fputc('\n', out);
    put_step_axis(out, run);
    fputs("set ylabel \"accuracy (fraction of questions right)\"\nset yrange [0:1]\n"
          "set key top right box opaque spacing 1.3\n", out);
    int selected = run->summary.selected_step;
    fprintf(out, "set arrow 1 from %d, graph 0 to %d, graph 1 nohead back dashtype 3 "
                 "linecolor rgb '#555555' linewidth 1.5\n", selected, selected);
    fprintf(out, "set label 1 \"selected: step %d\" at %d, graph 0.04 %s offset %s,0\n", selected,
            selected, selected > last_step(run) / 2 ? "right" : "left",
            selected > last_step(run) / 2 ? "-0.5" : "0.5");
    fputs("plot $evals using 1:2 with linespoints linestyle 1 "
          "title \"FE: forget MCQ accuracy (lower is better)\", \\\n"
          "     $evals using 1:3 with linespoints linestyle 3 "
          "title \"UT: utility MCQ accuracy (higher is better)\"\n", out);
    add_figure(figures, count, "fe-ut", &script, 800, 500);
}

/* ---- expert share of one layer ---- */

static void put_expert_share(const RunData *run, int layer, GnuplotFigure **figures, int *count)
{
    int row = run_data_moe_row(run, layer), E = run->num_experts;
    const RunRoutingSnapshot *first = &run->routing[0];
    const RunRoutingSnapshot *last = &run->routing[run->num_snapshots - 1];
    Script script;
    FILE *out = script_open(&script);
    char label[512];
    run_label(run, label, sizeof label);
    fprintf(out, "# The share (%%) of the top-k selections of MoE layer %d that went to each\n"
                 "# expert. $share: %d rows (experts) of expert, forget at step 0, forget at\n"
                 "# step %d, retain at step 0, retain at step %d.\n",
            layer, E, last->step, last->step);
    fputs("$share << EOD\n", out);
    for (int e = 0; e < E; e++) {
        size_t at = (size_t)row * E + e;
        fprintf(out, "%d %.6g %.6g %.6g %.6g\n", e, 100 * first->forget.selection_share[at],
                100 * last->forget.selection_share[at], 100 * first->retain.selection_share[at],
                100 * last->retain.selection_share[at]);
    }
    fputs("EOD\n", out);
    /* One y scale for both panels, with room above the bars for the target's label. */
    const RunProbeRouting *probes[2][2] = {{&first->forget, &last->forget},
                                           {&first->retain, &last->retain}};
    double share_max = 100.0 / E;
    for (int p = 0; p < 2; p++)
        for (int when = 0; when < 2; when++)
            for (int e = 0; e < E; e++)
                share_max = fmax(share_max, 100 * probes[p][when]->selection_share[(size_t)row * E + e]);
    fputs("set multiplot layout 2,1 title ", out);
    put_textf(out, "Expert selection share in MoE layer %d: step 0 and step %d\n%s", layer,
              last->step, label);
    fputc('\n', out);
    fprintf(out, "set xrange [-0.6:%g]\nset xtics nomirror out 0,%d,%d\nset xlabel \"expert\"\n",
            E - 0.4, tic_step(E, 16), E - 1);
    fprintf(out, "set ylabel \"share of top-k selections (%%)\"\nset yrange [0:%.4g]\n",
            share_max * 1.18);
    /* Both panels the same size; one legend, right of the top panel. */
    fputs("set grid ytics back linecolor rgb '#d9d9d9'\n"
          "set lmargin at screen 0.10\nset rmargin at screen 0.77\n"
          "set key at screen 0.785, graph 1 left top vertical Left reverse box samplen 1.5 "
          "spacing 1.5\nset boxwidth 0.4\n"
          "set style fill solid 0.9 border linecolor rgb 'black'\n", out);
    fprintf(out, "uniform_share = 100.0 / %d\n", E);
    bool is_target_layer = layer == run->target_layer;
    if (is_target_layer)
        fprintf(out, "set object 1 rectangle from first %g, graph 0 to first %g, graph 1 back "
                     "fillcolor rgb '#e3e3e3' fillstyle solid 1.0 noborder\n",
                run->target_expert - 0.5, run->target_expert + 0.5);
    const char *probe_names[2] = {"forget", "retain"};
    for (int p = 0; p < 2; p++) {
        fprintf(out, "set title \"%s probe\"\n", probe_names[p]);
        if (is_target_layer) {
            size_t at = (size_t)row * E + run->target_expert;
            double top = 100 * fmax(probes[p][0]->selection_share[at], probes[p][1]->selection_share[at]);
            fprintf(out, "set label 1 \"target\" at first %d, first %.4g center offset 0,0.7\n",
                    run->target_expert, top);
        }
        fprintf(out,
                "plot $share using ($1 - 0.2):%d with boxes linecolor rgb '" LIGHT_BAR "' "
                "title \"step 0\", \\\n"
                "     $share using ($1 + 0.2):%d with boxes linecolor rgb '" DARK_BAR "' "
                "title \"step %d\", \\\n"
                "     uniform_share with lines dashtype 2 linewidth 1.5 linecolor rgb '#333333' "
                "title \"uniform (1/%d)\"\n",
                2 + 2 * p, 3 + 2 * p, last->step, E);
        fputs("unset key\n", out);
    }
    fputs("unset multiplot\n", out);
    char name[64];
    snprintf(name, sizeof name, "expert-share-layer%d", layer);
    add_figure(figures, count, name, &script, 800, 560);
}

int plot_run_figures(const RunData *run, int share_layer, GnuplotFigure **figures, int *count)
{
    if (run_data_moe_row(run, share_layer) < 0) {
        char layers[512] = "";
        size_t used = 0;
        for (int r = 0; r < run->num_moe_layers && used < sizeof layers - 16; r++)
            used += (size_t)snprintf(layers + used, sizeof layers - used, "%s%d", r ? ", " : "",
                                     run->moe_layers[r]);
        return error_set("--layer %d: not an MoE layer of %s (its MoE layers: %s)", share_layer,
                         run->path, layers);
    }
    *figures = NULL;
    *count = 0;
    put_routing_heatmap(run, "forget", true, figures, count);
    put_routing_heatmap(run, "retain", false, figures, count);
    put_token_overlap(run, figures, count);
    put_loss(run, figures, count);
    put_fe_ut(run, figures, count);
    put_expert_share(run, share_layer, figures, count);
    return 0;
}

/* ---- comparisons ---- */

/* "method + set", with the directory's name where two runs would read the same. */
static char **compare_labels(const RunData *runs, int num_runs)
{
    char **labels = xcalloc((size_t)num_runs, sizeof *labels);
    for (int i = 0; i < num_runs; i++) {
        bool clash = false;
        for (int j = 0; j < num_runs; j++)
            clash |= j != i && strcmp(runs[i].method, runs[j].method) == 0 &&
                     strcmp(runs[i].trainable_set, runs[j].trainable_set) == 0;
        char name[256], text[768];
        base_name(runs[i].path, name, sizeof name);
        if (clash)
            snprintf(text, sizeof text, "%s + %s (%s)", runs[i].method, runs[i].trainable_set, name);
        else
            snprintf(text, sizeof text, "%s + %s", runs[i].method, runs[i].trainable_set);
        labels[i] = xstrdup(text);
    }
    return labels;
}

/* index, FE, UT, FE at step 0, UT at step 0, "label", label shift. Where an
 * earlier run's label would overlap (a point less than a label's width to the
 * side and a line's height above or below), the label moves down a line (the
 * shift, in UT units) so that both stay readable. */
static void put_runs_block(FILE *out, const RunData *runs, int num_runs, char **labels)
{
    fputs("$runs << EOD\n", out);
    for (int i = 0; i < num_runs; i++) {
        const RunSummary *s = &runs[i].summary;
        int overlapping = 0;
        for (int j = 0; j < i; j++)
            overlapping += fabs(runs[j].summary.fe - s->fe) < 0.2 &&
                           fabs(runs[j].summary.ut - s->ut) < 0.04;
        fprintf(out, "%d %.6g %.6g %.6g %.6g ", i, s->fe, s->ut, s->start_fe, s->start_ut);
        put_text(out, labels[i]);
        fprintf(out, " %.6g\n", -0.045 * overlapping);
    }
    fputs("EOD\n", out);
}

static void put_compare_scatter(const RunData *runs, int num_runs, char **labels,
                                GnuplotFigure **figures, int *count)
{
    Script script;
    FILE *out = script_open(&script);
    fprintf(out, "# FE and UT of each run (at its selected step, from summary.json) and before\n"
                 "# unlearning. $runs: %d rows of index, FE, UT, FE at step 0, UT at step 0, label,\n"
                 "# and how far to move the label down where it would overlap another.\n",
            num_runs);
    put_runs_block(out, runs, num_runs, labels);
    fputs(line_styles, out);
    fputs("set title \"Forget efficacy against model utility, one point per run\\n"
          "(arrows from step 0 to the selected checkpoint)\"\n", out);
    fputs("set xlabel \"FE: forget MCQ accuracy (lower is better)\"\n"
          "set ylabel \"UT: utility MCQ accuracy (higher is better)\"\n"
          "set xrange [0:1]\nset yrange [0:1]\n"
          "set key bottom right vertical Left reverse box opaque samplen 1 spacing 1.3\n", out);
    fputs("plot $runs using 4:5:($2 - $4):($3 - $5) with vectors head size screen 0.012,20 "
          "filled linecolor rgb '#888888' linewidth 1.2 dashtype 2 notitle, \\\n"
          "     $runs using 4:5 with points linestyle 9 pointsize 1.4 "
          "title \"before unlearning (step 0)\", \\\n"
          "     $runs using 2:3 with points linestyle 1 pointsize 1.4 "
          "title \"after unlearning\", \\\n"
          "     $runs using 2:($3 + $7):6 with labels left offset 1,0.6 notitle\n", out);
    add_figure(figures, count, "compare-scatter", &script, 800, 560);
}

static void put_compare_bars(const RunData *runs, int num_runs, char **labels,
                             GnuplotFigure **figures, int *count)
{
    Script script;
    FILE *out = script_open(&script);
    fprintf(out, "# UT and FE of each run at its selected step (summary.json). $runs: %d rows\n"
                 "# of index, FE, UT, FE at step 0, UT at step 0, label, label shift (unused here).\n",
            num_runs);
    put_runs_block(out, runs, num_runs, labels);
    fputs("set title \"Utility (UT) and forget efficacy (FE) by run\\n"
          "at each run's selected checkpoint; dashed lines: before unlearning (step 0)\"\n", out);
    fputs("set ylabel \"accuracy (fraction of questions right)\"\nset yrange [0:1.1]\n"
          "set ytics 0,0.2,1\nset grid ytics back linecolor rgb '#d9d9d9'\n"
          "set xlabel \"run (method + trainable set)\"\n", out);
    fprintf(out, "set xrange [-0.6:%g]\n", num_runs - 0.4);
    fputs("set xtics nomirror (", out);
    for (int i = 0; i < num_runs; i++) {
        fputs(i ? ", " : "", out);
        put_text(out, labels[i]);
        fprintf(out, " %d", i);
    }
    fputs(")\n", out);
    if (num_runs > 4)
        fputs("set xtics rotate by 25 right\n", out);
    fputs("set key top right horizontal box opaque\nset boxwidth 0.36\n"
          "set style fill solid 0.9 border linecolor rgb 'black'\n", out);
    fputs("plot $runs using ($1 - 0.19):3 with boxes linecolor rgb '" LIGHT_BAR "' "
          "title \"UT (higher is better)\", \\\n"
          "     $runs using ($1 + 0.19):2 with boxes linecolor rgb '" DARK_BAR "' "
          "title \"FE (lower is better)\", \\\n"
          "     $runs using ($1 - 0.37):5:(0.36):(0) with vectors nohead linewidth 2 "
          "linecolor rgb 'black' dashtype 2 notitle, \\\n"
          "     $runs using ($1 + 0.01):4:(0.36):(0) with vectors nohead linewidth 2 "
          "linecolor rgb 'black' dashtype 2 notitle, \\\n"
          "     $runs using ($1 - 0.19):3:(sprintf('%.2f', $3)) with labels offset 0,0.7 "
          "notitle, \\\n"
          "     $runs using ($1 + 0.19):2:(sprintf('%.2f', $2)) with labels offset 0,0.7 "
          "notitle\n", out);
    add_figure(figures, count, "compare-bars", &script, 800, 500);
}

int plot_compare_figures(const RunData *runs, int num_runs, GnuplotFigure **figures, int *count)
{
    if (num_runs < 1)
        return error_set("--compare needs at least one run directory");
    char **labels = compare_labels(runs, num_runs);
    *figures = NULL;
    *count = 0;
    put_compare_scatter(runs, num_runs, labels, figures, count);
    put_compare_bars(runs, num_runs, labels, figures, count);
    for (int i = 0; i < num_runs; i++)
        free(labels[i]);
    free(labels);
    return 0;
}
