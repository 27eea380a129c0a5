#include "json_util.h"

#include <float.h>
#include <limits.h>
#include <math.h>

#include "atomic_file.h"
#include "error.h"

json_t *json_load_object(const char *path)
{
    json_error_t err;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        error_set("%s: line %d, column %d: invalid JSON: %s", path, err.line, err.column, err.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        error_set("%s: expected a JSON object at the top level", path);
        return NULL;
    }
    return root;
}

json_t *json_member_any(const json_t *object, const char *const *keys)
{
    for (; *keys; keys++) {
        json_t *value = json_object_get(object, *keys);
        if (value && !json_is_null(value))
            return value;
    }
    return NULL;
}

static int missing(const char *path, const char *const *keys, bool required)
{
    return required ? error_set("%s: missing required key \"%s\"", path, keys[0]) : 0;
}

int json_read_int(const json_t *object, const char *path, const char *const *keys,
                  bool required, int *out)
{
    json_t *value = json_member_any(object, keys);
    if (!value)
        return missing(path, keys, required);
    if (!json_is_integer(value))
        return error_set("%s: key \"%s\": expected an integer", path, keys[0]);
    json_int_t v = json_integer_value(value);
    if (v < INT_MIN || v > INT_MAX)
        return error_set("%s: key \"%s\": %lld is out of range", path, keys[0], (long long)v);
    *out = (int)v;
    return 0;
}

int json_read_float(const json_t *object, const char *path, const char *const *keys,
                    bool required, float *out)
{
    json_t *value = json_member_any(object, keys);
    if (!value)
        return missing(path, keys, required);
    if (!json_is_number(value))
        return error_set("%s: key \"%s\": expected a number", path, keys[0]);
    double number = json_number_value(value);
    if (fabs(number) > FLT_MAX)  /* 1e39 parses, as a double, but is no float */
        return error_set("%s: key \"%s\": %g is out of range for a float", path, keys[0],
                         number);
    *out = (float)number;
    return 0;
}

int json_read_bool(const json_t *object, const char *path, const char *const *keys,
                   bool required, bool *out)
{
    json_t *value = json_member_any(object, keys);
    if (!value)
        return missing(path, keys, required);
    if (!json_is_boolean(value))
        return error_set("%s: key \"%s\": expected true or false", path, keys[0]);
    *out = json_is_true(value);
    return 0;
}

int json_write_file(const json_t *document, const char *path)
{
    AtomicFile file;
    if (atomic_file_open(&file, path) < 0)
        return -1;
    if (json_dumpf(document, file.stream, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0 ||
        fputc('\n', file.stream) == EOF) {
        atomic_file_abort(&file);
        return error_set("%s: cannot write", path);
    }
    return atomic_file_commit(&file);
}
