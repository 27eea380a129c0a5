/* Typed reads of JSON object members (jansson), with errors that name the
 * file and the key, and whole-file writes. */
#ifndef UOE_JSON_UTIL_H
#define UOE_JSON_UTIL_H

#include <stdbool.h>
#include <jansson.h>

/* Loads a file that must hold one JSON object; errors give file, line, column. */
json_t *json_load_object(const char *path);

/* The first of the NULL-terminated keys present with a non-null value, or NULL. */
json_t *json_member_any(const json_t *object, const char *const *keys);

/* Each reads the first present key of `keys`; when none is present, `required`
 * decides between an error and leaving *out at its default. Wrong types and
 * out-of-range integers are errors naming path and key. */
int json_read_int(const json_t *object, const char *path, const char *const *keys,
                  bool required, int *out);
int json_read_float(const json_t *object, const char *path, const char *const *keys,
                    bool required, float *out);
int json_read_bool(const json_t *object, const char *path, const char *const *keys,
                   bool required, bool *out);

/* Writes document to path atomically, indented by 2, with a final newline. */
int json_write_file(const json_t *document, const char *path);

#endif
