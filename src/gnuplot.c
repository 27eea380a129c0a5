#include "gnuplot.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "atomic_file.h"
#include "error.h"

static const char *const format_names[GNUPLOT_FORMAT_COUNT] = {"png", "svg", "pdf"};

const char *gnuplot_format_name(GnuplotFormat format) { return format_names[format]; }

int gnuplot_format_parse(const char *name, GnuplotFormat *format)
{
    for (int i = 0; i < GNUPLOT_FORMAT_COUNT; i++)
        if (strcmp(name, format_names[i]) == 0) {
            *format = (GnuplotFormat)i;
            return 0;
        }
    return error_set("unknown plot format '%s' (expected png, svg or pdf)", name);
}

const char *gnuplot_program(void)
{
    const char *program = getenv("UOE_GNUPLOT");
    return program && *program ? program : "gnuplot";
}

void gnuplot_put_string(FILE *out, const char *text)
{
    fputc('\'', out);
    for (; *text; text++) {
        if (*text == '\'')
            fputc('\'', out);
        fputc(*text, out);
    }
    fputc('\'', out);
}

/* The terminal line: cairo for PNG and PDF, gnuplot's own SVG writer, each
 * with the same font, white background and no enhanced-text markup (so that
 * names with "_" or "^" print as they are). */
static void put_terminal(FILE *out, GnuplotFormat format, int width, int height)
{
    const char *common = "noenhanced font \"" GNUPLOT_FONT ",%d\" background rgb \"white\"";
    switch (format) {
    case GNUPLOT_PNG:
        fprintf(out, "set terminal pngcairo size %d,%d linewidth 1.5 ", width, height);
        break;
    case GNUPLOT_SVG:
        fprintf(out, "set terminal svg size %d,%d fixed linewidth 1.5 ", width, height);
        break;
    case GNUPLOT_PDF:
        fprintf(out, "set terminal pdfcairo size %.3fin,%.3fin linewidth 1 ", width / 160.0,
                height / 160.0);
        break;
    }
    fprintf(out, common, GNUPLOT_FONT_SIZE);
    fputc('\n', out);
    /* SVG viewers smooth a stretched bitmap, so there each image cell is drawn
     * as its own rectangle; cairo draws the bitmap with sharp cells, and
     * rectangles would show hairline seams. */
    fprintf(out, "image_cells = \"%s\"\n", format == GNUPLOT_SVG ? "pixels" : "");
}

/* The whole script: terminal, output, the figure's commands, and an explicit
 * close of the output so that gnuplot finishes the file before it exits. */
static char *build_script(const GnuplotFigure *figure, GnuplotFormat format, const char *output,
                          const char *file_name)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    if (!out)
        FATAL("open_memstream: %s", strerror(errno));
    fprintf(out, "# %s.%s, rendered by uoe-wb plot. To restyle it, edit this file and run\n"
                 "#   gnuplot %s.gp\n# in the folder that holds it; the data is inline below.\n",
            figure->name, gnuplot_format_name(format), file_name);
    fputs("set encoding utf8\n", out);
    put_terminal(out, format, figure->width, figure->height);
    fputs("set output ", out);
    gnuplot_put_string(out, output);
    fputc('\n', out);
    fputs(figure->body, out);
    fputs("unset output\n", out);
    if (fclose(out) != 0)
        FATAL("open_memstream: %s", strerror(errno));
    return text;
}

static char *join_path(const char *dir, const char *name)
{
    size_t size = strlen(dir) + strlen(name) + 2;
    char *path = xmalloc(size);
    snprintf(path, size, "%s/%s", dir, name);
    return path;
}

/* Appends text to out as a POSIX shell single-quoted word. */
static void put_shell_word(FILE *out, const char *text)
{
    fputc('\'', out);
    for (; *text; text++) {
        if (*text == '\'')
            fputs("'\\''", out);
        else
            fputc(*text, out);
    }
    fputc('\'', out);
}

/* The end of what gnuplot wrote to stderr (its errors come last), trimmed. */
static char *read_messages(const char *path)
{
    enum { KEEP = 1200 };
    char buffer[KEEP + 1] = "";
    FILE *file = fopen(path, "r");
    size_t length = 0;
    if (file) {
        if (fseek(file, 0, SEEK_END) == 0) {
            long end = ftell(file);
            fseek(file, end > KEEP ? end - KEEP : 0, SEEK_SET);
        }
        length = fread(buffer, 1, KEEP, file);
        fclose(file);
    }
    buffer[length] = '\0';
    while (length > 0 && strchr(" \t\r\n", buffer[length - 1]))
        buffer[--length] = '\0';
    const char *start = buffer + strspn(buffer, " \t\r\n");
    return xstrdup(start);
}

/* Runs program on script; its stdout and stderr go to messages_path. */
static int run_gnuplot(const char *program, const char *script, const char *messages_path,
                       int *exit_status)
{
    char *command = NULL;
    size_t size = 0;
    FILE *line = open_memstream(&command, &size);
    if (!line)
        FATAL("open_memstream: %s", strerror(errno));
    put_shell_word(line, program);
    fputs(" >", line);
    put_shell_word(line, messages_path);
    fputs(" 2>&1", line);
    fclose(line);

    /* A gnuplot that is missing or exits early closes the pipe under us:
     * that must be an error to report, not a SIGPIPE that kills uoe-wb. */
    struct sigaction ignore = {.sa_handler = SIG_IGN}, previous;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, &previous);
    fflush(NULL);
    FILE *pipe = popen(command, "w");
    int rc = 0;
    if (!pipe) {
        rc = error_set("cannot start '%s': %s", program, strerror(errno));
    } else {
        fputs(script, pipe);
        fflush(pipe);
        int status = pclose(pipe);
        if (status == -1)
            rc = error_set("cannot wait for '%s': %s", program, strerror(errno));
        else if (WIFEXITED(status))
            *exit_status = WEXITSTATUS(status);
        else
            *exit_status = 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }
    sigaction(SIGPIPE, &previous, NULL);
    free(command);
    return rc;
}

/* Explains a non-zero exit of the shell running gnuplot. */
static int report_failure(const char *program, const char *output, int exit_status,
                          const char *messages)
{
    const char *said = *messages ? messages : "(nothing on stderr)";
    if (exit_status == 127 || exit_status == 126)
        return error_set("%s: cannot run gnuplot '%s' (%s); install gnuplot with its cairo "
                         "terminals (pngcairo, pdfcairo) or set UOE_GNUPLOT to its path. "
                         "The shell said:\n%s",
                         output, program, exit_status == 127 ? "not found" : "not executable",
                         said);
    if (exit_status > 128)
        return error_set("%s: gnuplot '%s' was killed by signal %d; it said:\n%s", output, program,
                         exit_status - 128, said);
    return error_set("%s: gnuplot '%s' failed (exit status %d); it said:\n%s", output, program,
                     exit_status, said);
}

static int write_script(const char *path, const char *script)
{
    AtomicFile file;
    if (atomic_file_open(&file, path) < 0)
        return -1;
    fputs(script, file.stream);
    return atomic_file_commit(&file);
}

int gnuplot_render(const char *program, const GnuplotFigure *figure, GnuplotFormat format,
                   const char *dir, bool keep_script)
{
    char file_name[512], script_name[512 + 3];
    snprintf(file_name, sizeof file_name, "%s.%s", figure->name, gnuplot_format_name(format));
    snprintf(script_name, sizeof script_name, "%s.gp", file_name);
    char *output = join_path(dir, file_name);

    /* The plot goes to a fresh temporary file beside the output. */
    AtomicFile plot;
    if (atomic_file_open(&plot, output) < 0) {
        free(output);
        return -1;
    }
    fclose(plot.stream);
    plot.stream = NULL;

    const char *tmpdir = getenv("TMPDIR");
    char *messages_path = join_path(tmpdir && *tmpdir ? tmpdir : "/tmp", "uoe-wb-gnuplot.XXXXXX");
    int messages_fd = mkstemp(messages_path);
    int rc = 0;
    if (messages_fd < 0) {
        rc = error_set("%s: cannot create a temporary file for gnuplot's messages: %s",
                       messages_path, strerror(errno));
    } else {
        close(messages_fd);
        char *script = build_script(figure, format, plot.temp_path, file_name);
        int exit_status = 0;
        rc = run_gnuplot(program, script, messages_path, &exit_status);
        if (rc == 0 && exit_status != 0) {
            char *messages = read_messages(messages_path);
            rc = report_failure(program, output, exit_status, messages);
            free(messages);
        }
        free(script);
        unlink(messages_path);
    }

    struct stat written;
    if (rc == 0 && (stat(plot.temp_path, &written) != 0 || written.st_size == 0))
        rc = error_set("%s: gnuplot '%s' exited without writing the plot", output, program);
    if (rc == 0 && !(plot.stream = fopen(plot.temp_path, "ab")))
        rc = error_set("%s: cannot reopen the rendered plot: %s", output, strerror(errno));
    if (rc == 0)
        rc = atomic_file_commit(&plot);  /* fsync and rename into place */
    else
        atomic_file_abort(&plot);

    if (rc == 0 && keep_script) {
        char *script_path = join_path(dir, script_name);
        char *script = build_script(figure, format, file_name, file_name);
        rc = write_script(script_path, script);
        free(script);
        free(script_path);
    }
    free(messages_path);
    free(output);
    return rc;
}
