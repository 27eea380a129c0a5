#include "npy.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomic_file.h"
#include "error.h"

/* Element data is copied to and from disk as is, and .npy files here are
 * little-endian ('<' descrs). */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "npy.c assumes a little-endian host");

#define NPY_MAX_DIMS 8
/* Every file starts with these six bytes, then major and minor version. */
#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_BYTES 6
/* The format pads headers so that the data starts at a multiple of this. */
#define NPY_ALIGNMENT 64

static const struct {
    NpyType type;
    const char *descr;
    size_t element_bytes;
} npy_types[] = {
    {NPY_FLOAT32, "<f4", 4},
    {NPY_INT32, "<i4", 4},
    {NPY_INT64, "<i8", 8},
};
#define NPY_TYPE_COUNT (sizeof npy_types / sizeof npy_types[0])

static int find_type(NpyType type)
{
    for (size_t i = 0; i < NPY_TYPE_COUNT; i++)
        if (npy_types[i].type == type)
            return (int)i;
    return -1;
}

static int find_descr(const char *descr)
{
    for (size_t i = 0; i < NPY_TYPE_COUNT; i++)
        if (strcmp(npy_types[i].descr, descr) == 0)
            return (int)i;
    return -1;
}

/* Element count and size in bytes of a shape; -1 on overflow. */
static int shape_size(const int64_t *shape, int ndim, size_t element_bytes, int64_t *numel,
                      size_t *bytes)
{
    int64_t count = 1;
    for (int i = 0; i < ndim; i++)
        if (__builtin_mul_overflow(count, shape[i], &count))
            return -1;
    if (__builtin_mul_overflow((size_t)count, element_bytes, bytes))
        return -1;
    *numel = count;
    return 0;
}

/* "(2, 3)", "(3,)" or "()" as Python writes tuples. */
static void format_shape(char *buffer, size_t size, const int64_t *shape, int ndim)
{
    size_t used = (size_t)snprintf(buffer, size, "(");
    for (int i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(buffer + used, size - used, "%s%" PRId64, i ? ", " : "",
                                 shape[i]);
    if (used < size)
        snprintf(buffer + used, size - used, "%s)", ndim == 1 ? "," : "");
}

/* ---- writing ---- */

/* Builds magic, version 1.0, header length and the header dict padded with
 * spaces and a final newline to a multiple of NPY_ALIGNMENT bytes; returns
 * the total length. */
static size_t build_preamble(char *buffer, size_t size, const char *descr, const int64_t *shape,
                             int ndim)
{
    char shape_text[256];
    format_shape(shape_text, sizeof shape_text, shape, ndim);
    size_t start = NPY_MAGIC_BYTES + 4;
    int dict_length = snprintf(buffer + start, size - start,
                               "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr,
                               shape_text);
    CHECK(dict_length > 0 && start + (size_t)dict_length + NPY_ALIGNMENT < size);
    size_t total = (start + (size_t)dict_length + 1 + NPY_ALIGNMENT - 1) / NPY_ALIGNMENT
                   * NPY_ALIGNMENT;
    size_t header_length = total - start;
    memset(buffer + start + dict_length, ' ', header_length - (size_t)dict_length - 1);
    buffer[total - 1] = '\n';

    memcpy(buffer, NPY_MAGIC, NPY_MAGIC_BYTES);
    buffer[6] = 1;
    buffer[7] = 0;
    buffer[8] = (char)(header_length & 0xFF);
    buffer[9] = (char)(header_length >> 8);
    return total;
}

int npy_write(const char *path, NpyType type, int ndim, const int64_t *shape, const void *data)
{
    int type_index = find_type(type);
    if (type_index < 0)
        return error_set("%s: invalid npy type %d", path, (int)type);
    if (ndim < 0 || ndim > NPY_MAX_DIMS)
        return error_set("%s: %d dims, expected 0 to %d", path, ndim, NPY_MAX_DIMS);
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 0)
            return error_set("%s: shape[%d] is negative (%" PRId64 ")", path, i, shape[i]);
    int64_t numel;
    size_t bytes;
    if (shape_size(shape, ndim, npy_types[type_index].element_bytes, &numel, &bytes) != 0)
        return error_set("%s: shape too large", path);
    if (bytes > 0 && !data)
        return error_set("%s: no data", path);

    char preamble[512];
    size_t preamble_length = build_preamble(preamble, sizeof preamble,
                                            npy_types[type_index].descr, shape, ndim);
    AtomicFile file;
    if (atomic_file_open(&file, path) != 0)
        return -1;
    errno = 0;
    if (fwrite(preamble, 1, preamble_length, file.stream) != preamble_length
        || (bytes > 0 && fwrite(data, 1, bytes, file.stream) != bytes)) {
        error_set("%s: write failed: %s", path, strerror(errno ? errno : EIO));
        atomic_file_abort(&file);
        return -1;
    }
    return atomic_file_commit(&file);
}

/* ---- reading the header dict ---- */

/* The header is a Python dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * This parser accepts the literals NumPy writes: quoted strings without
 * escapes, True/False, and tuples of non-negative integers. */
typedef struct {
    const char *start;
    const char *cursor;
} HeaderCursor;

#define MAX_STRING_BYTES 64

static void skip_space(HeaderCursor *c)
{
    while (*c->cursor == ' ' || *c->cursor == '\t' || *c->cursor == '\n' || *c->cursor == '\r')
        c->cursor++;
}

static long offset_of(const HeaderCursor *c)
{
    return (long)(c->cursor - c->start);
}

static int expect_char(HeaderCursor *c, char expected)
{
    skip_space(c);
    if (*c->cursor != expected)
        return error_set("expected '%c' at offset %ld", expected, offset_of(c));
    c->cursor++;
    return 0;
}

static int parse_string(HeaderCursor *c, char *out)
{
    skip_space(c);
    char quote = *c->cursor;
    if (quote != '\'' && quote != '"')
        return error_set("expected a string at offset %ld", offset_of(c));
    long begin = offset_of(c);
    size_t length = 0;
    for (c->cursor++; *c->cursor != quote; c->cursor++) {
        if (*c->cursor == '\0')
            return error_set("unterminated string at offset %ld", begin);
        if (*c->cursor == '\\')
            return error_set("escape sequence in string at offset %ld", begin);
        if (length + 1 == MAX_STRING_BYTES)
            return error_set("string at offset %ld is too long", begin);
        out[length++] = *c->cursor;
    }
    c->cursor++;
    out[length] = '\0';
    return 0;
}

static int parse_bool(HeaderCursor *c, int *out)
{
    skip_space(c);
    const char *word = c->cursor;
    size_t length = 0;
    while (isalpha((unsigned char)word[length]))
        length++;
    if (length == 4 && strncmp(word, "True", 4) == 0)
        *out = 1;
    else if (length == 5 && strncmp(word, "False", 5) == 0)
        *out = 0;
    else
        return error_set("expected True or False at offset %ld", offset_of(c));
    c->cursor += length;
    return 0;
}

static int parse_dimension(HeaderCursor *c, int64_t *out)
{
    if (*c->cursor == '-')
        return error_set("negative dimension at offset %ld", offset_of(c));
    if (*c->cursor < '0' || *c->cursor > '9')
        return error_set("expected a dimension at offset %ld", offset_of(c));
    long begin = offset_of(c);
    int64_t value = 0;
    for (; *c->cursor >= '0' && *c->cursor <= '9'; c->cursor++) {
        int digit = *c->cursor - '0';
        if (value > (INT64_MAX - digit) / 10)
            return error_set("dimension at offset %ld is too large", begin);
        value = value * 10 + digit;
    }
    *out = value;
    return 0;
}

/* A tuple: "()", "(3,)", "(2, 3)" or "(2, 3,)"; "(3)" is an integer in
 * Python, not a tuple, and is rejected. */
static int parse_shape(HeaderCursor *c, int64_t *shape, int *ndim)
{
    int trailing_comma = 0;
    if (expect_char(c, '(') != 0)
        return -1;
    *ndim = 0;
    for (;;) {
        skip_space(c);
        if (*c->cursor == ')')
            break;
        if (*ndim == NPY_MAX_DIMS)
            return error_set("shape has more than %d dims", NPY_MAX_DIMS);
        if (parse_dimension(c, &shape[*ndim]) != 0)
            return -1;
        ++*ndim;
        skip_space(c);
        trailing_comma = *c->cursor == ',';
        if (trailing_comma)
            c->cursor++;
        else if (*c->cursor != ')')
            return error_set("expected ',' or ')' in shape at offset %ld", offset_of(c));
    }
    c->cursor++;
    if (*ndim == 1 && !trailing_comma)
        return error_set("shape (%" PRId64 ") lacks the comma of a one-element tuple", shape[0]);
    return 0;
}

typedef struct {
    int type_index;
    int ndim;
    int64_t shape[NPY_MAX_DIMS];
} HeaderFields;

enum { KEY_DESCR = 1, KEY_FORTRAN_ORDER = 2, KEY_SHAPE = 4, ALL_KEYS = 7 };

static int parse_value(HeaderCursor *c, const char *key, HeaderFields *fields, int *seen)
{
    int bit;
    if (strcmp(key, "descr") == 0) {
        char descr[MAX_STRING_BYTES];
        if (parse_string(c, descr) != 0)
            return -1;
        fields->type_index = find_descr(descr);
        if (fields->type_index < 0)
            return error_set("unsupported descr '%s' (expected '<f4', '<i4' or '<i8')", descr);
        bit = KEY_DESCR;
    } else if (strcmp(key, "fortran_order") == 0) {
        int fortran_order = 0;
        if (parse_bool(c, &fortran_order) != 0)
            return -1;
        if (fortran_order)
            return error_set("fortran_order True is not supported (C order only)");
        bit = KEY_FORTRAN_ORDER;
    } else if (strcmp(key, "shape") == 0) {
        if (parse_shape(c, fields->shape, &fields->ndim) != 0)
            return -1;
        bit = KEY_SHAPE;
    } else {
        return error_set("unexpected key '%s'", key);
    }
    if (*seen & bit)
        return error_set("key '%s' appears twice", key);
    *seen |= bit;
    return 0;
}

static int parse_header_dict(const char *text, HeaderFields *fields)
{
    HeaderCursor c = {text, text};
    int seen = 0;
    if (expect_char(&c, '{') != 0)
        return -1;
    for (;;) {
        skip_space(&c);
        if (*c.cursor == '}')
            break;
        char key[MAX_STRING_BYTES];
        if (parse_string(&c, key) != 0 || expect_char(&c, ':') != 0
            || parse_value(&c, key, fields, &seen) != 0)
            return -1;
        skip_space(&c);
        if (*c.cursor == ',')
            c.cursor++;
        else if (*c.cursor != '}')
            return error_set("expected ',' or '}' at offset %ld", offset_of(&c));
    }
    c.cursor++;
    skip_space(&c);
    if (*c.cursor != '\0')
        return error_set("unexpected text after the dict at offset %ld", offset_of(&c));
    if (!(seen & KEY_DESCR))
        return error_set("missing key 'descr'");
    if (!(seen & KEY_FORTRAN_ORDER))
        return error_set("missing key 'fortran_order'");
    if (!(seen & KEY_SHAPE))
        return error_set("missing key 'shape'");
    return 0;
}

/* ---- reading the file ---- */

static int read_exact(FILE *stream, void *buffer, size_t bytes, const char *path, const char *what)
{
    if (fread(buffer, 1, bytes, stream) == bytes)
        return 0;
    if (ferror(stream))
        return error_set("%s: cannot read %s: %s", path, what, strerror(errno));
    return error_set("%s: file ends inside the %s", path, what);
}

/* Reads magic, version and header length; leaves stream at the header. */
static int read_preamble(FILE *stream, const char *path, uint32_t *header_length,
                         size_t *preamble_length)
{
    unsigned char preamble[12];
    if (read_exact(stream, preamble, 10, path, "preamble") != 0)
        return -1;
    if (memcmp(preamble, NPY_MAGIC, NPY_MAGIC_BYTES) != 0)
        return error_set("%s: not an npy file (bad magic)", path);
    int major = preamble[6], minor = preamble[7];
    if (major == 1 && minor == 0) {
        *header_length = (uint32_t)preamble[8] | (uint32_t)preamble[9] << 8;
        *preamble_length = 10;
        return 0;
    }
    if (major == 2 && minor == 0) {
        /* Version 2.0 only widens the header length to 4 bytes. */
        if (read_exact(stream, preamble + 10, 2, path, "preamble") != 0)
            return -1;
        *header_length = (uint32_t)preamble[8] | (uint32_t)preamble[9] << 8
                         | (uint32_t)preamble[10] << 16 | (uint32_t)preamble[11] << 24;
        *preamble_length = 12;
        return 0;
    }
    return error_set("%s: unsupported npy format version %d.%d", path, major, minor);
}

static int read_header(FILE *stream, const char *path, uint64_t file_size, HeaderFields *fields,
                       uint64_t *data_offset)
{
    uint32_t header_length = 0;
    size_t preamble_length = 0;
    if (read_preamble(stream, path, &header_length, &preamble_length) != 0)
        return -1;
    if (header_length > file_size - preamble_length)
        return error_set("%s: header length %" PRIu32 " runs past the end of the file (%" PRIu64
                         " bytes)", path, header_length, file_size);
    char *text = xmalloc((size_t)header_length + 1);
    int result = read_exact(stream, text, header_length, path, "header");
    if (result == 0) {
        text[header_length] = '\0';
        if (memchr(text, '\0', header_length))
            result = error_set("%s: header: contains a NUL byte", path);
        else if (parse_header_dict(text, fields) != 0)
            result = error_prefix("%s: header", path);
    }
    free(text);
    *data_offset = preamble_length + header_length;
    return result;
}

static int read_array(FILE *stream, const char *path, uint64_t file_size, NpyArray *out)
{
    HeaderFields fields = {0};
    uint64_t data_offset = 0;
    if (read_header(stream, path, file_size, &fields, &data_offset) != 0)
        return -1;

    const char *descr = npy_types[fields.type_index].descr;
    char shape_text[256];
    format_shape(shape_text, sizeof shape_text, fields.shape, fields.ndim);
    int64_t numel;
    size_t bytes;
    if (shape_size(fields.shape, fields.ndim, npy_types[fields.type_index].element_bytes, &numel,
                   &bytes) != 0)
        return error_set("%s: shape %s is too large", path, shape_text);
    uint64_t data_bytes = file_size - data_offset;
    if (data_bytes != bytes)
        return error_set("%s: data is %" PRIu64 " bytes but shape %s of '%s' needs %zu%s", path,
                         data_bytes, shape_text, descr, bytes,
                         data_bytes < bytes ? " (truncated file)" : "");

    void *data = xmalloc(bytes);
    if (read_exact(stream, data, bytes, path, "data") != 0) {
        free(data);
        return -1;
    }
    out->type = npy_types[fields.type_index].type;
    out->ndim = fields.ndim;
    memcpy(out->shape, fields.shape, sizeof fields.shape);
    out->data = data;
    out->numel = numel;
    return 0;
}

int npy_read(const char *path, NpyArray *out)
{
    memset(out, 0, sizeof *out);
    FILE *stream = fopen(path, "rb");
    if (!stream)
        return error_set("%s: cannot open: %s", path, strerror(errno));
    struct stat status;
    int result;
    if (fstat(fileno(stream), &status) != 0)
        result = error_set("%s: cannot stat: %s", path, strerror(errno));
    else if (!S_ISREG(status.st_mode))
        result = error_set("%s: not a regular file", path);
    else
        result = read_array(stream, path, (uint64_t)status.st_size, out);
    fclose(stream);
    return result;
}

void npy_free(NpyArray *array)
{
    free(array->data);
    memset(array, 0, sizeof *array);
}
