/* Rendering a gnuplot script to a file. gnuplot (UOE_GNUPLOT, or gnuplot
 * from PATH) reads the script through a pipe, with its data inline as
 * datablocks, and writes the plot under a temporary name beside the final
 * one; the file is renamed into place only when gnuplot succeeded and wrote
 * it, so a failure leaves no file, and the error carries gnuplot's own
 * message. Every format gets the same font and proportions: PNG and SVG are
 * sized in pixels, PDF at 160 pixels to the inch. */
#ifndef UOE_GNUPLOT_H
#define UOE_GNUPLOT_H

#include <stdbool.h>
#include <stdio.h>

typedef enum { GNUPLOT_PNG, GNUPLOT_SVG, GNUPLOT_PDF } GnuplotFormat;
#define GNUPLOT_FORMAT_COUNT 3

/* "png", "svg" or "pdf": the name of a format and its file extension. */
const char *gnuplot_format_name(GnuplotFormat format);
int gnuplot_format_parse(const char *name, GnuplotFormat *format);

/* The font of every format: family, and size in points. */
#define GNUPLOT_FONT "DejaVu Sans"
#define GNUPLOT_FONT_SIZE 12

/* One figure: the commands after the terminal and output lines. Before them
 * the script defines image_cells, for heatmaps to plot `with image
 * @image_cells`: "pixels" (one rectangle per cell) in SVG, "" elsewhere. */
typedef struct {
    char *name;              /* the file name without extension, e.g. "loss" */
    char *body;              /* gnuplot commands, data inline as datablocks */
    int width, height;       /* canvas in PNG and SVG pixels */
} GnuplotFigure;

/* UOE_GNUPLOT when set and not empty, else "gnuplot". */
const char *gnuplot_program(void);

/* Renders figure into dir/NAME.EXT. With keep_script, also writes the script
 * to dir/NAME.EXT.gp, naming its output NAME.EXT, so that gnuplot run in dir
 * re-renders the plot from the script alone. Errors name the output file and
 * quote gnuplot's stderr. */
int gnuplot_render(const char *program, const GnuplotFigure *figure, GnuplotFormat format,
                   const char *dir, bool keep_script);

/* Writes text as a gnuplot single-quoted string (quotes doubled). */
void gnuplot_put_string(FILE *out, const char *text);

#endif
