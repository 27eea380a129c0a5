/* .npy files: round trips, files written by NumPy itself (their bytes are
 * committed here), and malformed inputs that must fail with a message naming
 * the path. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "npy.h"
#include "tap.h"
#include "test_util.h"

static size_t element_bytes(NpyType type)
{
    return type == NPY_INT64 ? 8 : 4;
}

static int same_shape(const NpyArray *array, int ndim, const int64_t *shape)
{
    if (array->ndim != ndim)
        return 0;
    for (int i = 0; i < ndim; i++)
        if (array->shape[i] != shape[i])
            return 0;
    return 1;
}

/* ---- round trips ---- */

static void check_round_trip(const char *name, NpyType type, int ndim, const int64_t *shape,
                             const void *data, size_t bytes)
{
    char path[PATH_MAX + 64];
    NpyArray array;
    temp_path(path, sizeof path, name);
    int written = npy_write(path, type, ndim, shape, data) == 0;
    int read = written && npy_read(path, &array) == 0;
    if (!tap_ok(read && array.type == type && same_shape(&array, ndim, shape)
                    && (size_t)array.numel * element_bytes(type) == bytes
                    && (bytes == 0 || memcmp(array.data, data, bytes) == 0),
                "%s round trips", name))
        tap_diag("%s", error_message());
    if (read)
        npy_free(&array);

    size_t size = 0;
    unsigned char *file = written ? read_bytes(path, &size) : NULL;
    size_t header_end = size - bytes;
    tap_ok(file && memcmp(file, "\x93NUMPY\x01\x00", 8) == 0
               && (size_t)(file[8] | file[9] << 8) + 10 == header_end && header_end % 64 == 0
               && file[header_end - 1] == '\n',
           "%s: version 1.0 header ends in a newline, data starts at a multiple of 64", name);
    free(file);
    unlink(path);
}

static void check_round_trips(void)
{
    const float vector[3] = {1.5f, -2.0f, 1e-7f};
    const int64_t vector_shape[1] = {3};
    check_round_trip("f32-vector.npy", NPY_FLOAT32, 1, vector_shape, vector, sizeof vector);

    int32_t cube[24];
    for (int i = 0; i < 24; i++)
        cube[i] = (i - 12) * 1000003;
    const int64_t cube_shape[3] = {2, 3, 4};
    check_round_trip("i32-cube.npy", NPY_INT32, 3, cube_shape, cube, sizeof cube);

    const float scalar[1] = {3.25f};
    check_round_trip("f32-scalar.npy", NPY_FLOAT32, 0, NULL, scalar, sizeof scalar);
    const int32_t int_scalar[1] = {-7};
    check_round_trip("i32-scalar.npy", NPY_INT32, 0, NULL, int_scalar, sizeof int_scalar);

    const int64_t longs[2] = {INT64_MIN, INT64_MAX};
    const int64_t longs_shape[1] = {2};
    check_round_trip("i64-pair.npy", NPY_INT64, 1, longs_shape, longs, sizeof longs);

    const int64_t empty_shape[3] = {2, 0, 3};
    check_round_trip("f32-empty.npy", NPY_FLOAT32, 3, empty_shape, NULL, 0);

    static float deep[256];
    const int64_t deep_shape[8] = {2, 2, 2, 2, 2, 2, 2, 2};
    for (int i = 0; i < 256; i++)
        deep[i] = (float)i / 3.0f;
    check_round_trip("f32-8d.npy", NPY_FLOAT32, 8, deep_shape, deep, sizeof deep);
}

static void check_write_errors(void)
{
    char path[PATH_MAX + 64];
    const float value[1] = {0};
    const int64_t negative[2] = {2, -1};
    const int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};

    temp_path(path, sizeof path, "bad.npy");
    tap_ok(npy_write(path, NPY_FLOAT32, 2, negative, value) == -1
               && strstr(error_message(), path) && strstr(error_message(), "shape[1] is negative"),
           "npy_write refuses a negative dim");
    tap_ok(npy_write(path, NPY_FLOAT32, 9, nine, value) == -1
               && strstr(error_message(), "9 dims, expected 0 to 8"),
           "npy_write refuses nine dims");
    temp_path(path, sizeof path, "missing-dir/x.npy");
    tap_ok(npy_write(path, NPY_FLOAT32, 0, NULL, value) == -1
               && strncmp(error_message(), path, strlen(path)) == 0,
           "npy_write into a missing directory fails naming the path");

    tap_ok(count_temp_entries(NULL) == 0, "failed and finished writes leave no temporary files");
}

/* ---- files written by NumPy ---- */

/* np.save() output of NumPy 2.4, byte for byte, so that reading real NumPy
 * files is tested without needing NumPy. The headers carry spare spaces so
 * that NumPy can grow them in place. */

/* np.arange(6, dtype='<f4').reshape(2, 3) - 1.5 */
static const char numpy_f4_2x3[] =
    "\x93NUMPY\x01\x00\x76\x00"
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
    "                                                          \n"
    "\x00\x00\xc0\xbf\x00\x00\x00\xbf\x00\x00\x00\x3f"
    "\x00\x00\xc0\x3f\x00\x00\x20\x40\x00\x00\x60\x40";

/* np.arange(-2, 3, dtype='<i4'): a one-element tuple as the shape */
static const char numpy_i4_5[] =
    "\x93NUMPY\x01\x00\x76\x00"
    "{'descr': '<i4', 'fortran_order': False, 'shape': (5,), }"
    "                                                            \n"
    "\xfe\xff\xff\xff\xff\xff\xff\xff\x00\x00\x00\x00"
    "\x01\x00\x00\x00\x02\x00\x00\x00";

/* np.array(-2**40, dtype='<i8'): a 0-dim array, shape () */
static const char numpy_i8_scalar[] =
    "\x93NUMPY\x01\x00\x76\x00"
    "{'descr': '<i8', 'fortran_order': False, 'shape': (), }"
    "                                                              \n"
    "\x00\x00\x00\x00\x00\xff\xff\xff";

static const float numpy_f4_values[6] = {-1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 3.5f};
static const int32_t numpy_i4_values[5] = {-2, -1, 0, 1, 2};
static const int64_t numpy_i8_values[1] = {-((int64_t)1 << 40)};

typedef struct {
    const char *what;
    const char *bytes;
    size_t size;
    NpyType type;
    int ndim;
    int64_t shape[2];
    const void *values;
    int64_t numel;
} NumpyFile;

static const NumpyFile numpy_files[] = {
    {"a (2, 3) float32 array", numpy_f4_2x3, sizeof numpy_f4_2x3 - 1, NPY_FLOAT32, 2, {2, 3},
     numpy_f4_values, 6},
    {"a (5,) int32 array", numpy_i4_5, sizeof numpy_i4_5 - 1, NPY_INT32, 1, {5},
     numpy_i4_values, 5},
    {"a 0-dim int64 array", numpy_i8_scalar, sizeof numpy_i8_scalar - 1, NPY_INT64, 0, {0},
     numpy_i8_values, 1},
};

static void check_numpy_bytes(void)
{
    char path[PATH_MAX + 64];
    NpyArray array;
    temp_path(path, sizeof path, "numpy-bytes.npy");
    for (size_t i = 0; i < sizeof numpy_files / sizeof numpy_files[0]; i++) {
        const NumpyFile *file = &numpy_files[i];
        write_bytes(path, file->bytes, file->size);
        int read = npy_read(path, &array) == 0;
        if (!tap_ok(read && array.type == file->type
                        && same_shape(&array, file->ndim, file->shape) && array.numel == file->numel
                        && memcmp(array.data, file->values,
                                  (size_t)file->numel * element_bytes(file->type)) == 0,
                    "reads the bytes NumPy wrote for %s", file->what))
            tap_diag("%s", error_message());
        if (read)
            npy_free(&array);
    }
    unlink(path);
}

/* ---- malformed files ---- */

/* Writes magic, version major.0, the dict padded as NumPy pads it, and
 * data_bytes zero bytes. */
static void write_raw_npy(const char *path, int major, const char *dict, size_t data_bytes)
{
    size_t preamble = major == 1 ? 10 : 12;
    size_t dict_length = strlen(dict);
    size_t total = (preamble + dict_length + 1 + 63) / 64 * 64;
    size_t header_length = total - preamble;
    unsigned char *bytes = xcalloc(total + data_bytes, 1);
    memcpy(bytes, "\x93NUMPY", 6);
    bytes[6] = (unsigned char)major;
    for (size_t i = 0; i < preamble - 8; i++)
        bytes[8 + i] = (unsigned char)(header_length >> (8 * i));
    memcpy(bytes + preamble, dict, dict_length);
    memset(bytes + preamble + dict_length, ' ', header_length - dict_length - 1);
    bytes[total - 1] = '\n';
    write_bytes(path, bytes, total + data_bytes);
    free(bytes);
}

typedef struct {
    const char *what;
    int major;
    const char *dict;
    size_t data_bytes;
    const char *expected;
} MalformedNpy;

#define DICT(descr, fortran, shape) \
    "{'descr': '" descr "', 'fortran_order': " fortran ", 'shape': " shape ", }"

static const MalformedNpy malformed[] = {
    {"fortran_order True", 1, DICT("<f4", "True", "(2, 3)"), 24,
     "header: fortran_order True is not supported"},
    {"descr '>f4'", 1, DICT(">f4", "False", "(3,)"), 12, "header: unsupported descr '>f4'"},
    {"descr '<f8'", 1, DICT("<f8", "False", "(3,)"), 24, "header: unsupported descr '<f8'"},
    {"descr '|b1'", 1, DICT("|b1", "False", "(3,)"), 3, "header: unsupported descr '|b1'"},
    {"truncated data", 1, DICT("<f4", "False", "(2, 3)"), 20,
     "data is 20 bytes but shape (2, 3) of '<f4' needs 24 (truncated file)"},
    {"extra data", 1, DICT("<i4", "False", "(2,)"), 12,
     "data is 12 bytes but shape (2,) of '<i4' needs 8"},
    {"a negative dim", 1, DICT("<f4", "False", "(2, -3)"), 0, "header: negative dimension"},
    {"a one-element shape without comma", 1, DICT("<f4", "False", "(3)"), 12,
     "header: shape (3) lacks the comma of a one-element tuple"},
    {"nine dims", 1, DICT("<f4", "False", "(1, 1, 1, 1, 1, 1, 1, 1, 1)"), 4,
     "header: shape has more than 8 dims"},
    {"a dim too large", 1, DICT("<f4", "False", "(99999999999999999999,)"), 0,
     "header: dimension at offset 51 is too large"},
    {"a shape whose size overflows", 1, DICT("<f4", "False", "(4294967296, 4294967296)"), 0,
     "shape (4294967296, 4294967296) is too large"},
    {"a shape that is a list", 1, DICT("<f4", "False", "[3]"), 12,
     "header: expected '(' at offset 50"},
    {"a missing shape", 1, "{'descr': '<f4', 'fortran_order': False, }", 4,
     "header: missing key 'shape'"},
    {"an unknown key", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), 'x': 1, }", 4,
     "header: unexpected key 'x'"},
    {"a key given twice", 1,
     "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}", 4,
     "header: key 'descr' appears twice"},
    {"fortran_order spelled false", 1, DICT("<f4", "false", "()"), 4,
     "header: expected True or False at offset 34"},
    {"an unterminated string", 1, "{'descr': '<f4", 4, "header: unterminated string at offset 10"},
    {"text after the dict", 1, DICT("<f4", "False", "()") " x", 4,
     "header: unexpected text after the dict"},
    {"a header that is not a dict", 1, "('<f4', False, ())", 4, "header: expected '{' at offset 0"},
    {"a missing comma between items", 1, "{'descr': '<f4' 'fortran_order': False, 'shape': ()}", 4,
     "header: expected ',' or '}' at offset 16"},
    {"a version 2.0 file with a bad descr", 2, DICT("<u2", "False", "()"), 2,
     "header: unsupported descr '<u2'"},
};

static void check_malformed(void)
{
    char path[PATH_MAX + 64];
    NpyArray array;
    int count = (int)(sizeof malformed / sizeof malformed[0]);
    for (int i = 0; i < count; i++) {
        char name[32];
        snprintf(name, sizeof name, "malformed-%02d.npy", i);
        temp_path(path, sizeof path, name);
        write_raw_npy(path, malformed[i].major, malformed[i].dict, malformed[i].data_bytes);
        int result = npy_read(path, &array);
        if (!tap_ok(result == -1 && array.data == NULL
                        && strncmp(error_message(), path, strlen(path)) == 0
                        && strstr(error_message(), malformed[i].expected),
                    "rejects %s", malformed[i].what))
            tap_diag("result %d, message: %s", result, error_message());
        unlink(path);
    }
}

static void expect_raw_failure(const char *name, const void *bytes, size_t size,
                               const char *expected, const char *what)
{
    char path[PATH_MAX + 64];
    NpyArray array;
    temp_path(path, sizeof path, name);
    write_bytes(path, bytes, size);
    int result = npy_read(path, &array);
    if (!tap_ok(result == -1 && strncmp(error_message(), path, strlen(path)) == 0
                    && strstr(error_message(), expected),
                "rejects %s", what))
        tap_diag("result %d, message: %s", result, error_message());
    unlink(path);
}

static void check_malformed_framing(void)
{
    char path[PATH_MAX + 64];
    char valid[sizeof numpy_f4_2x3];
    memcpy(valid, numpy_f4_2x3, sizeof valid);

    expect_raw_failure("empty.npy", "", 0, "file ends inside the preamble", "an empty file");
    expect_raw_failure("short.npy", "\x93NUMPY\x01", 7, "file ends inside the preamble",
                       "a truncated preamble");
    static const char zip_start[] = "PK\x03\x04 not an npy file";
    expect_raw_failure("magic.npy", zip_start, sizeof zip_start - 1, "not an npy file (bad magic)",
                       "a bad magic string");
    valid[6] = 3;
    expect_raw_failure("version.npy", valid, sizeof valid - 1,
                       "unsupported npy format version 3.0", "version 3.0");
    valid[6] = 1;
    valid[8] = (char)0xFF;
    expect_raw_failure("length.npy", valid, sizeof valid - 1,
                       "header length 255 runs past the end of the file (152 bytes)",
                       "a header length past the end of the file");
    valid[8] = 0x76;
    valid[20] = '\0';
    expect_raw_failure("nul.npy", valid, sizeof valid - 1, "header: contains a NUL byte",
                       "a NUL byte inside the header");
    expect_raw_failure("cut.npy", numpy_f4_2x3, 60,
                       "header length 118 runs past the end of the file (60 bytes)",
                       "a file cut inside the header");

    NpyArray array;
    temp_path(path, sizeof path, "does-not-exist.npy");
    tap_ok(npy_read(path, &array) == -1 && strstr(error_message(), path)
               && strstr(error_message(), "No such file or directory"),
           "rejects a missing file");
    tap_ok(npy_read(temp_dir, &array) == -1 && strstr(error_message(), "not a regular file"),
           "rejects a directory");
}

int main(void)
{
    make_temp_dir();
    check_round_trips();
    check_write_errors();
    check_numpy_bytes();
    check_malformed();
    check_malformed_framing();
    remove_temp_dir();
    return tap_done();
}
