/* NumPy .npy files (format version 1.0, little-endian, C order). */
#ifndef UOE_NPY_H
#define UOE_NPY_H

#include <stdint.h>

typedef enum { NPY_FLOAT32, NPY_INT32, NPY_INT64 } NpyType;

typedef struct {
    NpyType type;
    int ndim;
    int64_t shape[8];
    void *data;           /* owned; numel elements of type */
    int64_t numel;
} NpyArray;

/* Writes atomically. */
int npy_write(const char *path, NpyType type, int ndim, const int64_t *shape, const void *data);
/* Reads '<f4', '<i4' or '<i8' arrays, C order; errors name the path. */
int npy_read(const char *path, NpyArray *out);
void npy_free(NpyArray *array);

#endif
