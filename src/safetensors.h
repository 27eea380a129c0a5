/* HF safetensors files: reading through mmap with full validation, and
 * writing with an atomic temp-file-and-rename.
 *
 * Format: 8-byte little-endian header length N, then N bytes of JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"key": "string", ...}}, then the data region. Offsets are
 * relative to the data region. */
#ifndef UOE_SAFETENSORS_H
#define UOE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "dtype.h"

#define SAFETENSORS_MAX_DIMS 8

typedef struct {
    char *name;
    DType dtype;
    int ndim;
    int64_t shape[SAFETENSORS_MAX_DIMS];
    const void *data;     /* points into the mapping; may be unaligned */
    size_t nbytes;
} SafetensorsTensor;

typedef struct {
    char *path;
    void *map;            /* whole file, read-only */
    size_t map_size;
    SafetensorsTensor *tensors;  /* sorted by name */
    int count;
} SafetensorsFile;

/* Maps and validates a file: header length within the file, valid JSON,
 * every entry with a known dtype, a shape of non-negative dims, offsets with
 * begin <= end inside the data region, nbytes == product(shape)*dtype size,
 * no two tensors overlapping. On failure returns -1 with an error naming the
 * path and the tensor. */
int safetensors_open(SafetensorsFile *file, const char *path);
void safetensors_close(SafetensorsFile *file);
/* Returns NULL when absent. */
const SafetensorsTensor *safetensors_find(const SafetensorsFile *file, const char *name);

/* Writes "[4, 32]" ("[]" for a scalar) into buffer, truncated to size: the
 * one spelling of a shape in messages about safetensors files. */
void safetensors_format_shape(char *buffer, size_t size, int ndim, const int64_t *shape);

/* One tensor to be written: float32 data converted to dtype on the way out. */
typedef struct {
    const char *name;
    DType dtype;
    int ndim;
    int64_t shape[SAFETENSORS_MAX_DIMS];
    const float *data;
} SafetensorsWriteTensor;

/* Writes path atomically (a temporary file beside it, fsync, rename). The
 * tensors are laid out in the order given; metadata may be NULL or a
 * NULL-terminated list of key, value pairs for "__metadata__". */
int safetensors_write(const char *path, const SafetensorsWriteTensor *tensors, int count,
                      const char *const *metadata);

#endif
