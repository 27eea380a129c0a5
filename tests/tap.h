/* Minimal TAP producer for the test programs (run by automake's tap-driver.sh).
 * Each check is one TAP line, so `make check` counts checks, not programs. */
#ifndef UOE_TAP_H
#define UOE_TAP_H

#include <stdarg.h>
#include <stdio.h>

static int tap_count;
static int tap_failures;

static void tap_vreport(int ok, const char *fmt, va_list ap)
{
    tap_count++;
    if (!ok)
        tap_failures++;
    printf("%s %d - ", ok ? "ok" : "not ok", tap_count);
    vprintf(fmt, ap);
    putchar('\n');
    fflush(stdout);
}

/* Reports one check; returns ok so callers can add diagnostics on failure. */
static int tap_ok(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3), unused));
static int tap_ok(int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tap_vreport(ok, fmt, ap);
    va_end(ap);
    return ok;
}

/* A check that cannot run here: counted as skipped, never as passed. */
static void tap_skip(const char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3), unused));
static void tap_skip(const char *why, const char *fmt, ...)
{
    va_list ap;
    tap_count++;
    printf("ok %d - ", tap_count);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf(" # SKIP %s\n", why);
    fflush(stdout);
}

static void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2), unused));
static void tap_diag(const char *fmt, ...)
{
    va_list ap;
    printf("# ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* Prints the plan and returns the exit status. */
static int tap_done(void)
{
    printf("1..%d\n", tap_count);
    return tap_failures ? 1 : 0;
}

#endif
