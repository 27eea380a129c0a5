/* safetensors: write/read round trips, the on-disk layout, a corpus of
 * malformed files that must fail with a precise message, and atomic writes. */
#include <jansson.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "safetensors.h"
#include "tap.h"
#include "test_util.h"

static void store_le64(unsigned char *p, uint64_t value)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(value >> (8 * i));
}

static uint64_t load_le64(const unsigned char *p)
{
    uint64_t value = 0;
    for (int i = 7; i >= 0; i--)
        value = value << 8 | p[i];
    return value;
}

/* A file of length prefix, header_length bytes of header and data_bytes of
 * zeros; the prefix can claim a length other than header_length. */
static void write_raw_safetensors(const char *path, uint64_t claimed_length, const char *header,
                                  size_t header_length, size_t data_bytes)
{
    size_t size = 8 + header_length + data_bytes;
    unsigned char *bytes = xcalloc(size, 1);
    store_le64(bytes, claimed_length);
    memcpy(bytes + 8, header, header_length);
    write_bytes(path, bytes, size);
    free(bytes);
}

static int starts_with(const char *text, const char *prefix)
{
    return strncmp(text, prefix, strlen(prefix)) == 0;
}

/* safetensors_open must fail with a message that starts with the path and
 * contains expected; closing the failed file must be harmless. */
static void expect_open_failure(const char *path, const char *expected, const char *what)
{
    SafetensorsFile file;
    error_clear();
    int result = safetensors_open(&file, path);
    const char *message = error_message();
    int ok = result == -1 && file.map == NULL && file.count == 0 && starts_with(message, path)
             && strstr(message, expected) != NULL;
    if (!tap_ok(ok, "rejects %s", what))
        tap_diag("result %d, message: %s", result, message);
    safetensors_close(&file);
}

/* ---- round trip ---- */

static const float f32_values[6] = {1.0f, -2.5f, 3.25f, 1e-3f, 65504.0f, -0.0f};
static const float bf16_values[4] = {1.0f, -2.5f, 0.15625f, 0.1f};
/* 0.1 is not a BF16 value; it rounds to 0x3DCD. */
static const float bf16_expected[4] = {1.0f, -2.5f, 0.15625f, 0x1.9ap-4f};
static const float scalar_value[1] = {42.0f};
static float f16_values[12];
static float bf16_3d_values[6];

static const SafetensorsWriteTensor round_trip_tensors[] = {
    {"layers.0.weight", DTYPE_F32, 2, {2, 3}, f32_values},
    {"layers.0.bias", DTYPE_BF16, 1, {4}, bf16_values},
    {"experts.w", DTYPE_F16, 3, {2, 2, 3}, f16_values},
    {"scalar", DTYPE_F32, 0, {0}, scalar_value},
    {"empty", DTYPE_F16, 2, {0, 5}, NULL},
    {"bf16_3d", DTYPE_BF16, 3, {2, 1, 3}, bf16_3d_values},
};
#define ROUND_TRIP_COUNT (int)(sizeof round_trip_tensors / sizeof round_trip_tensors[0])

static int same_shape(const SafetensorsTensor *read, const SafetensorsWriteTensor *written)
{
    if (read->ndim != written->ndim || read->dtype != written->dtype)
        return 0;
    for (int i = 0; i < read->ndim; i++)
        if (read->shape[i] != written->shape[i])
            return 0;
    return 1;
}

static int values_equal(const SafetensorsTensor *tensor, const float *expected, size_t count)
{
    if (!tensor)
        return 0;
    float *values = xcalloc(count, sizeof *values);
    int equal = tensor->nbytes == count * dtype_size(tensor->dtype);
    if (equal) {
        dtype_to_f32(values, tensor->data, tensor->dtype, count);
        equal = memcmp(values, expected, count * sizeof *values) == 0;
    }
    free(values);
    return equal;
}

static void check_round_trip_values(const char *path)
{
    SafetensorsFile file;
    if (!tap_ok(safetensors_open(&file, path) == 0, "round trip file opens")) {
        tap_diag("%s", error_message());
        return;
    }
    tap_ok(file.count == ROUND_TRIP_COUNT, "all %d tensors are listed", ROUND_TRIP_COUNT);

    int shapes_ok = 1;
    for (int i = 0; i < ROUND_TRIP_COUNT; i++) {
        const SafetensorsTensor *tensor = safetensors_find(&file, round_trip_tensors[i].name);
        shapes_ok = shapes_ok && tensor && same_shape(tensor, &round_trip_tensors[i]);
    }
    tap_ok(shapes_ok, "every tensor is found with its dtype and shape");

    int sorted = 1;
    for (int i = 1; i < file.count; i++)
        sorted = sorted && strcmp(file.tensors[i - 1].name, file.tensors[i].name) < 0;
    tap_ok(sorted, "tensors are sorted by name");
    tap_ok(!safetensors_find(&file, "missing") && !safetensors_find(&file, "layers.0"),
           "absent names are not found");

    tap_ok(values_equal(safetensors_find(&file, "layers.0.weight"), f32_values, 6),
           "F32 values are exact");
    tap_ok(values_equal(safetensors_find(&file, "layers.0.bias"), bf16_expected, 4),
           "BF16 values are exact or rounded to nearest");
    tap_ok(values_equal(safetensors_find(&file, "experts.w"), f16_values, 12),
           "F16 values are exact");
    const SafetensorsTensor *scalar = safetensors_find(&file, "scalar");
    tap_ok(values_equal(scalar, scalar_value, 1) && scalar->ndim == 0,
           "0-dim scalar holds one element");
    const SafetensorsTensor *empty = safetensors_find(&file, "empty");
    tap_ok(empty && empty->nbytes == 0, "zero-size tensor holds no bytes");
    tap_ok(values_equal(safetensors_find(&file, "bf16_3d"), bf16_3d_values, 6),
           "3-dim BF16 values are exact");
    safetensors_close(&file);
}


/* Bytes from the end of the JSON text to the end of the header must all be
 * spaces, and the JSON must be compact (no space after ':' or ','). */
static int padded_compact(const unsigned char *header, size_t length)
{
    size_t json_end = length;
    while (json_end > 0 && header[json_end - 1] == ' ')
        json_end--;
    return json_end > 0 && header[json_end - 1] == '}' && length - json_end < 8
           && !memmem(header, json_end, "\": ", 3) && !memmem(header, json_end, ", ", 2);
}

static int metadata_is_format_pt(const json_t *metadata)
{
    json_t *expected = json_pack("{s:s}", "format", "pt");
    int equal = json_equal((json_t *)metadata, expected);
    json_decref(expected);
    return equal;
}

/* Checks the layout against the format: prefix, space-padded compact JSON
 * with keys in the written order, contiguous offsets covering the data. */
static void check_round_trip_layout(const char *path)
{
    size_t size;
    unsigned char *bytes = read_bytes(path, &size);
    uint64_t header_length = load_le64(bytes);
    if (!tap_ok(header_length % 8 == 0 && 8 + header_length <= size,
                "header length %llu is a multiple of 8 within the file",
                (unsigned long long)header_length)) {
        free(bytes);
        return;
    }
    tap_ok(padded_compact(bytes + 8, header_length), "header is compact JSON padded with spaces");

    json_t *root = json_loadb((const char *)bytes + 8, header_length, 0, NULL);
    const char *key;
    json_t *value;
    int order_ok = root != NULL, offsets_ok = root != NULL, index = -1;
    uint64_t expected_begin = 0;
    json_object_foreach(root, key, value) {
        if (index < 0) {
            order_ok = strcmp(key, "__metadata__") == 0 && metadata_is_format_pt(value);
        } else {
            order_ok = order_ok && index < ROUND_TRIP_COUNT
                       && strcmp(key, round_trip_tensors[index].name) == 0;
            json_t *offsets = json_object_get(value, "data_offsets");
            uint64_t begin = (uint64_t)json_integer_value(json_array_get(offsets, 0));
            uint64_t end = (uint64_t)json_integer_value(json_array_get(offsets, 1));
            offsets_ok = offsets_ok && begin == expected_begin && end >= begin;
            expected_begin = end;
        }
        index++;
    }
    tap_ok(order_ok && index == ROUND_TRIP_COUNT,
           "header holds __metadata__ {\"format\": \"pt\"}, then the tensors in written order");
    tap_ok(offsets_ok && expected_begin == size - 8 - header_length,
           "data offsets are contiguous from 0 and end at the end of the file");

    const unsigned char one_f32[4] = {0x00, 0x00, 0x80, 0x3F};
    tap_ok(memcmp(bytes + 8 + header_length, one_f32, 4) == 0,
           "data starts with the first tensor's first value, little-endian 1.0f");
    json_decref(root);
    free(bytes);
}

static void check_custom_metadata(void)
{
    static const char *const metadata[] = {"source", "unit test", "format", "pt", NULL};
    char path[PATH_MAX + 64];
    temp_path(path, sizeof path, "metadata.safetensors");
    int written = safetensors_write(path, round_trip_tensors, 1, metadata) == 0;

    SafetensorsFile file;
    int readable = written && safetensors_open(&file, path) == 0;
    if (readable)
        safetensors_close(&file);
    size_t size = 0;
    unsigned char *bytes = written ? read_bytes(path, &size) : NULL;
    json_t *root = bytes ? json_loadb((const char *)bytes + 8, load_le64(bytes), 0, NULL) : NULL;
    json_t *expected = json_pack("{s:s, s:s}", "source", "unit test", "format", "pt");
    tap_ok(readable && json_equal(json_object_get(root, "__metadata__"), expected),
           "given metadata is written as __metadata__ and the file reads back");
    json_decref(expected);
    json_decref(root);
    free(bytes);
    unlink(path);
}

static void check_round_trip(void)
{
    for (int i = 0; i < 12; i++)
        f16_values[i] = (float)i * 0.25f - 1.0f;
    for (int i = 0; i < 6; i++)
        bf16_3d_values[i] = (float)(i * i) - 4.0f;

    char path[PATH_MAX + 64];
    temp_path(path, sizeof path, "model.safetensors");
    if (!tap_ok(safetensors_write(path, round_trip_tensors, ROUND_TRIP_COUNT, NULL) == 0,
                "writes F32, BF16 and F16 tensors, a scalar and an empty tensor"))
        tap_diag("%s", error_message());
    check_round_trip_values(path);
    check_round_trip_layout(path);
    unlink(path);
    check_custom_metadata();

    SafetensorsFile file;
    temp_path(path, sizeof path, "nothing.safetensors");
    tap_ok(safetensors_write(path, NULL, 0, NULL) == 0 && safetensors_open(&file, path) == 0
               && file.count == 0 && !safetensors_find(&file, "x"),
           "a file without tensors round trips");
    safetensors_close(&file);
    unlink(path);
}

/* ---- malformed files ---- */

typedef struct {
    const char *name;
    const char *header;
    size_t data_bytes;
    const char *expected;
} MalformedHeader;

#define ENTRY(dtype, shape, offsets) \
    "{\"dtype\":\"" dtype "\",\"shape\":" shape ",\"data_offsets\":" offsets "}"

static const MalformedHeader malformed_headers[] = {
    {"data region shorter than the offsets", "{\"x\":" ENTRY("F32", "[6]", "[0,24]") "}", 16,
     "tensor 'x': data_offsets [0, 24) end past the data region (16 bytes)"},
    {"offsets far out of range", "{\"x\":" ENTRY("F32", "[1]", "[1000000,1000004]") "}", 16,
     "tensor 'x': data_offsets [1000000, 1000004) end past the data region (16 bytes)"},
    {"overlapping offsets",
     "{\"a\":" ENTRY("F32", "[4]", "[0,16]") ",\"b\":" ENTRY("F32", "[4]", "[8,24]") "}", 24,
     "tensors 'a' and 'b' overlap: data_offsets [0, 16) and [8, 24)"},
    {"overlap listed out of order",
     "{\"b\":" ENTRY("F32", "[2]", "[8,16]") ",\"a\":" ENTRY("F32", "[4]", "[0,16]") "}", 16,
     "tensors 'a' and 'b' overlap"},
    {"begin after end", "{\"x\":" ENTRY("F32", "[2]", "[16,8]") "}", 16,
     "tensor 'x': data_offsets [16, 8) begin after end"},
    {"nbytes disagreeing with the shape", "{\"x\":" ENTRY("F32", "[3]", "[0,16]") "}", 16,
     "tensor 'x': shape [3] of F32 needs 12 bytes but data_offsets [0, 16) span 16"},
    {"BF16 nbytes disagreeing with the shape", "{\"x\":" ENTRY("BF16", "[2,3]", "[0,24]") "}", 24,
     "shape [2, 3] of BF16 needs 12 bytes"},
    {"dtype I64", "{\"x\":" ENTRY("I64", "[2]", "[0,16]") "}", 16,
     "tensor 'x': unsupported dtype 'I64'"},
    {"dtype F8_E4M3", "{\"x\":" ENTRY("F8_E4M3", "[2]", "[0,2]") "}", 2,
     "tensor 'x': unsupported dtype 'F8_E4M3'"},
    {"dtype that is not a string", "{\"x\":{\"dtype\":4,\"shape\":[],\"data_offsets\":[0,4]}}", 4,
     "tensor 'x': \"dtype\" is missing or not a string"},
    {"missing dtype", "{\"x\":{\"shape\":[],\"data_offsets\":[0,4]}}", 4,
     "tensor 'x': \"dtype\" is missing"},
    {"invalid JSON", "{\"x\": {\"dtype\": ", 0, "invalid JSON header"},
    {"trailing garbage after the JSON", "{} x", 0, "invalid JSON header"},
    {"an integer too big for JSON parsing",
     "{\"x\":" ENTRY("F32", "[1]", "[0,99999999999999999999]") "}", 4, "invalid JSON header"},
    {"duplicate tensor names",
     "{\"x\":" ENTRY("F32", "[1]", "[0,4]") ",\"x\":" ENTRY("F32", "[1]", "[4,8]") "}", 8,
     "invalid JSON header: duplicate object key"},
    {"a header that is an array", "[1, 2]", 0, "header is not a JSON object"},
    {"a header that is a string", "\"x\"", 0, "header is not a JSON object"},
    {"an entry that is not an object", "{\"x\":[1]}", 0, "tensor 'x': entry is not an object"},
    {"a negative dim", "{\"x\":" ENTRY("F32", "[2,-1]", "[0,8]") "}", 8,
     "tensor 'x': shape[1] is negative (-1)"},
    {"a fractional dim", "{\"x\":" ENTRY("F32", "[2.0]", "[0,8]") "}", 8,
     "tensor 'x': shape[0] is not an integer"},
    {"a shape that is not an array", "{\"x\":" ENTRY("F32", "2", "[0,8]") "}", 8,
     "tensor 'x': \"shape\" is missing or not an array"},
    {"nine dims", "{\"x\":" ENTRY("F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]") "}", 4,
     "tensor 'x': shape has 9 dims, more than 8"},
    {"a shape whose size overflows",
     "{\"x\":" ENTRY("F32", "[4294967296,4294967296,16]", "[0,4]") "}", 4,
     "tensor 'x': shape [4294967296, 4294967296, 16] of F32 overflows"},
    {"missing data_offsets", "{\"x\":{\"dtype\":\"F32\",\"shape\":[]}}", 4,
     "tensor 'x': \"data_offsets\" is missing or not a pair"},
    {"three data_offsets", "{\"x\":" ENTRY("F32", "[1]", "[0,4,8]") "}", 8,
     "tensor 'x': \"data_offsets\" is missing or not a pair"},
    {"a negative offset", "{\"x\":" ENTRY("F32", "[1]", "[-4,0]") "}", 8,
     "tensor 'x': \"data_offsets\" [-4, 0) holds a negative offset"},
    {"a fractional offset", "{\"x\":" ENTRY("F32", "[1]", "[0,4.0]") "}", 8,
     "tensor 'x': \"data_offsets\" holds a value that is not an integer"},
    {"__metadata__ that is not an object", "{\"__metadata__\":[\"pt\"]}", 0,
     "\"__metadata__\" is not an object"},
    {"__metadata__ with a number", "{\"__metadata__\":{\"format\":\"pt\",\"n\":1}}", 0,
     "\"__metadata__\" value for 'n' is not a string"},
    {"an error in a later tensor",
     "{\"a\":" ENTRY("F32", "[1]", "[0,4]") ",\"b\":" ENTRY("F32", "[1]", "[4,9]") "}", 9,
     "tensor 'b': shape [1] of F32 needs 4 bytes"},
};

static void check_malformed_headers(void)
{
    char path[PATH_MAX + 64];
    int count = (int)(sizeof malformed_headers / sizeof malformed_headers[0]);
    for (int i = 0; i < count; i++) {
        const MalformedHeader *test = &malformed_headers[i];
        char name[64];
        snprintf(name, sizeof name, "malformed-%02d.safetensors", i);
        temp_path(path, sizeof path, name);
        size_t length = strlen(test->header);
        write_raw_safetensors(path, length, test->header, length, test->data_bytes);
        expect_open_failure(path, test->expected, test->name);
        unlink(path);
    }
}

static void check_malformed_framing(void)
{
    char path[PATH_MAX + 64];
    temp_path(path, sizeof path, "framing.safetensors");

    write_bytes(path, "", 0);
    expect_open_failure(path, "file is 0 bytes, shorter than the 8-byte header length",
                        "an empty file");
    write_bytes(path, "\x02\x00\x00\x00\x00", 5);
    expect_open_failure(path, "file is 5 bytes, shorter than the 8-byte header length",
                        "a file shorter than the length prefix");

    write_raw_safetensors(path, 200000000, "{}", 2, 0);
    expect_open_failure(path, "header length 200000000 exceeds the limit of 100000000 bytes",
                        "an oversized header length");
    write_raw_safetensors(path, UINT64_MAX, "{}", 2, 0);
    expect_open_failure(path, "header length 18446744073709551615 exceeds the limit",
                        "a header length of 2^64-1");
    write_raw_safetensors(path, 1000, "{}", 2, 10);
    expect_open_failure(path, "header length 1000 runs past the end of the file (20 bytes)",
                        "a header length past the end of the file");
    write_raw_safetensors(path, 12, "{\"x\":{}", 7, 0);
    expect_open_failure(path, "header length 12 runs past the end of the file (15 bytes)",
                        "a truncated header");
    write_raw_safetensors(path, 0, "", 0, 0);
    expect_open_failure(path, "invalid JSON header", "an empty header");
    write_raw_safetensors(path, 8, "{\"a\0\":1}", 8, 0);
    expect_open_failure(path, "invalid JSON header", "a NUL byte inside the header");
    unlink(path);

    temp_path(path, sizeof path, "does-not-exist.safetensors");
    expect_open_failure(path, "cannot open: No such file or directory", "a missing file");
    expect_open_failure(temp_dir, "not a regular file", "a directory");
}

/* ---- atomic writes ---- */

static void check_atomic_writes(void)
{
    char path[PATH_MAX + 64];
    SafetensorsFile file;
    float first[1] = {1.0f}, second[1] = {2.0f};
    SafetensorsWriteTensor tensor = {"x", DTYPE_F32, 1, {1}, first};

    temp_path(path, sizeof path, "atomic.safetensors");
    int written = safetensors_write(path, &tensor, 1, NULL) == 0;
    tap_ok(written && count_temp_entries(NULL) == 1 && count_temp_entries(".tmp.") == 0,
           "a successful write leaves just the file, no temporary");
    tensor.data = second;
    /* The test runs one thread, so it may set the umask that the new file
     * must honour; 027 gives a mode unlike both the old file's and 0600. */
    mode_t old_mask = umask(027);
    written = safetensors_write(path, &tensor, 1, NULL) == 0;
    umask(old_mask);
    int opened = written && safetensors_open(&file, path) == 0;
    int replaced = opened && values_equal(safetensors_find(&file, "x"), second, 1);
    if (opened)
        safetensors_close(&file);
    tap_ok(replaced && count_temp_entries(NULL) == 1 && count_temp_entries(".tmp.") == 0,
           "rewriting replaces the file and leaves no temporary");
    struct stat status;
    tap_ok(stat(path, &status) == 0 && (status.st_mode & 0777) == 0640,
           "the file gets 0666 less the umask, not a private temporary file's 0600");
    unlink(path);

    temp_path(path, sizeof path, "missing-dir/model.safetensors");
    error_clear();
    int result = safetensors_write(path, &tensor, 1, NULL);
    if (!tap_ok(result == -1 && starts_with(error_message(), path)
                    && strstr(error_message(), "No such file or directory"),
                "writing into a missing directory fails naming the path"))
        tap_diag("message: %s", error_message());
    tap_ok(count_temp_entries(NULL) == 0, "the failed write leaves nothing behind");

    SafetensorsWriteTensor twice[2] = {tensor, tensor};
    SafetensorsWriteTensor negative = {"bad", DTYPE_F16, 2, {2, -3}, first};
    SafetensorsWriteTensor reserved = {"__metadata__", DTYPE_F32, 1, {1}, first};
    temp_path(path, sizeof path, "invalid.safetensors");
    result = safetensors_write(path, twice, 2, NULL);
    tap_ok(result == -1 && starts_with(error_message(), path)
               && strstr(error_message(), "tensor 'x' given twice"),
           "a duplicate tensor name is refused");
    result = safetensors_write(path, &negative, 1, NULL);
    tap_ok(result == -1 && strstr(error_message(), "tensor 'bad': shape[1] is negative (-3)"),
           "a negative dim is refused");
    result = safetensors_write(path, &reserved, 1, NULL);
    tap_ok(result == -1 && strstr(error_message(), "'__metadata__' is reserved"),
           "the name __metadata__ is refused");
    tap_ok(count_temp_entries(NULL) == 0, "refused writes leave nothing behind");
}

int main(void)
{
    make_temp_dir();
    check_round_trip();
    check_malformed_headers();
    check_malformed_framing();
    check_atomic_writes();
    remove_temp_dir();
    return tap_done();
}
