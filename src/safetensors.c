#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "error.h"

/* The limit of the reference implementation; real headers stay far below. */
#define MAX_HEADER_BYTES 100000000u
#define LENGTH_PREFIX_BYTES 8
#define METADATA_KEY "__metadata__"
/* Elements converted per fwrite when writing tensor data. */
#define WRITE_CHUNK_ELEMENTS 16384

static uint64_t load_le64(const unsigned char *p)
{
    uint64_t value = 0;
    for (int i = 7; i >= 0; i--)
        value = value << 8 | p[i];
    return value;
}

static void store_le64(unsigned char *p, uint64_t value)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(value >> (8 * i));
}

void safetensors_format_shape(char *buffer, size_t size, int ndim, const int64_t *shape)
{
    size_t used = (size_t)snprintf(buffer, size, "[");
    for (int i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(buffer + used, size - used, "%s%" PRId64, i ? ", " : "", shape[i]);
    if (used < size)
        snprintf(buffer + used, size - used, "]");
}

/* Bytes of a tensor of this shape and dtype; -1 when that overflows 64 bits. */
static int shape_bytes(const int64_t *shape, int ndim, DType dtype, uint64_t *out)
{
    uint64_t bytes = dtype_size(dtype);
    for (int i = 0; i < ndim; i++)
        if (__builtin_mul_overflow(bytes, (uint64_t)shape[i], &bytes))
            return -1;
    *out = bytes;
    return 0;
}

/* ---- reading ---- */

static int map_file(SafetensorsFile *file, const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return error_set("%s: cannot open: %s", path, strerror(errno));
    struct stat status;
    if (fstat(fd, &status) != 0) {
        error_set("%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(status.st_mode)) {
        close(fd);
        return error_set("%s: not a regular file", path);
    }
    if (status.st_size < LENGTH_PREFIX_BYTES) {
        close(fd);
        return error_set("%s: file is %lld bytes, shorter than the 8-byte header length", path,
                         (long long)status.st_size);
    }
    if ((uint64_t)status.st_size > SIZE_MAX) {
        close(fd);
        return error_set("%s: file of %lld bytes is too large to map", path,
                         (long long)status.st_size);
    }
    void *map = mmap(NULL, (size_t)status.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int saved_errno = errno;
    close(fd);
    if (map == MAP_FAILED)
        return error_set("%s: cannot map: %s", path, strerror(saved_errno));
    file->map = map;
    file->map_size = (size_t)status.st_size;
    return 0;
}

/* Parses the JSON header; on success *header_bytes is its length N. */
static json_t *parse_header(const SafetensorsFile *file, uint64_t *header_bytes)
{
    uint64_t length = load_le64(file->map);
    if (length > MAX_HEADER_BYTES) {
        error_set("%s: header length %" PRIu64 " exceeds the limit of %u bytes", file->path,
                  length, MAX_HEADER_BYTES);
        return NULL;
    }
    if (length > file->map_size - LENGTH_PREFIX_BYTES) {
        error_set("%s: header length %" PRIu64 " runs past the end of the file (%zu bytes)",
                  file->path, length, file->map_size);
        return NULL;
    }
    json_error_t json_error;
    json_t *root = json_loadb((const char *)file->map + LENGTH_PREFIX_BYTES, (size_t)length,
                              JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &json_error);
    if (!root) {
        error_set("%s: invalid JSON header: %s (line %d, column %d)", file->path,
                  json_error.text, json_error.line, json_error.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        error_set("%s: header is not a JSON object", file->path);
        json_decref(root);
        return NULL;
    }
    *header_bytes = length;
    return root;
}

static int check_metadata(const json_t *metadata)
{
    const char *key;
    const json_t *value;
    if (!json_is_object(metadata))
        return error_set("\"%s\" is not an object", METADATA_KEY);
    json_object_foreach((json_t *)metadata, key, value) {
        if (!json_is_string(value))
            return error_set("\"%s\" value for '%s' is not a string", METADATA_KEY, key);
    }
    return 0;
}

static int parse_dtype(const json_t *entry, DType *dtype)
{
    const json_t *value = json_object_get(entry, "dtype");
    if (!json_is_string(value))
        return error_set("\"dtype\" is missing or not a string");
    if (dtype_parse(json_string_value(value), dtype) != 0)
        return error_set("unsupported dtype '%s'", json_string_value(value));
    return 0;
}

static int parse_shape(const json_t *entry, SafetensorsTensor *tensor)
{
    const json_t *shape = json_object_get(entry, "shape");
    if (!json_is_array(shape))
        return error_set("\"shape\" is missing or not an array");
    size_t ndim = json_array_size(shape);
    if (ndim > SAFETENSORS_MAX_DIMS)
        return error_set("shape has %zu dims, more than %d", ndim, SAFETENSORS_MAX_DIMS);
    for (size_t i = 0; i < ndim; i++) {
        const json_t *dim = json_array_get(shape, i);
        if (!json_is_integer(dim))
            return error_set("shape[%zu] is not an integer", i);
        if (json_integer_value(dim) < 0)
            return error_set("shape[%zu] is negative (%" JSON_INTEGER_FORMAT ")", i,
                             json_integer_value(dim));
        tensor->shape[i] = json_integer_value(dim);
    }
    tensor->ndim = (int)ndim;
    return 0;
}

static int parse_offsets(const json_t *entry, uint64_t *begin, uint64_t *end)
{
    const json_t *offsets = json_object_get(entry, "data_offsets");
    if (!json_is_array(offsets) || json_array_size(offsets) != 2)
        return error_set("\"data_offsets\" is missing or not a pair");
    const json_t *first = json_array_get(offsets, 0);
    const json_t *second = json_array_get(offsets, 1);
    if (!json_is_integer(first) || !json_is_integer(second))
        return error_set("\"data_offsets\" holds a value that is not an integer");
    if (json_integer_value(first) < 0 || json_integer_value(second) < 0)
        return error_set("\"data_offsets\" [%" JSON_INTEGER_FORMAT ", %" JSON_INTEGER_FORMAT
                         ") holds a negative offset",
                         json_integer_value(first), json_integer_value(second));
    *begin = (uint64_t)json_integer_value(first);
    *end = (uint64_t)json_integer_value(second);
    return 0;
}

/* Fills tensor (but its name) from one header entry; data is the start of
 * the data region of data_bytes bytes. Errors lack the path and name. */
static int parse_tensor(const json_t *entry, const unsigned char *data, uint64_t data_bytes,
                        SafetensorsTensor *tensor)
{
    uint64_t begin = 0, end = 0, expected;
    char shape_text[256];

    if (!json_is_object(entry))
        return error_set("entry is not an object");
    if (parse_dtype(entry, &tensor->dtype) != 0 || parse_shape(entry, tensor) != 0
        || parse_offsets(entry, &begin, &end) != 0)
        return -1;
    if (begin > end)
        return error_set("data_offsets [%" PRIu64 ", %" PRIu64 ") begin after end", begin, end);
    if (end > data_bytes)
        return error_set("data_offsets [%" PRIu64 ", %" PRIu64 ") end past the data region (%"
                         PRIu64 " bytes)", begin, end, data_bytes);
    safetensors_format_shape(shape_text, sizeof shape_text, tensor->ndim, tensor->shape);
    if (shape_bytes(tensor->shape, tensor->ndim, tensor->dtype, &expected) != 0)
        return error_set("shape %s of %s overflows 64 bits of bytes", shape_text,
                         dtype_name(tensor->dtype));
    if (expected != end - begin)
        return error_set("shape %s of %s needs %" PRIu64 " bytes but data_offsets [%" PRIu64
                         ", %" PRIu64 ") span %" PRIu64, shape_text, dtype_name(tensor->dtype),
                         expected, begin, end, end - begin);
    tensor->data = data + begin;
    tensor->nbytes = (size_t)(end - begin);
    return 0;
}

static int compare_by_position(const void *a, const void *b)
{
    const SafetensorsTensor *x = *(const SafetensorsTensor *const *)a;
    const SafetensorsTensor *y = *(const SafetensorsTensor *const *)b;
    const unsigned char *x_data = x->data, *y_data = y->data;
    if (x_data != y_data)
        return x_data < y_data ? -1 : 1;
    return (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes);
}

/* Empty tensors occupy no bytes and so overlap nothing. */
static int check_overlaps(const SafetensorsFile *file, const unsigned char *data)
{
    const SafetensorsTensor **by_position = xmalloc((size_t)file->count * sizeof *by_position);
    for (int i = 0; i < file->count; i++)
        by_position[i] = &file->tensors[i];
    qsort(by_position, (size_t)file->count, sizeof *by_position, compare_by_position);

    const SafetensorsTensor *previous = NULL;
    int result = 0;
    for (int i = 0; i < file->count && result == 0; i++) {
        const SafetensorsTensor *current = by_position[i];
        if (current->nbytes == 0)
            continue;
        /* Sorted by start and disjoint so far: no earlier tensor ends after previous. */
        if (previous && (const unsigned char *)current->data
                            < (const unsigned char *)previous->data + previous->nbytes) {
            size_t previous_begin = (size_t)((const unsigned char *)previous->data - data);
            size_t current_begin = (size_t)((const unsigned char *)current->data - data);
            result = error_set("%s: tensors '%s' and '%s' overlap: data_offsets [%zu, %zu) and "
                               "[%zu, %zu)", file->path, previous->name, current->name,
                               previous_begin, previous_begin + previous->nbytes, current_begin,
                               current_begin + current->nbytes);
        }
        previous = current;
    }
    free(by_position);
    return result;
}

static int compare_by_name(const void *a, const void *b)
{
    const SafetensorsTensor *x = a, *y = b;
    return strcmp(x->name, y->name);
}

static int parse_tensors(SafetensorsFile *file, const json_t *root, uint64_t header_bytes)
{
    const unsigned char *data = (const unsigned char *)file->map + LENGTH_PREFIX_BYTES
                                + header_bytes;
    uint64_t data_bytes = file->map_size - LENGTH_PREFIX_BYTES - header_bytes;
    const json_t *metadata = json_object_get(root, METADATA_KEY);
    const char *name;
    const json_t *entry;

    if (metadata && check_metadata(metadata) != 0)
        return error_prefix("%s", file->path);
    file->tensors = xcalloc(json_object_size(root), sizeof *file->tensors);
    json_object_foreach((json_t *)root, name, entry) {
        if (entry == metadata)
            continue;
        SafetensorsTensor *tensor = &file->tensors[file->count];
        if (parse_tensor(entry, data, data_bytes, tensor) != 0)
            return error_prefix("%s: tensor '%s'", file->path, name);
        tensor->name = xstrdup(name);
        file->count++;
    }
    if (check_overlaps(file, data) != 0)
        return -1;
    qsort(file->tensors, (size_t)file->count, sizeof *file->tensors, compare_by_name);
    return 0;
}

int safetensors_open(SafetensorsFile *file, const char *path)
{
    memset(file, 0, sizeof *file);
    if (map_file(file, path) != 0)
        return -1;
    file->path = xstrdup(path);

    uint64_t header_bytes;
    json_t *root = parse_header(file, &header_bytes);
    int result = root ? parse_tensors(file, root, header_bytes) : -1;
    json_decref(root);
    if (result != 0)
        safetensors_close(file);
    return result;
}

void safetensors_close(SafetensorsFile *file)
{
    if (file->map)
        munmap(file->map, file->map_size);
    for (int i = 0; i < file->count; i++)
        free(file->tensors[i].name);
    free(file->tensors);
    free(file->path);
    memset(file, 0, sizeof *file);
}

static int compare_name_to_tensor(const void *name, const void *tensor)
{
    return strcmp(name, ((const SafetensorsTensor *)tensor)->name);
}

const SafetensorsTensor *safetensors_find(const SafetensorsFile *file, const char *name)
{
    if (file->count == 0)
        return NULL;
    return bsearch(name, file->tensors, (size_t)file->count, sizeof *file->tensors,
                   compare_name_to_tensor);
}

/* ---- writing ---- */

/* Checks one tensor to be written and returns its size in bytes. Errors lack
 * the path. */
static int check_write_tensor(const SafetensorsWriteTensor *tensor, uint64_t *bytes)
{
    if (!tensor->name)
        return error_set("tensor without a name");
    if (strcmp(tensor->name, METADATA_KEY) == 0)
        return error_set("tensor name '%s' is reserved", METADATA_KEY);
    if (tensor->ndim < 0 || tensor->ndim > SAFETENSORS_MAX_DIMS)
        return error_set("tensor '%s': %d dims, expected 0 to %d", tensor->name, tensor->ndim,
                         SAFETENSORS_MAX_DIMS);
    for (int i = 0; i < tensor->ndim; i++)
        if (tensor->shape[i] < 0)
            return error_set("tensor '%s': shape[%d] is negative (%" PRId64 ")", tensor->name, i,
                             tensor->shape[i]);
    if (shape_bytes(tensor->shape, tensor->ndim, tensor->dtype, bytes) != 0
        || *bytes > (uint64_t)INT64_MAX)
        return error_set("tensor '%s': shape too large", tensor->name);
    if (*bytes > 0 && !tensor->data)
        return error_set("tensor '%s': no data", tensor->name);
    return 0;
}

static int add_metadata(json_t *root, const char *const *metadata)
{
    json_t *object = json_object();
    json_object_set_new(root, METADATA_KEY, object);
    if (!metadata) {
        /* Hugging Face loaders expect this entry in PyTorch-style files. */
        json_object_set_new(object, "format", json_string("pt"));
        return 0;
    }
    for (; metadata[0]; metadata += 2) {
        if (!metadata[1])
            return error_set("metadata key '%s' has no value", metadata[0]);
        if (json_object_set_new(object, metadata[0], json_string(metadata[1])) != 0)
            return error_set("metadata '%s' is not valid UTF-8", metadata[0]);
    }
    return 0;
}

static json_t *tensor_entry(const SafetensorsWriteTensor *tensor, uint64_t begin, uint64_t end)
{
    json_t *entry = json_object();
    json_t *shape = json_array();
    for (int i = 0; i < tensor->ndim; i++)
        json_array_append_new(shape, json_integer(tensor->shape[i]));
    json_object_set_new(entry, "dtype", json_string(dtype_name(tensor->dtype)));
    json_object_set_new(entry, "shape", shape);
    json_object_set_new(entry, "data_offsets",
                        json_pack("[II]", (json_int_t)begin, (json_int_t)end));
    return entry;
}

/* Builds the header as compact JSON text (metadata first, then the tensors in
 * the given order with contiguous offsets). Errors lack the path. */
static char *build_header(const SafetensorsWriteTensor *tensors, int count,
                          const char *const *metadata)
{
    json_t *root = json_object();
    uint64_t offset = 0;
    char *text = NULL;

    if (add_metadata(root, metadata) != 0)
        goto done;
    for (int i = 0; i < count; i++) {
        const SafetensorsWriteTensor *tensor = &tensors[i];
        uint64_t bytes = 0;
        if (check_write_tensor(tensor, &bytes) != 0)
            goto done;
        if (json_object_get(root, tensor->name)) {
            error_set("tensor '%s' given twice", tensor->name);
            goto done;
        }
        if (bytes > (uint64_t)INT64_MAX - offset) {
            error_set("tensor '%s': data past 2^63 bytes", tensor->name);
            goto done;
        }
        if (json_object_set_new(root, tensor->name, tensor_entry(tensor, offset, offset + bytes))
            != 0) {
            error_set("tensor name '%s' is not valid UTF-8", tensor->name);
            goto done;
        }
        offset += bytes;
    }
    text = json_dumps(root, JSON_PRESERVE_ORDER | JSON_COMPACT);
    CHECK(text != NULL);
done:
    json_decref(root);
    return text;
}

static int write_tensor_data(FILE *stream, const SafetensorsWriteTensor *tensor,
                             unsigned char *buffer)
{
    size_t count = 1;
    for (int i = 0; i < tensor->ndim; i++)
        count *= (size_t)tensor->shape[i];
    size_t element_bytes = dtype_size(tensor->dtype);
    for (size_t done = 0; done < count; done += WRITE_CHUNK_ELEMENTS) {
        size_t chunk = count - done < WRITE_CHUNK_ELEMENTS ? count - done : WRITE_CHUNK_ELEMENTS;
        dtype_from_f32(buffer, tensor->data + done, tensor->dtype, chunk);
        if (fwrite(buffer, element_bytes, chunk, stream) != chunk)
            return -1;
    }
    return 0;
}

/* Writes the length prefix, the header padded with spaces to a multiple of 8
 * bytes (so the data region starts 8-aligned) and the data. */
static int write_contents(FILE *stream, const char *header, const SafetensorsWriteTensor *tensors,
                          int count)
{
    static const char spaces[8] = "        ";
    size_t length = strlen(header);
    size_t padding = (8 - length % 8) % 8;
    unsigned char prefix[LENGTH_PREFIX_BYTES];
    store_le64(prefix, length + padding);
    if (fwrite(prefix, 1, sizeof prefix, stream) != sizeof prefix
        || fwrite(header, 1, length, stream) != length
        || fwrite(spaces, 1, padding, stream) != padding)
        return -1;

    unsigned char *buffer = xmalloc(WRITE_CHUNK_ELEMENTS * sizeof(float));
    int result = 0;
    for (int i = 0; i < count && result == 0; i++)
        result = write_tensor_data(stream, &tensors[i], buffer);
    free(buffer);
    return result;
}

int safetensors_write(const char *path, const SafetensorsWriteTensor *tensors, int count,
                      const char *const *metadata)
{
    if (count < 0)
        return error_set("%s: negative tensor count %d", path, count);
    char *header = build_header(tensors, count, metadata);
    if (!header)
        return error_prefix("%s", path);

    AtomicFile file;
    int result = atomic_file_open(&file, path);
    if (result == 0) {
        errno = 0;
        result = write_contents(file.stream, header, tensors, count) != 0
                     ? atomic_file_fail(&file, errno)
                     : atomic_file_commit(&file);
    }
    free(header);
    return result;
}
