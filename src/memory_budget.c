#include "memory_budget.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "error.h"

void memory_need_add(MemoryNeed *need, const char *what, uint64_t bytes, bool address_only)
{
    if (bytes == 0)
        return;
    CHECK(need->count < MEMORY_NEED_MAX_ITEMS);
    need->items[need->count++] = (MemoryItem){what, bytes, address_only};
}

void memory_need_append(MemoryNeed *need, const MemoryNeed *more)
{
    for (int i = 0; more && i < more->count; i++)
        memory_need_add(need, more->items[i].what, more->items[i].bytes,
                        more->items[i].address_only);
}

void memory_format_bytes(char *buffer, size_t size, uint64_t bytes)
{
    const double kib = 1024.0, mib = kib * 1024.0, gib = mib * 1024.0;
    if (bytes >= (uint64_t)gib)
        snprintf(buffer, size, "%.2f GiB", (double)bytes / gib);
    else if (bytes >= (uint64_t)mib)
        snprintf(buffer, size, "%.1f MiB", (double)bytes / mib);
    else if (bytes >= (uint64_t)kib)
        snprintf(buffer, size, "%.1f KiB", (double)bytes / kib);
    else
        snprintf(buffer, size, "%" PRIu64 " bytes", bytes);
}

/* The value in kB of the line "key: N kB" of a /proc file, in bytes; false
 * when the file or the line is not there (not Linux, no /proc). */
static bool read_proc_kb(const char *path, const char *key, uint64_t *bytes)
{
    FILE *stream = fopen(path, "r");
    if (!stream)
        return false;
    char line[256];
    size_t key_length = strlen(key);
    bool found = false;
    unsigned long long kb;
    while (!found && fgets(line, sizeof line, stream))
        found = strncmp(line, key, key_length) == 0 && line[key_length] == ':'
                && sscanf(line + key_length + 1, "%llu", &kb) == 1;
    fclose(stream);
    if (found)
        *bytes = (uint64_t)kb * 1024;
    return found;
}

/* One bound on what may still be allocated. */
typedef struct {
    uint64_t bytes;
    bool counts_mappings;  /* read-only file mappings count against it */
    char source[96];       /* "(RLIMIT_AS 400 MiB, 190 MiB in use)" */
} Headroom;

/* A resource limit less what the process uses of it; false when unlimited. */
static bool limit_headroom(int resource, const char *name, const char *usage_key,
                           Headroom *out)
{
    struct rlimit limit;
    if (getrlimit(resource, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
        return false;
    uint64_t used = 0;
    read_proc_kb("/proc/self/status", usage_key, &used); /* 0 without /proc */
    char limit_text[32], used_text[32];
    memory_format_bytes(limit_text, sizeof limit_text, (uint64_t)limit.rlim_cur);
    memory_format_bytes(used_text, sizeof used_text, used);
    out->bytes = used < (uint64_t)limit.rlim_cur ? (uint64_t)limit.rlim_cur - used : 0;
    out->counts_mappings = resource == RLIMIT_AS;
    snprintf(out->source, sizeof out->source, "(%s %s, %s in use)", name, limit_text, used_text);
    return true;
}

/* The headrooms that apply; returns how many (at most 3). */
static int read_headrooms(Headroom *out)
{
    int count = 0;
    uint64_t available;
    if (read_proc_kb("/proc/meminfo", "MemAvailable", &available)) {
        out[count] = (Headroom){.bytes = available, .counts_mappings = false};
        snprintf(out[count].source, sizeof out[count].source, "(MemAvailable in /proc/meminfo)");
        count++;
    }
    count += limit_headroom(RLIMIT_AS, "RLIMIT_AS", "VmSize", &out[count]);
    count += limit_headroom(RLIMIT_DATA, "RLIMIT_DATA", "VmData", &out[count]);
    return count;
}

/* The bytes of need that count against headroom, and their list
 * "parameters 1.00 GiB + checkpoint files mapped 256.0 MiB" in parts. */
static uint64_t need_against(const MemoryNeed *need, const Headroom *headroom, char *parts,
                             size_t size)
{
    uint64_t total = 0;
    size_t used = 0;
    parts[0] = '\0';
    for (int i = 0; i < need->count; i++) {
        const MemoryItem *item = &need->items[i];
        if (item->address_only && !headroom->counts_mappings)
            continue;
        total += item->bytes;
        char bytes[32];
        memory_format_bytes(bytes, sizeof bytes, item->bytes);
        if (used < size)
            used += (size_t)snprintf(parts + used, size - used, "%s%s %s", used ? " + " : "",
                                     item->what, bytes);
    }
    return total;
}

int memory_budget_check(const char *subject, const char *action, const MemoryNeed *need)
{
    Headroom headrooms[3];
    int count = read_headrooms(headrooms);
    const Headroom *tightest = NULL;
    uint64_t tightest_need = 0;
    char parts[512], tightest_parts[512];
    for (int i = 0; i < count; i++) {
        uint64_t bytes = need_against(need, &headrooms[i], parts, sizeof parts);
        if (bytes > headrooms[i].bytes && (!tightest || headrooms[i].bytes < tightest->bytes)) {
            tightest = &headrooms[i];
            tightest_need = bytes;
            memcpy(tightest_parts, parts, sizeof parts);
        }
    }
    if (!tightest)
        return 0;
    char need_text[32], available_text[32];
    memory_format_bytes(need_text, sizeof need_text, tightest_need);
    memory_format_bytes(available_text, sizeof available_text, tightest->bytes);
    return error_set("%s: %s needs %s (%s) but only %s is available %s", subject, action,
                     need_text, tightest_parts, available_text, tightest->source);
}
