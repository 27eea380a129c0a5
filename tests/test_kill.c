/* Runs that survive a kill: the default experiment (lua/experiments/default.lua,
 * UOE and then GA on all parameters, through `uoe-wb run`) on the fixture
 * model and a tiny world, killed with SIGKILL at random moments of its run. After each kill
 * every file of the run directory must be whole and parse: the .json files as
 * JSON, every line of metrics.jsonl as one object (the last one ended by its
 * newline), the saved model's safetensors through safetensors_open. Temporary
 * files of an atomic write cut short may stay behind, but never under a name
 * a reader would take (they end in .tmp.PID.N.HEX), and the next atomic write
 * in their directory removes them; a temporary file of a live process, or
 * one whose flock a live process holds, stays.
 *
 * UOE_WB names the program (make check sets it); UOE_KILL_COUNT the number of
 * kills (20 unless set); UOE_KILL_SEED the seed of the kill moments (printed,
 * so a failure can be replayed). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "atomic_file.h"
#include "error.h"
#include "safetensors.h"
#include "tap.h"
#include "test_util.h"

static const char *wb;
static char model[PATH_MAX], world[PATH_MAX], script[PATH_MAX];

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Copies the first lines of source (all when lines < 0) to destination. */
static void copy_lines(const char *source, const char *destination, int lines)
{
    FILE *in = fopen(source, "r"), *out = fopen(destination, "w");
    if (!in || !out)
        FATAL("cannot copy %s to %s", source, destination);
    char *line = NULL;
    size_t capacity = 0;
    for (int n = 0; (lines < 0 || n < lines) && getline(&line, &capacity, in) != -1; n++)
        fputs(line, out);
    free(line);
    fclose(in);
    if (fclose(out) != 0)
        FATAL("cannot write %s", destination);
}

/* The tiny world of tests/test_cli.sh: 12 forget and 12 retain documents. */
static void make_world(const char *data, const char *tests)
{
    char path[PATH_MAX + 64], source[PATH_MAX + 64];
    temp_path(world, sizeof world, "world");
    snprintf(path, sizeof path, "%s/splits", world);
    if (mkdir(world, 0777) != 0 || mkdir(path, 0777) != 0)
        FATAL("cannot create %s", path);
    static const struct { const char *from, *to; int lines; } files[] = {
        {"world/corpus/pathogens.jsonl", "forget.jsonl", 12},
        {"world/corpus/cities.jsonl", "retain.jsonl", 12},
        {NULL, "forget_mcq.jsonl", -1},
        {NULL, "utility_mcq.jsonl", -1},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        if (files[i].from)
            snprintf(source, sizeof source, "%s/%s", data, files[i].from);
        else
            snprintf(source, sizeof source, "%s/fixtures/mcq/tiny.jsonl", tests);
        snprintf(path, sizeof path, "%s/splits/%s", world, files[i].to);
        copy_lines(source, path, files[i].lines);
    }
}

/* Starts the run into out, its output thrown away. */
static pid_t start_run(const char *out)
{
    pid_t child = fork();
    if (child < 0)
        FATAL("fork: %s", strerror(errno));
    if (child == 0) {
        /* one thread: spinning OpenMP threads on a busy machine make the run 10x slower */
        setenv("OMP_NUM_THREADS", "1", 0);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, 1);
        dup2(null, 2);
        char model_key[PATH_MAX + 8], world_key[PATH_MAX + 8], out_key[PATH_MAX + 8];
        snprintf(model_key, sizeof model_key, "model=%s", model);
        snprintf(world_key, sizeof world_key, "world=%s", world);
        snprintf(out_key, sizeof out_key, "out=%s", out);
        execl(wb, wb, "run", script, model_key, world_key, out_key, "steps=8", "eval_every=2",
              "forget_batch=2", "retain_batch=2", "probe_sequences=4", "eval_questions=0",
              (char *)NULL);
        _exit(127);
    }
    return child;
}

static bool ends_with(const char *text, const char *suffix)
{
    size_t n = strlen(text), m = strlen(suffix);
    return n >= m && strcmp(text + n - m, suffix) == 0;
}

/* What check_file found wrong with the tree, and how much it looked at. */
static char problem[1024];
static int files_checked, temp_files;

static void complain(const char *fmt, const char *path, const char *detail)
{
    if (!problem[0])
        snprintf(problem, sizeof problem, fmt, path, detail);
}

static void check_jsonl(const char *path)
{
    FILE *stream = fopen(path, "r");
    if (!stream) {
        complain("%s: cannot open: %s", path, strerror(errno));
        return;
    }
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    while ((length = getline(&line, &capacity, stream)) != -1) {
        json_error_t json_error;
        json_t *value = json_loadb(line, (size_t)length, 0, &json_error);
        if (line[length - 1] != '\n')
            complain("%s: the last line has no newline: %s", path, line);
        else if (!json_is_object(value))
            complain("%s: a line is not one JSON object: %s", path, line);
        json_decref(value);
    }
    free(line);
    fclose(stream);
}

static int check_file(const char *path, const struct stat *status, int type, struct FTW *walk)
{
    (void)status, (void)walk;
    if (type != FTW_F)
        return 0;
    const char *name = strrchr(path, '/') + 1;
    if (strstr(name, ".tmp.")) {
        temp_files++;
        if (ends_with(name, ".json") || ends_with(name, ".jsonl") || ends_with(name, ".safetensors"))
            complain("%s: a temporary file under a reader's name%s", path, "");
        return 0;
    }
    files_checked++;
    if (ends_with(name, ".jsonl")) {
        check_jsonl(path);
    } else if (ends_with(name, ".json")) {
        json_error_t json_error;
        json_t *root = json_load_file(path, 0, &json_error);
        if (!json_is_object(root))
            complain("%s: not a whole JSON object: %s", path, root ? "not an object" : json_error.text);
        json_decref(root);
    } else if (ends_with(name, ".safetensors")) {
        SafetensorsFile file;
        if (safetensors_open(&file, path) != 0)
            complain("%s: %s", path, error_message());
        else
            safetensors_close(&file);
    } else {
        complain("%s: a file of unknown kind%s", path, "");
    }
    return 0;
}

/* Checks every file under directory; returns true when all are whole. */
static bool check_tree(const char *directory)
{
    problem[0] = '\0';
    files_checked = temp_files = 0;
    nftw(directory, check_file, 16, FTW_PHYS);
    return problem[0] == '\0';
}

/* ---- the next writer removes what the kills left ---- */

#define MAX_TEMP_DIRECTORIES 64
static char temp_directories[MAX_TEMP_DIRECTORIES][PATH_MAX];
static int temp_directory_count;

/* nftw callback: notes the directory of each temporary file, once. */
static int note_temp_directory(const char *path, const struct stat *status, int type,
                               struct FTW *walk)
{
    (void)status;
    if (type != FTW_F || !strstr(path + walk->base, ".tmp."))
        return 0;
    char directory[PATH_MAX];
    snprintf(directory, sizeof directory, "%.*s", walk->base - 1, path);
    for (int i = 0; i < temp_directory_count; i++)
        if (strcmp(temp_directories[i], directory) == 0)
            return 0;
    if (temp_directory_count < MAX_TEMP_DIRECTORIES)
        snprintf(temp_directories[temp_directory_count++], PATH_MAX, "%s", directory);
    return 0;
}

/* One atomic write into directory, as the next writer there makes it; the
 * file it writes is removed again. */
static void write_in(const char *directory)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/next-writer", directory);
    AtomicFile file;
    if (atomic_file_open(&file, path) < 0)
        FATAL("%s", error_message());
    fputs("{}\n", file.stream);
    if (atomic_file_commit(&file) < 0)
        FATAL("%s", error_message());
    unlink(path);
}

/* The PID of a process that has exited and been reaped. */
static pid_t dead_pid(void)
{
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    if (child < 0 || waitpid(child, NULL, 0) != child)
        FATAL("fork: %s", strerror(errno));
    return child;
}

static void touch(const char *directory, const char *name)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", directory, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0666);
    if (fd < 0)
        FATAL("cannot create %s: %s", path, strerror(errno));
    close(fd);
}

static bool exists(const char *directory, const char *name)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", directory, name);
    return access(path, F_OK) == 0;
}

/* A child that holds the flock of directory/name until it is killed, as a
 * live writer of another PID namespace would. */
static pid_t hold_lock(const char *directory, const char *name)
{
    char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", directory, name);
    int ready[2];
    if (pipe(ready) != 0)
        FATAL("pipe: %s", strerror(errno));
    pid_t child = fork();
    if (child < 0)
        FATAL("fork: %s", strerror(errno));
    if (child == 0) {
        int fd = open(path, O_RDONLY);
        if (fd < 0 || flock(fd, LOCK_EX) != 0 || write(ready[1], "", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    char byte;
    close(ready[1]);
    if (read(ready[0], &byte, 1) != 1)
        FATAL("the lock holder did not start");
    close(ready[0]);
    return child;
}

/* Which of the leftovers a write removes, decided on names made here. */
static void test_stale_rules(void)
{
    char directory[PATH_MAX], dead[64], live[64], locked[64];
    temp_path(directory, sizeof directory, "stale");
    if (mkdir(directory, 0777) != 0)
        FATAL("cannot create %s", directory);
    pid_t gone = dead_pid();
    snprintf(dead, sizeof dead, "a.json.tmp.%ld.0.0123abcd", (long)gone);
    snprintf(live, sizeof live, "b.json.tmp.%ld.0.0123abcd", (long)getpid());
    snprintf(locked, sizeof locked, "c.json.tmp.%ld.1.0123abcd", (long)gone);
    touch(directory, dead);
    touch(directory, live);
    touch(directory, locked);
    touch(directory, "notes.tmp.1");
    pid_t holder = hold_lock(directory, locked);
    write_in(directory);
    tap_ok(!exists(directory, dead) && exists(directory, live) && exists(directory, locked)
               && exists(directory, "notes.tmp.1"),
           "a write removes a dead process's temporary file, keeps a live process's, one "
           "whose lock is held, and other names");
    kill(holder, SIGKILL);
    waitpid(holder, NULL, 0);
    write_in(directory);
    tap_ok(!exists(directory, locked) && exists(directory, live),
           "once the lock holder is gone, the next write removes its file too");
}

int main(void)
{
    wb = getenv("UOE_WB");
    const char *tests = getenv("UOE_TEST_DATA");
    if (!wb || !*wb || access(wb, X_OK) != 0 || !tests) {
        tap_skip("UOE_WB and UOE_TEST_DATA are not set (make check sets them)", "kill tests");
        return tap_done();
    }
    const char *count_text = getenv("UOE_KILL_COUNT");
    int kills = count_text && *count_text ? atoi(count_text) : 20;
    const char *seed_text = getenv("UOE_KILL_SEED");
    unsigned seed = seed_text && *seed_text ? (unsigned)strtoul(seed_text, NULL, 10)
                                            : (unsigned)time(NULL) ^ (unsigned)getpid();
    srand(seed);
    tap_diag("kill moments from UOE_KILL_SEED=%u", seed);

    char data[PATH_MAX];
    snprintf(model, sizeof model, "%s/fixtures/mcq/model", tests);
    snprintf(data, sizeof data, "%s/../data", tests);
    snprintf(script, sizeof script, "%s/../lua/experiments/default.lua", tests);
    make_temp_dir();
    make_world(data, tests);

    /* One whole run: how long a run takes, and what a finished directory holds. */
    char out[PATH_MAX];
    temp_path(out, sizeof out, "whole");
    double start = now();
    int status;
    waitpid(start_run(out), &status, 0);
    double duration = now() - start;
    bool whole = check_tree(out);
    if (!tap_ok(WIFEXITED(status) && WEXITSTATUS(status) == 0 && whole && files_checked >= 10,
                "an uninterrupted run exits 0 and leaves %d whole files", files_checked))
        tap_diag("status %d, %s", status, problem);

    /* Moments spread over the run, its start and its end included. */
    for (int k = 0; k < kills; k++) {
        char name[32];
        snprintf(name, sizeof name, "killed-%02d", k);
        temp_path(out, sizeof out, name);
        double moment = duration * 1.1 * rand() / RAND_MAX;
        pid_t child = start_run(out);
        struct timespec pause = {(time_t)moment, (long)((moment - (time_t)moment) * 1e9)};
        nanosleep(&pause, NULL);
        kill(child, SIGKILL);
        if (waitpid(child, &status, 0) != child)
            FATAL("waitpid: %s", strerror(errno));
        char how[64];
        if (WIFSIGNALED(status))
            snprintf(how, sizeof how, "killed");
        else
            snprintf(how, sizeof how, "it had exited with status %d", WEXITSTATUS(status));
        bool whole_files = check_tree(out);  /* before files_checked is read below */
        if (!tap_ok(whole_files, "SIGKILL after %.3f s of %.3f s (%s): %d files whole, %d "
                    "temporary", moment, duration, how, files_checked, temp_files))
            tap_diag("%s", problem);
    }

    /* The kills are over: one write in each directory they left temporary files in. */
    temp_directory_count = 0;
    nftw(temp_dir, note_temp_directory, 16, FTW_PHYS);
    for (int i = 0; i < temp_directory_count; i++)
        write_in(temp_directories[i]);
    bool whole_files = check_tree(temp_dir);
    if (!tap_ok(whole_files && temp_files == 0, "after one write in each of the %d directories "
                "with temporary files, %d temporary files remain", temp_directory_count, temp_files))
        tap_diag("%s", problem);
    test_stale_rules();
    remove_temp_dir();
    return tap_done();
}
