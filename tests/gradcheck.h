/* Finite-difference gradient checks in float32, reported as TAP lines.
 *
 * The caller supplies a scalar loss callback that recomputes the loss from
 * scratch (running every forward it needs) and returns it as a double, the
 * float array to perturb (parameters or inputs, read by the callback through
 * its context), and the analytic gradient of the loss with respect to that
 * array. gradcheck() perturbs coordinates one at a time with central
 * differences, restores every value exactly, and compares:
 *
 *   per coordinate:  |a - n| <= atol + rtol * max(|a|, |n|)
 *   whole sample:    ||a - n|| <= max_rel_error * ||n|| + atol * sqrt(m)
 *
 * where a is analytic, n numeric and m the number of checked coordinates. The
 * second test catches a gradient that is slightly off everywhere, which the
 * per-coordinate bound can let through one coordinate at a time; its atol term
 * keeps it meaningful when the true gradient is (nearly) zero.
 *
 * The step for coordinate i is h = eps * max(|x_i|, scale), scale being the
 * RMS of the whole array (1 when the array is all zero), so that small values
 * inside a large-scale array still get a step above float32 resolution. The
 * difference quotient divides by the perturbed values as actually stored in
 * float32, not by 2h, which removes the representation error of x +- h.
 *
 * In float32 the loss carries rounding noise of about 1e-7 relative per
 * output element, so the numeric gradient has an error of roughly
 * noise / h plus a truncation error of order h^2 f'''; eps between 1e-3 and
 * 1e-2 balances the two for O(1) values. Losses should be accumulated in
 * double (gradcheck_dot does that) so the summation adds no further noise.
 *
 * Typical use, with dout = R for loss = sum(out * R):
 *
 *     static double my_loss(void *ctx) { ...forward...; return gradcheck_dot(out, R, n); }
 *     GradCheckConfig cfg = gradcheck_default_config();
 *     gradcheck("matmul dinp", my_loss, &ctx, inp, n_inp, dinp, &cfg);
 *
 * Pitfalls: the loss must be a smooth function of x near the point (keep
 * discrete choices such as a router's top-k away from ties, and check they do
 * not change); and after a check, activations the callback wrote hold the last
 * perturbed evaluation, so rerun the forward before reusing them.
 *
 * Checking zero coordinates never passes. This header includes tap.h; its
 * random sample comes from rng.h (link rng.c), so runs reproduce. */
#ifndef UOE_GRADCHECK_H
#define UOE_GRADCHECK_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "rng.h"
#include "tap.h"

typedef double (*GradCheckLoss)(void *ctx);

typedef struct {
    double eps;           /* relative step, see the header comment */
    double atol;          /* absolute tolerance per coordinate */
    double rtol;          /* relative tolerance per coordinate */
    double max_rel_error; /* bound on ||a - n|| / ||n|| over the checked coordinates */
    size_t max_coords;    /* check all coordinates up to this many, else a random sample */
    uint64_t seed;        /* picks the sample */
} GradCheckConfig;

typedef struct {
    size_t checked;        /* coordinates compared */
    size_t failed;         /* coordinates over the per-coordinate tolerance */
    size_t worst_index;    /* coordinate with the largest error relative to its tolerance */
    double worst_analytic;
    double worst_numeric;
    double worst_ratio;    /* |a - n| / (atol + rtol max(|a|, |n|)) there; > 1 fails */
    double max_abs_error;  /* largest |a - n| */
    double norm_analytic;  /* ||a|| over the checked coordinates */
    double norm_numeric;   /* ||n|| */
    double norm_error;     /* ||a - n|| */
    double rel_error;      /* ||a - n|| / ||n||; 0 when both are 0, inf when only n is */
    bool nonfinite;        /* a loss, numeric or analytic value was NaN or infinite */
    bool passed;
} GradCheckResult;

/* Defaults for O(1) values and gradients in float32. The whole-sample bound is
 * tighter than rtol: an error of, say, 0.8% on every coordinate passes each
 * coordinate but is a wrong gradient all the same. */
static GradCheckConfig gradcheck_default_config(void) __attribute__((unused));
static GradCheckConfig gradcheck_default_config(void)
{
    GradCheckConfig cfg = {
        .eps = 1e-2,
        .atol = 1e-3,
        .rtol = 1e-2,
        .max_rel_error = 5e-3,
        .max_coords = 256,
        .seed = 0x6772616463686bULL,
    };
    return cfg;
}

/* sum a[i] * b[i] accumulated in double: the usual loss sum(out * R). */
static double gradcheck_dot(const float *a, const float *b, size_t n) __attribute__((unused));
static double gradcheck_dot(const float *a, const float *b, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += (double)a[i] * b[i];
    return sum;
}

/* Fills x with scale * N(0, 1). */
static void gradcheck_fill_normal(Rng *rng, float *x, size_t n, double scale) __attribute__((unused));
static void gradcheck_fill_normal(Rng *rng, float *x, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(scale * rng_normal(rng));
}

/* Runs the comparison without reporting; x is restored bit for bit. Returns
 * result->passed. A NULL cfg means gradcheck_default_config(). */
static bool gradcheck_run(GradCheckLoss loss, void *ctx, float *x, size_t n,
                          const float *analytic, const GradCheckConfig *cfg,
                          GradCheckResult *result) __attribute__((unused));
static bool gradcheck_run(GradCheckLoss loss, void *ctx, float *x, size_t n,
                          const float *analytic, const GradCheckConfig *cfg,
                          GradCheckResult *result)
{
    GradCheckConfig defaults = gradcheck_default_config();
    if (!cfg)
        cfg = &defaults;
    GradCheckResult r = {0};

    double sum_sq = 0.0;
    for (size_t i = 0; i < n; i++)
        sum_sq += (double)x[i] * x[i];
    double scale = n ? sqrt(sum_sq / (double)n) : 0.0;
    if (scale == 0.0)
        scale = 1.0;

    /* Coordinates to check: all, or the first m of a seeded partial shuffle. */
    size_t m = n;
    size_t *order = NULL;
    if (cfg->max_coords > 0 && n > cfg->max_coords) {
        m = cfg->max_coords;
        order = malloc(n * sizeof *order);
        if (!order) {
            r.nonfinite = true;
            *result = r;
            return false;
        }
        for (size_t i = 0; i < n; i++)
            order[i] = i;
        Rng rng;
        rng_seed(&rng, cfg->seed);
        for (size_t i = 0; i < m; i++) {
            size_t j = i + (size_t)rng_below(&rng, (uint64_t)(n - i));
            size_t tmp = order[i];
            order[i] = order[j];
            order[j] = tmp;
        }
    }

    double sq_a = 0.0, sq_n = 0.0, sq_err = 0.0;
    r.worst_ratio = -1.0;
    for (size_t c = 0; c < m; c++) {
        size_t i = order ? order[c] : c;
        float original = x[i];
        double magnitude = fabs((double)original);
        double h = cfg->eps * (magnitude > scale ? magnitude : scale);
        float plus = (float)((double)original + h);
        float minus = (float)((double)original - h);
        x[i] = plus;
        double loss_plus = loss(ctx);
        x[i] = minus;
        double loss_minus = loss(ctx);
        x[i] = original;
        double numeric = (loss_plus - loss_minus) / ((double)plus - (double)minus);
        double a = analytic[i];
        if (!isfinite(numeric) || !isfinite(a))
            r.nonfinite = true;

        double err = fabs(a - numeric);
        double bound = cfg->atol + cfg->rtol * fmax(fabs(a), fabs(numeric));
        double ratio = err / bound;
        /* written so that NaN counts as a failure and as the worst */
        if (!(err <= bound))
            r.failed++;
        if (!(ratio <= r.worst_ratio)) {
            r.worst_ratio = isnan(ratio) ? INFINITY : ratio;
            r.worst_index = i;
            r.worst_analytic = a;
            r.worst_numeric = numeric;
        }
        if (!(err <= r.max_abs_error))
            r.max_abs_error = err;
        sq_a += a * a;
        sq_n += numeric * numeric;
        sq_err += err * err;
    }
    free(order);

    r.checked = m;
    r.norm_analytic = sqrt(sq_a);
    r.norm_numeric = sqrt(sq_n);
    r.norm_error = sqrt(sq_err);
    if (r.norm_numeric > 0.0)
        r.rel_error = r.norm_error / r.norm_numeric;
    else
        r.rel_error = r.norm_error > 0.0 ? INFINITY : 0.0;
    bool vector_ok = r.norm_error <= cfg->max_rel_error * r.norm_numeric
                                     + cfg->atol * sqrt((double)m);
    r.passed = m > 0 && !r.nonfinite && r.failed == 0 && vector_ok;
    *result = r;
    return r.passed;
}

/* Checks and reports one TAP line named `name`, with the worst coordinate and
 * the errors as a diagnostic. Returns whether it passed. */
static bool gradcheck(const char *name, GradCheckLoss loss, void *ctx, float *x, size_t n,
                      const float *analytic, const GradCheckConfig *cfg) __attribute__((unused));
static bool gradcheck(const char *name, GradCheckLoss loss, void *ctx, float *x, size_t n,
                      const float *analytic, const GradCheckConfig *cfg)
{
    GradCheckResult r;
    gradcheck_run(loss, ctx, x, n, analytic, cfg, &r);
    tap_ok(r.passed, "%s: gradient matches finite differences (%zu of %zu coordinates)", name,
           r.checked, n);
    tap_diag("  worst [%zu] analytic %.7g numeric %.7g (%.3g of tolerance); "
             "max |a-n| %.3g; ||a-n||/||n|| %.3g; %zu over tolerance%s",
             r.worst_index, r.worst_analytic, r.worst_numeric, r.worst_ratio, r.max_abs_error,
             r.rel_error, r.failed, r.nonfinite ? "; NON-FINITE values" : "");
    return r.passed;
}

#endif
