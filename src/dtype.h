/* Element types of checkpoint tensors and their conversion to float32.
 * The engine computes in float32; BF16 and F16 exist only on disk. */
#ifndef UOE_DTYPE_H
#define UOE_DTYPE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { DTYPE_F32, DTYPE_BF16, DTYPE_F16 } DType;

/* "F32", "BF16", "F16"; returns -1 for any other safetensors dtype string. */
int dtype_parse(const char *name, DType *out);
const char *dtype_name(DType dtype);
size_t dtype_size(DType dtype);

/* Converts n elements of src (in dtype, little-endian, any alignment) to float32. */
void dtype_to_f32(float *dst, const void *src, DType dtype, size_t n);
/* Converts n float32 to dtype (BF16 and F16 round to nearest even). */
void dtype_from_f32(void *dst, const float *src, DType dtype, size_t n);

#endif
