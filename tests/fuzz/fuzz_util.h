/* Shared by the libFuzzer harnesses (make fuzz, docs/reliability.md): the
 * parsers under test read files by path, so each input is written to one
 * memory-backed file (memfd) that they open as /proc/self/fd/N. */
#ifndef UOE_FUZZ_UTIL_H
#define UOE_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* The path of a file that holds exactly data[0..size): the same file on
 * every call, rewritten, so nothing is left behind between inputs. */
static const char *fuzz_file(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("uoe-fuzz", 0);
        if (fd < 0) {
            perror("memfd_create");
            abort();
        }
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size)) {
        perror("fuzz_file");
        abort();
    }
    return path;
}

#endif
