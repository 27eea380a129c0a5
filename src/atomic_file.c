#include "atomic_file.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

static void atomic_file_release(AtomicFile *file)
{
    if (file->lock_fd >= 0)
        close(file->lock_fd);
    free(file->final_path);
    free(file->temp_path);
    file->stream = NULL;
    file->final_path = NULL;
    file->temp_path = NULL;
    file->lock_fd = -1;
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

/* ---- stale temporary files ----
 *
 * A temporary file is stale when the process that wrote it is gone: killed
 * (SIGKILL, the OOM killer, a power cut) between open and rename. Two tests
 * must both say so before one is removed:
 *   - the PID in its name does not exist here (kill(pid, 0) fails with
 *     ESRCH). A live writer of this PID namespace, or any process that
 *     reused the PID, keeps the file, which is harmless: it goes once that
 *     PID is gone.
 *   - no process holds its flock. Each writer locks its temporary file from
 *     just after creating it until it is renamed or removed, and the kernel
 *     drops the lock when the writer dies, however it dies. This keeps the
 *     files of live writers in other PID namespaces (containers sharing the
 *     directory), whose PIDs mean nothing here; only the moment between
 *     their open() and flock() is unguarded.
 * The names are recognised strictly (NAME.tmp.PID.N.HEX with 8 hex digits,
 * as make_temp_name writes them), so no other file is ever touched. */

/* The PID in the name of one of our temporary files, or -1 for any other name. */
static long temp_file_pid(const char *name)
{
    size_t length = strlen(name);
    const char *end = name + length;
    if (length < sizeof ".tmp.1.1.00000000")
        return -1;
    const char *p = end - 8; /* the random part */
    for (const char *q = p; q < end; q++)
        if (!isxdigit((unsigned char)*q))
            return -1;
    if (*--p != '.')
        return -1;
    const char *counter_end = p;
    while (p > name && isdigit((unsigned char)p[-1]))
        p--;
    if (p == counter_end || p == name || *--p != '.')
        return -1;
    const char *pid_end = p;
    while (p > name && isdigit((unsigned char)p[-1]))
        p--;
    const char *pid_start = p;
    if (pid_start == pid_end || pid_end - pid_start > 9 || pid_start - name < 6
        || strncmp(pid_start - 5, ".tmp.", 5) != 0)
        return -1;
    return strtol(pid_start, NULL, 10);
}

static bool process_is_gone(long pid)
{
    return pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Whether nobody holds the flock of the file open as fd. */
static bool nobody_holds_lock(int fd)
{
    return flock(fd, LOCK_EX | LOCK_NB) == 0;
}

/* Removes the stale temporary files in the directory of path. Best effort:
 * an entry that cannot be read or removed stays, and the write goes on. */
static void remove_stale_temp_files(const char *path)
{
    char *directory = xstrdup(path);
    char *slash = strrchr(directory, '/');
    if (slash)
        slash[1] = '\0';
    DIR *listing = opendir(slash ? directory : ".");
    if (!listing) {
        free(directory);
        return;
    }
    int directory_fd = dirfd(listing);
    struct dirent *entry;
    while ((entry = readdir(listing))) {
        if (!process_is_gone(temp_file_pid(entry->d_name)))
            continue;
        int fd = openat(directory_fd, entry->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
            continue;
        struct stat status;
        if (fstat(fd, &status) == 0 && S_ISREG(status.st_mode) && nobody_holds_lock(fd))
            unlinkat(directory_fd, entry->d_name, 0);
        close(fd);
    }
    closedir(listing);
    free(directory);
}

/* ---- writing ---- */

int atomic_file_open(AtomicFile *file, const char *path)
{
    /* Room for ".tmp.", a pid, a counter, 8 hex digits, two dots and the NUL. */
    size_t size = strlen(path) + 64;

    /* A file size limit then fails the write with EFBIG instead of killing us. */
    signal(SIGXFSZ, SIG_IGN);
    remove_stale_temp_files(path);

    file->stream = NULL;
    file->final_path = xstrdup(path);
    file->temp_path = xmalloc(size);
    file->lock_fd = -1;

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
    /* The lock marks the file as a live writer's (see above); a duplicate
     * descriptor keeps it past fclose until the rename. File systems without
     * flock leave the file unlocked, and only the PID test guards it. */
    file->lock_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (file->lock_fd >= 0)
        flock(file->lock_fd, LOCK_EX | LOCK_NB);
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

int atomic_file_fail(AtomicFile *file, int errnum)
{
    /* A failed fwrite may leave errno unset. */
    const char *reason = strerror(errnum ? errnum : EIO);
    if (access(file->final_path, F_OK) == 0)
        error_set("%s: write failed: %s; the previous file is left as it was",
                  file->final_path, reason);
    else
        error_set("%s: write failed: %s; nothing was written", file->final_path, reason);
    atomic_file_abort(file);
    return -1;
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
    if (failed)
        return atomic_file_fail(file, saved_errno);
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
    while ((n = fread(buffer, 1, sizeof buffer, in)) > 0) {
        if (fwrite(buffer, 1, n, out.stream) != n) {
            int saved_errno = errno;
            fclose(in);
            return atomic_file_fail(&out, saved_errno);
        }
    }
    bool failed = ferror(in);
    fclose(in);
    if (failed) {
        atomic_file_abort(&out);
        return error_set("%s: read error", from);
    }
    return atomic_file_commit(&out);
}
