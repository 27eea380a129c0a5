#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "error.h"

static void atomic_file_release(AtomicFile *file)
{
    free(file->final_path);
    free(file->temp_path);
    file->stream = NULL;
    file->final_path = NULL;
    file->temp_path = NULL;
}

/* A clash needs a stale file or another process with our pid on the same
 * file system, and every attempt takes a new counter value, so a few
 * attempts are plenty. */
#define MAX_NAME_ATTEMPTS 16

/* pid and counter keep the names of live processes and threads apart; the
 * random part keeps apart stale files of a dead process with the same pid and
 * processes of other pid namespaces. Without entropy it is 0, and O_EXCL with
 * the next counter value still finds a free name. */
static void make_temp_name(char *buffer, size_t size, const char *path)
{
    static atomic_uint counter;
    uint32_t salt = 0;
    if (getrandom(&salt, sizeof salt, GRND_NONBLOCK) != (ssize_t)sizeof salt)
        salt = 0;
    snprintf(buffer, size, "%s.tmp.%ld.%u.%08" PRIx32, path, (long)getpid(),
             atomic_fetch_add(&counter, 1), salt);
}

int atomic_file_open(AtomicFile *file, const char *path)
{
    /* Room for ".tmp.", a pid, a counter, 8 hex digits, two dots and the NUL. */
    size_t size = strlen(path) + 64;

    file->stream = NULL;
    file->final_path = xstrdup(path);
    file->temp_path = xmalloc(size);

    /* Created by open() rather than mkstemp so that the umask gives the file
     * its usual mode (mkstemp's is 0600), without changing the process-wide
     * umask under other threads. */
    int fd = -1;
    for (int attempt = 0; fd < 0 && attempt < MAX_NAME_ATTEMPTS; attempt++) {
        make_temp_name(file->temp_path, size, path);
        fd = open(file->temp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        error_set("%s: cannot create temporary file: %s", path, strerror(errno));
        atomic_file_release(file);
        return -1;
    }
    if (!(file->stream = fdopen(fd, "wb"))) {
        error_set("%s: cannot open temporary file: %s", path, strerror(errno));
        close(fd);
        unlink(file->temp_path);
        atomic_file_release(file);
        return -1;
    }
    return 0;
}

/* Makes the rename itself durable. Best effort: the new file is already in
 * place, and some file systems refuse fsync on directories. */
static void sync_parent_directory(const char *path)
{
    char *directory = xstrdup(path);
    char *slash = strrchr(directory, '/');
    if (slash == directory)
        directory[1] = '\0';  /* a file in the root: keep "/" */
    else if (slash)
        *slash = '\0';
    int fd = open(slash ? directory : ".", O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(directory);
}

int atomic_file_commit(AtomicFile *file)
{
    FILE *stream = file->stream;
    file->stream = NULL;

    errno = 0;
    int failed = fflush(stream) != 0 || ferror(stream) || fsync(fileno(stream)) != 0;
    int saved_errno = errno;
    if (fclose(stream) != 0 && !failed) {
        failed = 1;
        saved_errno = errno;
    }
    if (failed) {
        /* An earlier fwrite may have failed without leaving errno set. */
        error_set("%s: write failed: %s", file->final_path,
                  strerror(saved_errno ? saved_errno : EIO));
        atomic_file_abort(file);
        return -1;
    }
    if (rename(file->temp_path, file->final_path) != 0) {
        error_set("%s: cannot rename temporary file into place: %s", file->final_path,
                  strerror(errno));
        atomic_file_abort(file);
        return -1;
    }
    sync_parent_directory(file->final_path);
    atomic_file_release(file);
    return 0;
}

void atomic_file_abort(AtomicFile *file)
{
    if (file->stream)
        fclose(file->stream);
    if (file->temp_path)
        unlink(file->temp_path);
    atomic_file_release(file);
}

int atomic_file_copy(const char *from, const char *path)
{
    FILE *in = fopen(from, "rb");
    if (!in)
        return error_set("%s: cannot open: %s", from, strerror(errno));
    AtomicFile out;
    if (atomic_file_open(&out, path) < 0) {
        fclose(in);
        return -1;
    }
    char buffer[65536];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, in)) > 0)
        fwrite(buffer, 1, n, out.stream);
    bool failed = ferror(in);
    fclose(in);
    if (failed) {
        atomic_file_abort(&out);
        return error_set("%s: read error", from);
    }
    return atomic_file_commit(&out);
}
