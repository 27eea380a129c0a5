/* Whether what a command is about to allocate fits the memory this process
 * may still use, asked before loading starts so that a model too large ends
 * in a message saying how much is needed and how much is available, never
 * in an out-of-memory kill partway.
 *
 * Available is the smallest of three headrooms, each of which is skipped
 * when it is unlimited or cannot be read:
 *   MemAvailable of /proc/meminfo (memory the kernel can give without swapping);
 *   RLIMIT_AS minus VmSize of /proc/self/status (address space, `ulimit -v`);
 *   RLIMIT_DATA minus VmData (private writable memory, `ulimit -d`).
 * A read-only file mapping (a checkpoint being read) takes address space but
 * no memory of its own (its pages are page cache, dropped under pressure),
 * so it counts only against RLIMIT_AS. */
#ifndef UOE_MEMORY_BUDGET_H
#define UOE_MEMORY_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MEMORY_NEED_MAX_ITEMS 6

typedef struct {
    const char *what;    /* "parameters", named in the message; a string literal */
    uint64_t bytes;
    bool address_only;   /* a read-only file mapping: RLIMIT_AS only */
} MemoryItem;

/* The parts of one need, each named in the message. */
typedef struct {
    MemoryItem items[MEMORY_NEED_MAX_ITEMS];
    int count;
} MemoryNeed;

/* Appends one part; zero-byte parts are left out. */
void memory_need_add(MemoryNeed *need, const char *what, uint64_t bytes, bool address_only);
/* Appends every part of more. */
void memory_need_append(MemoryNeed *need, const MemoryNeed *more);

/* Returns 0 when need fits, else -1 with an error such as
 *   "DIR: loading needs 1.2 GiB (parameters 1.0 GiB + checkpoint files mapped
 *    256 MiB) but only 210 MiB is available (RLIMIT_AS 400 MiB, 190 MiB in use)"
 * where subject is what the message is about and action what needs it. */
int memory_budget_check(const char *subject, const char *action, const MemoryNeed *need);

/* "1.5 GiB", "210 MiB", "12 KiB", "100 bytes": the one spelling of a size in
 * messages. */
void memory_format_bytes(char *buffer, size_t size, uint64_t bytes);

#endif
