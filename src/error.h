/* Error reporting for uoe-wb.
 *
 * Library code never exits on bad input: it records one message with
 * error_set() and returns a failure code, so that the caller (the CLI, a
 * test, later the Lua layer) decides what to do. Messages name the file, the
 * tensor or line, and the problem, e.g.
 *   "model.safetensors: tensor 'lm_head.weight': data offsets [0, 96) end past the file (80 bytes)".
 *
 * Allocation failure and broken internal invariants are not input errors;
 * the x*() wrappers and CHECK() report file and line and abort. */
#ifndef UOE_ERROR_H
#define UOE_ERROR_H

#include <stddef.h>

/* Records the message of the most recent failure (thread-local). Returns -1
 * so that callers can write `return error_set(...)`. */
int error_set(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prepends "prefix: " to the recorded message (adds context on the way up). */
int error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *error_message(void);
void error_clear(void);

void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);

void fatal_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));
#define FATAL(...) fatal_at(__FILE__, __LINE__, __VA_ARGS__)
#define CHECK(cond) do { if (!(cond)) fatal_at(__FILE__, __LINE__, "internal check failed: %s", #cond); } while (0)

#endif
