/* Writing a file so that readers only ever see the old or the whole new one:
 * the data goes to a temporary file beside it, NAME.tmp.PID.N.HEX, which is
 * fsynced and renamed onto NAME. A failed write (a full disk, ENOSPC; a file
 * size limit, EFBIG) leaves NAME as it was and removes the temporary file.
 *
 * A process killed while writing leaves its temporary file behind. The next
 * atomic_file_open in the same directory removes such leftovers of dead
 * processes (see remove_stale_temp_files in atomic_file.c). */
#ifndef UOE_ATOMIC_FILE_H
#define UOE_ATOMIC_FILE_H

#include <stdio.h>

typedef struct {
    FILE *stream;
    char *final_path;
    char *temp_path;
    int lock_fd;      /* holds the temporary file's flock until it is renamed or removed */
} AtomicFile;

/* Opens a temporary file beside path, after removing stale temporary files
 * of dead processes from that directory. Also sets SIGXFSZ to ignored, so
 * that a file size limit (ulimit -f) makes the write fail with EFBIG, which
 * is reported, rather than kill the process. */
int atomic_file_open(AtomicFile *file, const char *path);
/* Flushes, fsyncs and renames onto the final path; on any failure removes the
 * temporary file and returns -1 with an error naming the path. */
int atomic_file_commit(AtomicFile *file);
/* Removes the temporary file (for error paths). */
void atomic_file_abort(AtomicFile *file);
/* For a write to file->stream that failed with errnum (0: unknown, EIO):
 * records "PATH: write failed: REASON" and whether PATH was left as it was,
 * removes the temporary file, and returns -1. */
int atomic_file_fail(AtomicFile *file, int errnum);

/* Copies the file at from to path, atomically as above. */
int atomic_file_copy(const char *from, const char *path);

#endif
