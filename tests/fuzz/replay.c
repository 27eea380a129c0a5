/* The fuzz harnesses without libFuzzer, as TAP tests of make check: a
 * program replay_NAME runs the harness fuzz_NAME.c on every input of
 * tests/fuzz/regressions/NAME (inputs that once crashed it) and
 * tests/fuzz/seeds/NAME, or on the files given, each in a child process, so
 * that a crash, a sanitizer report or a broken invariant (abort) is one
 * failed check. Inputs are looked up under $UOE_TEST_DATA (the source tests/
 * directory; "tests" when unset). */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

typedef struct {
    char **paths;
    int count;
} PathList;

static void add_path(PathList *list, const char *path)
{
    list->paths = realloc(list->paths, (size_t)(list->count + 1) * sizeof *list->paths);
    if (!list->paths || !(list->paths[list->count++] = strdup(path))) {
        perror("replay");
        exit(99);
    }
}

/* The regular files of directory, in name order; a missing directory adds none. */
static void add_directory(PathList *list, const char *directory)
{
    struct dirent **entries;
    int n = scandir(directory, &entries, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        if (entries[i]->d_name[0] != '.') {
            char path[4096 + sizeof entries[i]->d_name + 1];
            snprintf(path, sizeof path, "%s/%s", directory, entries[i]->d_name);
            add_path(list, path);
        }
        free(entries[i]);
    }
    if (n >= 0)
        free(entries);
}

static int read_file(const char *path, uint8_t **data, size_t *size)
{
    FILE *stream = fopen(path, "rb");
    if (!stream)
        return -1;
    size_t capacity = 4096, used = 0, got;
    uint8_t *buffer = malloc(capacity);
    while (buffer && (got = fread(buffer + used, 1, capacity - used, stream)) > 0)
        if ((used += got) == capacity)
            buffer = realloc(buffer, capacity *= 2);
    int failed = !buffer || ferror(stream);
    fclose(stream);
    if (failed) {
        free(buffer);
        return -1;
    }
    *data = buffer;
    *size = used;
    return 0;
}

/* Runs one input in a child; returns 0 when the harness returned normally. */
static int replay(const char *path, char *why, size_t why_size)
{
    uint8_t *data;
    size_t size;
    if (read_file(path, &data, &size) != 0) {
        snprintf(why, why_size, "cannot read: %s", strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t child = fork();
    if (child == 0) {
        LLVMFuzzerTestOneInput(data, size);
        exit(0);  /* not _exit: LeakSanitizer checks at exit */
    }
    free(data);
    int status;
    if (child < 0 || waitpid(child, &status, 0) != child) {
        snprintf(why, why_size, "cannot run a child: %s", strerror(errno));
        return -1;
    }
    if (WIFSIGNALED(status)) {
        snprintf(why, why_size, "killed by signal %d", WTERMSIG(status));
        return -1;
    }
    if (WEXITSTATUS(status) != 0) {
        snprintf(why, why_size, "exit status %d", WEXITSTATUS(status));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    const char *name = strncmp(base, "replay_", 7) == 0 ? base + 7 : base;
    const char *tests = getenv("UOE_TEST_DATA");
    tests = tests && *tests ? tests : "tests";
    char fixtures[4096];
    snprintf(fixtures, sizeof fixtures, "%s/fixtures", tests);
    setenv("UOE_FUZZ_FIXTURES", fixtures, 0);

    PathList list = {0};
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            add_path(&list, argv[i]);
    } else {
        static const char *const kinds[] = {"regressions", "seeds"};
        for (int k = 0; k < 2; k++) {
            char directory[4096];
            snprintf(directory, sizeof directory, "%s/fuzz/%s/%s", tests, kinds[k], name);
            add_directory(&list, directory);
        }
    }
    if (list.count == 0) {
        printf("1..0 # SKIP no inputs for %s\n", name);
        return 0;
    }
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    printf("1..%d\n", list.count);
    int failed = 0;
    for (int i = 0; i < list.count; i++) {
        char why[256] = "";
        int ok = replay(list.paths[i], why, sizeof why) == 0;
        const char *shown = strstr(list.paths[i], "/fuzz/");
        printf("%sok %d - %s %s%s%s\n", ok ? "" : "not ", i + 1, name,
               shown ? shown + 1 : list.paths[i], ok ? "" : ": ", why);
        failed += !ok;
        free(list.paths[i]);
    }
    free(list.paths);
    return failed ? 1 : 0;
}
