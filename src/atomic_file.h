/* Writing a file so that readers only ever see the old or the whole new one. */
#ifndef UOE_ATOMIC_FILE_H
#define UOE_ATOMIC_FILE_H

#include <stdio.h>

typedef struct {
    FILE *stream;
    char *final_path;
    char *temp_path;
} AtomicFile;

/* Opens a temporary file beside path. */
int atomic_file_open(AtomicFile *file, const char *path);
/* Flushes, fsyncs and renames onto the final path; on any failure removes the
 * temporary file and returns -1 with an error naming the path. */
int atomic_file_commit(AtomicFile *file);
/* Removes the temporary file (for error paths). */
void atomic_file_abort(AtomicFile *file);

/* Copies the file at from to path, atomically as above. */
int atomic_file_copy(const char *from, const char *path);

#endif
