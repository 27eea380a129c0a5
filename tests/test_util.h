/* Helpers shared by the test programs: a private temporary directory, whole
 * files written and read in one call, and where the test data lives.
 *
 * Everything is static, so each test program gets its own copy, and marked
 * unused, so a program that needs only some of it still builds with -Werror.
 * Failures of the helpers themselves are not test results but broken test
 * setups: they abort through FATAL. */
#ifndef UOE_TEST_UTIL_H
#define UOE_TEST_UTIL_H

#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

/* The directory that make_temp_dir() creates and remove_temp_dir() removes. */
static char temp_dir[PATH_MAX] __attribute__((unused));

/* Creates a fresh, private temp_dir under $TMPDIR, else /tmp. */
static void make_temp_dir(void) __attribute__((unused));
static void make_temp_dir(void)
{
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    int length = snprintf(temp_dir, sizeof temp_dir, "%s/uoe-wb-test-XXXXXX", base);
    if (length < 0 || (size_t)length >= sizeof temp_dir || !mkdtemp(temp_dir))
        FATAL("cannot create a temporary directory under %s", base);
}

static int remove_temp_entry(const char *path, const struct stat *status, int type,
                             struct FTW *walk)
{
    (void)status, (void)type, (void)walk;
    return remove(path);
}

/* Removes temp_dir with everything in it. Depth first, so that directories
 * are empty when their turn comes; links are removed, never followed. */
static void remove_temp_dir(void) __attribute__((unused));
static void remove_temp_dir(void)
{
    nftw(temp_dir, remove_temp_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes "temp_dir/name" into buffer and returns it. */
static const char *temp_path(char *buffer, size_t size, const char *name)
    __attribute__((unused));
static const char *temp_path(char *buffer, size_t size, const char *name)
{
    int length = snprintf(buffer, size, "%s/%s", temp_dir, name);
    if (length < 0 || (size_t)length >= size)
        FATAL("path %s/%s does not fit in %zu bytes", temp_dir, name, size);
    return buffer;
}

/* Entries directly in temp_dir whose names contain part, or all entries when
 * part is NULL: what writes have left behind. */
static int count_temp_entries(const char *part) __attribute__((unused));
static int count_temp_entries(const char *part)
{
    DIR *dir = opendir(temp_dir);
    if (!dir)
        FATAL("cannot list %s", temp_dir);
    int count = 0;
    for (struct dirent *entry; (entry = readdir(dir));) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        count += !part || strstr(entry->d_name, part);
    }
    closedir(dir);
    return count;
}

/* Creates or replaces path with exactly size bytes. */
static void write_bytes(const char *path, const void *bytes, size_t size) __attribute__((unused));
static void write_bytes(const char *path, const void *bytes, size_t size)
{
    FILE *stream = fopen(path, "wb");
    if (!stream || fwrite(bytes, 1, size, stream) != size || fclose(stream) != 0)
        FATAL("cannot write %s", path);
}

/* Reads a whole file into memory that the caller frees. */
static unsigned char *read_bytes(const char *path, size_t *size) __attribute__((unused));
static unsigned char *read_bytes(const char *path, size_t *size)
{
    FILE *stream = fopen(path, "rb");
    if (!stream)
        FATAL("cannot open %s", path);
    long length;
    if (fseek(stream, 0, SEEK_END) != 0 || (length = ftell(stream)) < 0)
        FATAL("cannot find the size of %s", path);
    rewind(stream);
    *size = (size_t)length;
    unsigned char *bytes = xmalloc(*size);
    if (fread(bytes, 1, *size, stream) != *size)
        FATAL("cannot read %s", path);
    fclose(stream);
    return bytes;
}

/* The directory holding fixtures/: $UOE_TEST_DATA, which make check sets
 * (under distcheck the sources are elsewhere and read-only), else the source
 * tree's tests/ as configured, for running a test by hand from any
 * directory, else tests/ of the current directory. */
static const char *test_data_dir(void) __attribute__((unused));
static const char *test_data_dir(void)
{
    const char *dir = getenv("UOE_TEST_DATA");
    if (dir && *dir)
        return dir;
#ifdef TOP_SRCDIR
    return TOP_SRCDIR "/tests";
#else
    return "tests";
#endif
}

#endif
