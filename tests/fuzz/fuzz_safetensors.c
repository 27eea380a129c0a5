/* libFuzzer harness: safetensors_open on arbitrary file bytes (the 8-byte
 * header length, the JSON header, data offsets against the data region).
 * An accepted file must keep every promise of safetensors.h: each tensor
 * inside the mapping, its size that of its shape and dtype, found by name. */
#include <stdint.h>
#include <string.h>

#include "error.h"
#include "fuzz_util.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    SafetensorsFile file;
    error_clear();
    if (safetensors_open(&file, fuzz_file(data, size)) != 0) {
        if (strcmp(error_message(), "unknown error") == 0)
            abort();  /* every refusal says why */
        return 0;
    }
    const unsigned char *begin = file.map, *end = begin + file.map_size;
    volatile unsigned char sink = 0;
    for (int i = 0; i < file.count; i++) {
        const SafetensorsTensor *t = &file.tensors[i];
        const unsigned char *p = t->data;
        if (p < begin + 8 || p > end || t->nbytes > (size_t)(end - p))
            abort();
        uint64_t expected = dtype_size(t->dtype);
        for (int d = 0; d < t->ndim; d++)
            expected *= (uint64_t)t->shape[d];
        if (expected != t->nbytes)
            abort();
        for (size_t b = 0; b < t->nbytes; b++)
            sink ^= p[b];
        if (safetensors_find(&file, t->name) != t)
            abort();
        char shape[64];
        safetensors_format_shape(shape, sizeof shape, t->ndim, t->shape);
    }
    (void)sink;
    safetensors_close(&file);
    return 0;
}
