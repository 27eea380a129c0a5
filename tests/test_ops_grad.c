/* The forward/backward pairs of ops.h, on small random shapes with odd sizes.
 *
 * Each forward is compared with a double-precision reference written here,
 * so a backward cannot pass merely by agreeing with a wrong forward. Each
 * backward is checked against finite differences of loss = sum(out * R) for a
 * fixed random R (so dout = R), on every gradient output. Then the calling
 * conventions: backwards documented as accumulating add into their outputs
 * (twice doubles), and a NULL output leaves the others unchanged; those
 * documented as writing overwrite whatever was there. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "ops.h"
#include "rng.h"
#include "tap.h"

static Rng rng;

/* Every buffer of one test case, freed together by free_all(). */
enum { MAX_ALLOCS = 64 };
static void *allocations[MAX_ALLOCS];
static int allocation_count;

static void *track(void *p)
{
    if (!p || allocation_count == MAX_ALLOCS) {
        fprintf(stderr, "out of memory or allocation slots\n");
        exit(99);
    }
    allocations[allocation_count++] = p;
    return p;
}

static float *new_floats(size_t n)
{
    return track(calloc(n ? n : 1, sizeof(float)));
}

static double *new_doubles(size_t n)
{
    return track(calloc(n ? n : 1, sizeof(double)));
}

static int *new_ints(size_t n)
{
    return track(calloc(n ? n : 1, sizeof(int)));
}

static float *random_floats(size_t n, double scale)
{
    float *x = new_floats(n);
    gradcheck_fill_normal(&rng, x, n, scale);
    return x;
}

static float *copy_floats(const float *x, size_t n)
{
    float *y = new_floats(n);
    memcpy(y, x, n * sizeof(float));
    return y;
}

static void fill(float *x, size_t n, float value)
{
    for (size_t i = 0; i < n; i++)
        x[i] = value;
}

static void free_all(void)
{
    while (allocation_count > 0)
        free(allocations[--allocation_count]);
}

/* ---- comparisons --------------------------------------------------------- */

/* got (float) against a double reference: |g - w| <= tol * (1 + |w|). */
static bool check_reference(const char *name, const float *got, const double *want, size_t n,
                            double tol)
{
    size_t worst = 0;
    double worst_err = -1.0;
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)got[i] - want[i]) / (1.0 + fabs(want[i]));
        if (!(err <= worst_err)) {
            worst_err = isnan(err) ? INFINITY : err;
            worst = i;
        }
    }
    bool ok = n > 0 && worst_err <= tol;
    if (!tap_ok(ok, "%s matches the double-precision reference", name))
        tap_diag("  worst [%zu] got %.8g want %.8g", worst, (double)got[worst], want[worst]);
    return ok;
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= worst))
            worst = isnan(d) ? INFINITY : d;
    }
    return worst;
}

static bool any_nonzero(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (x[i] != 0.0f)
            return true;
    return false;
}

/* Two backward calls into the same buffer give twice one call. The single
 * result must be nonzero, or doubling it would prove nothing. Errors are
 * relative to the array's largest value: a backward that adds its terms into
 * the output one by one rounds differently when the output starts nonzero,
 * which shows on coordinates whose terms cancel. */
static void check_doubles(const char *name, const float *once, const float *twice, size_t n)
{
    double largest = 0.0, worst = 0.0;
    for (size_t i = 0; i < n; i++)
        largest = fmax(largest, fabs(2.0 * once[i]));
    for (size_t i = 0; i < n; i++) {
        double err = fabs((double)twice[i] - 2.0 * once[i]) / largest;
        if (!(err <= worst))
            worst = isnan(err) ? INFINITY : err;
    }
    bool ok = any_nonzero(once, n) && worst <= 1e-5;
    if (!tap_ok(ok, "%s accumulates: a second backward call doubles it", name))
        tap_diag("  worst relative error %.3g", worst);
}

/* The same gradient computed two ways (e.g. alone with NULL for the other
 * outputs, and together with them) agrees to rounding. */
static void check_same(const char *name, const float *a, const float *b, size_t n,
                       const char *what)
{
    double diff = max_abs_diff(a, b, n);
    bool ok = any_nonzero(a, n) && diff <= 1e-6;
    if (!tap_ok(ok, "%s %s", name, what))
        tap_diag("  max |difference| %.3g", diff);
}

/* ---- gradcheck itself ------------------------------------------------------ */

typedef struct {
    const float *coeff;
    const float *x;
    size_t n;
} QuadraticCase;

/* sum c_i x_i^3 / 3 + x_0 x_1: gradient c_i x_i^2 (+ the cross term). */
static double quadratic_loss(void *p)
{
    QuadraticCase *c = p;
    double sum = (double)c->x[0] * c->x[1];
    for (size_t i = 0; i < c->n; i++)
        sum += (double)c->coeff[i] * c->x[i] * c->x[i] * c->x[i] / 3.0;
    return sum;
}

/* The helper must pass a right gradient and fail wrong ones, including a
 * small error on every coordinate, and leave x exactly as it was. */
static void test_gradcheck_helper(void)
{
    size_t n = 300;
    float *x = random_floats(n, 1.0);
    float *coeff = random_floats(n, 1.0);
    float *grad = new_floats(n);
    x[7] = 1.5f; /* the coordinate flipped below: its gradient must be well above atol */
    coeff[7] = 1.0f;
    for (size_t i = 0; i < n; i++)
        grad[i] = coeff[i] * x[i] * x[i];
    grad[0] += x[1];
    grad[1] += x[0];
    float *saved = copy_floats(x, n);
    QuadraticCase c = {coeff, x, n};
    GradCheckConfig cfg = gradcheck_default_config();
    GradCheckResult r;

    cfg.max_coords = 0; /* all */
    bool right = gradcheck_run(quadratic_loss, &c, x, n, grad, &cfg, &r);
    tap_ok(right && r.checked == n, "gradcheck passes a right gradient on all %zu coordinates", n);
    tap_ok(memcmp(x, saved, n * sizeof(float)) == 0, "gradcheck restores the values bit for bit");

    grad[7] = -grad[7];
    bool flipped = gradcheck_run(quadratic_loss, &c, x, n, grad, &cfg, &r);
    tap_ok(!flipped && r.worst_index == 7 && r.failed == 1,
           "gradcheck fails one sign-flipped coordinate and names it");
    grad[7] = -grad[7];

    float *scaled = new_floats(n);
    for (size_t i = 0; i < n; i++)
        scaled[i] = grad[i] * 1.008f;
    bool slightly = gradcheck_run(quadratic_loss, &c, x, n, scaled, &cfg, &r);
    tap_ok(!slightly && r.failed == 0,
           "gradcheck fails a gradient 0.8%% off everywhere through the whole-sample bound");

    cfg.max_coords = 40;
    right = gradcheck_run(quadratic_loss, &c, x, n, grad, &cfg, &r);
    tap_ok(right && r.checked == 40, "gradcheck samples 40 of %zu coordinates", n);
    for (size_t i = 0; i < n; i++)
        scaled[i] = -grad[i];
    tap_ok(!gradcheck_run(quadratic_loss, &c, x, n, scaled, &cfg, &r),
           "gradcheck fails a negated gradient on a sample");
    tap_ok(memcmp(x, saved, n * sizeof(float)) == 0, "gradcheck restores sampled values too");
    free_all();
}

/* ---- matmul -------------------------------------------------------------- */

typedef struct {
    int N, I, O;
    float *inp, *weight, *bias, *out, *R;
} MatmulCase;

static double matmul_loss(void *p)
{
    MatmulCase *c = p;
    matmul_forward(c->out, c->inp, c->weight, c->bias, c->N, c->I, c->O);
    return gradcheck_dot(c->out, c->R, (size_t)c->N * c->O);
}

static void test_matmul(int N, int I, int O, bool with_bias)
{
    char name[96];
    snprintf(name, sizeof name, "matmul N=%d I=%d O=%d %s", N, I, O, with_bias ? "bias" : "no bias");
    size_t n_inp = (size_t)N * I, n_w = (size_t)O * I, n_out = (size_t)N * O;
    MatmulCase c = {N, I, O, random_floats(n_inp, 1.0), random_floats(n_w, 1.0),
                    with_bias ? random_floats(O, 1.0) : NULL, new_floats(n_out),
                    random_floats(n_out, 1.0)};

    /* NaN in out: without bias the forward must overwrite, not add to, out */
    fill(c.out, n_out, NAN);
    matmul_forward(c.out, c.inp, c.weight, c.bias, N, I, O);
    double *want = new_doubles(n_out);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) {
            double sum = c.bias ? c.bias[o] : 0.0;
            for (int i = 0; i < I; i++)
                sum += (double)c.inp[(size_t)n * I + i] * c.weight[(size_t)o * I + i];
            want[(size_t)n * O + o] = sum;
        }
    check_reference(name, c.out, want, n_out, 1e-5);

    float *dinp = new_floats(n_inp), *dweight = new_floats(n_w), *dbias = new_floats(O);
    matmul_backward(dinp, dweight, with_bias ? dbias : NULL, c.R, c.inp, c.weight, N, I, O);
    char label[128];
    snprintf(label, sizeof label, "%s dinp", name);
    gradcheck(label, matmul_loss, &c, c.inp, n_inp, dinp, NULL);
    snprintf(label, sizeof label, "%s dweight", name);
    gradcheck(label, matmul_loss, &c, c.weight, n_w, dweight, NULL);
    if (with_bias) {
        snprintf(label, sizeof label, "%s dbias", name);
        gradcheck(label, matmul_loss, &c, c.bias, O, dbias, NULL);
    } else {
        tap_ok(!any_nonzero(dbias, O), "%s: NULL dbias is left alone", name);
    }

    float *twice_inp = new_floats(n_inp), *twice_w = new_floats(n_w), *twice_b = new_floats(O);
    for (int k = 0; k < 2; k++)
        matmul_backward(twice_inp, twice_w, twice_b, c.R, c.inp, c.weight, N, I, O);
    snprintf(label, sizeof label, "%s dinp", name);
    check_doubles(label, dinp, twice_inp, n_inp);
    snprintf(label, sizeof label, "%s dweight", name);
    check_doubles(label, dweight, twice_w, n_w);

    /* each output alone, the others NULL */
    float *alone_inp = new_floats(n_inp), *alone_w = new_floats(n_w), *alone_b = new_floats(O);
    matmul_backward(alone_inp, NULL, NULL, c.R, c.inp, c.weight, N, I, O);
    matmul_backward(NULL, alone_w, NULL, c.R, c.inp, c.weight, N, I, O);
    matmul_backward(NULL, NULL, alone_b, c.R, c.inp, c.weight, N, I, O);
    snprintf(label, sizeof label, "%s dinp", name);
    check_same(label, alone_inp, dinp, n_inp, "is the same with dweight and dbias NULL");
    snprintf(label, sizeof label, "%s dweight", name);
    check_same(label, alone_w, dweight, n_w, "is the same with dinp and dbias NULL");
    if (with_bias) {
        snprintf(label, sizeof label, "%s dbias", name);
        check_same(label, alone_b, dbias, O, "is the same with dinp and dweight NULL");
        check_doubles(label, dbias, twice_b, O);
    }
    free_all();
}

/* ---- embedding ------------------------------------------------------------- */

typedef struct {
    int N, C;
    const int *ids;
    float *table, *out, *R;
} EmbeddingCase;

static double embedding_loss(void *p)
{
    EmbeddingCase *c = p;
    embedding_forward(c->out, c->ids, c->table, c->N, c->C);
    return gradcheck_dot(c->out, c->R, (size_t)c->N * c->C);
}

static void test_embedding(void)
{
    /* repeated ids accumulate; rows 2 and 4 are never used */
    static const int ids[] = {0, 3, 3, 5, 0, 3, 1, 5, 3};
    int V = 6, C = 5, N = (int)(sizeof ids / sizeof ids[0]);
    size_t n_table = (size_t)V * C, n_out = (size_t)N * C;
    EmbeddingCase c = {N, C, ids, random_floats(n_table, 1.0), new_floats(n_out),
                       random_floats(n_out, 1.0)};

    embedding_forward(c.out, ids, c.table, N, C);
    double *want = new_doubles(n_out);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < C; k++)
            want[(size_t)n * C + k] = c.table[(size_t)ids[n] * C + k];
    check_reference("embedding V=6 C=5 N=9", c.out, want, n_out, 0.0);

    float *dtable = new_floats(n_table);
    embedding_backward(dtable, c.R, ids, N, C);
    gradcheck("embedding repeated ids dtable", embedding_loss, &c, c.table, n_table, dtable, NULL);
    tap_ok(!any_nonzero(dtable + 2 * C, C) && !any_nonzero(dtable + 4 * C, C),
           "embedding: unused rows get exactly zero gradient");

    float *twice = new_floats(n_table);
    embedding_backward(twice, c.R, ids, N, C);
    embedding_backward(twice, c.R, ids, N, C);
    check_doubles("embedding dtable", dtable, twice, n_table);
    free_all();
}

/* ---- rmsnorm --------------------------------------------------------------- */

typedef struct {
    int N, C;
    float eps;
    float *inp, *weight, *out, *rstd, *R;
} RmsnormCase;

static double rmsnorm_loss(void *p)
{
    RmsnormCase *c = p;
    rmsnorm_forward(c->out, c->rstd, c->inp, c->weight, c->N, c->C, c->eps);
    return gradcheck_dot(c->out, c->R, (size_t)c->N * c->C);
}

/* scale: of the inputs; at 1e-3 their mean square is below eps, which then
 * matters. */
static void test_rmsnorm(int N, int C, double scale)
{
    char name[64], label[128];
    snprintf(name, sizeof name, "rmsnorm N=%d C=%d scale=%g", N, C, scale);
    size_t n_x = (size_t)N * C;
    RmsnormCase c = {N, C, 1e-5f, random_floats(n_x, scale), random_floats(C, 0.3),
                     new_floats(n_x), new_floats(N), random_floats(n_x, 1.0)};
    for (int k = 0; k < C; k++)
        c.weight[k] += 1.0f; /* around 1, as trained norms are */

    rmsnorm_forward(c.out, c.rstd, c.inp, c.weight, N, C, c.eps);
    double *want = new_doubles(n_x), *want_rstd = new_doubles(N);
    for (int n = 0; n < N; n++) {
        const float *x = c.inp + (size_t)n * C;
        double sum_sq = 0.0;
        for (int k = 0; k < C; k++)
            sum_sq += (double)x[k] * x[k];
        want_rstd[n] = 1.0 / sqrt(sum_sq / C + c.eps);
        for (int k = 0; k < C; k++)
            want[(size_t)n * C + k] = x[k] * want_rstd[n] * c.weight[k];
    }
    check_reference(name, c.out, want, n_x, 1e-5);
    snprintf(label, sizeof label, "%s rstd", name);
    check_reference(label, c.rstd, want_rstd, N, 1e-5);

    float *dinp = new_floats(n_x), *dweight = new_floats(C);
    rmsnorm_backward(dinp, dweight, c.R, c.inp, c.weight, c.rstd, N, C);
    snprintf(label, sizeof label, "%s dinp", name);
    gradcheck(label, rmsnorm_loss, &c, c.inp, n_x, dinp, NULL);
    snprintf(label, sizeof label, "%s dweight", name);
    gradcheck(label, rmsnorm_loss, &c, c.weight, C, dweight, NULL);

    /* the loss callback reran the forward: restore rstd for the exact inputs */
    rmsnorm_forward(c.out, c.rstd, c.inp, c.weight, N, C, c.eps);
    float *twice_inp = new_floats(n_x), *twice_w = new_floats(C);
    for (int k = 0; k < 2; k++)
        rmsnorm_backward(twice_inp, twice_w, c.R, c.inp, c.weight, c.rstd, N, C);
    snprintf(label, sizeof label, "%s dinp", name);
    check_doubles(label, dinp, twice_inp, n_x);
    snprintf(label, sizeof label, "%s dweight", name);
    check_doubles(label, dweight, twice_w, C);

    float *alone_inp = new_floats(n_x), *alone_w = new_floats(C);
    rmsnorm_backward(alone_inp, NULL, c.R, c.inp, c.weight, c.rstd, N, C);
    rmsnorm_backward(NULL, alone_w, c.R, c.inp, c.weight, c.rstd, N, C);
    snprintf(label, sizeof label, "%s dinp", name);
    check_same(label, alone_inp, dinp, n_x, "is the same with dweight NULL");
    snprintf(label, sizeof label, "%s dweight", name);
    check_same(label, alone_w, dweight, C, "is the same with dinp NULL");
    free_all();
}

/* ---- rope ------------------------------------------------------------------ */

typedef struct {
    int B, T, heads, D;
    const float *cos_table, *sin_table;
    float *x, *work, *R;
} RopeCase;

static double rope_loss(void *p)
{
    RopeCase *c = p;
    size_t n = (size_t)c->B * c->T * c->heads * c->D;
    memcpy(c->work, c->x, n * sizeof(float)); /* rope works in place */
    rope_forward(c->work, c->cos_table, c->sin_table, c->B, c->T, c->heads, c->D);
    return gradcheck_dot(c->work, c->R, n);
}

static void test_rope(int B, int T, int heads, int D, float theta)
{
    char name[96], label[160];
    snprintf(name, sizeof name, "rope B=%d T=%d heads=%d D=%d theta=%g", B, T, heads, D,
             (double)theta);
    int half = D / 2;
    size_t n = (size_t)B * T * heads * D, n_table = (size_t)T * half;
    float *cos_table = new_floats(n_table), *sin_table = new_floats(n_table);
    rope_tables(cos_table, sin_table, T, D, theta);

    double *want_cos = new_doubles(n_table), *want_sin = new_doubles(n_table);
    for (int t = 0; t < T; t++)
        for (int j = 0; j < half; j++) {
            double angle = t * pow((double)theta, -2.0 * j / D);
            want_cos[(size_t)t * half + j] = cos(angle);
            want_sin[(size_t)t * half + j] = sin(angle);
        }
    snprintf(label, sizeof label, "%s cos table", name);
    check_reference(label, cos_table, want_cos, n_table, 1e-5);
    snprintf(label, sizeof label, "%s sin table", name);
    check_reference(label, sin_table, want_sin, n_table, 1e-5);

    RopeCase c = {B, T, heads, D, cos_table, sin_table, random_floats(n, 1.0), new_floats(n),
                  random_floats(n, 1.0)};

    /* HF rotate_half: out = x * cos + [-x2, x1] * sin, pairs (j, j + D/2) */
    float *rotated = copy_floats(c.x, n);
    rope_forward(rotated, cos_table, sin_table, B, T, heads, D);
    double *want = new_doubles(n);
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            for (int h = 0; h < heads; h++) {
                size_t at = (((size_t)b * T + t) * heads + h) * D;
                for (int j = 0; j < half; j++) {
                    double cs = want_cos[(size_t)t * half + j], sn = want_sin[(size_t)t * half + j];
                    double x1 = c.x[at + j], x2 = c.x[at + j + half];
                    want[at + j] = x1 * cs - x2 * sn;
                    want[at + j + half] = x2 * cs + x1 * sn;
                }
            }
    check_reference(name, rotated, want, n, 1e-5);

    /* a rotation: every head vector keeps its norm */
    double worst = 0.0;
    for (size_t at = 0; at < n; at += D) {
        double before = 0.0, after = 0.0;
        for (int d = 0; d < D; d++) {
            before += (double)c.x[at + d] * c.x[at + d];
            after += (double)rotated[at + d] * rotated[at + d];
        }
        worst = fmax(worst, fabs(sqrt(after) - sqrt(before)) / sqrt(before));
    }
    if (!tap_ok(worst <= 1e-6, "%s preserves every head vector's norm", name))
        tap_diag("  worst relative norm change %.3g", worst);

    float *round_trip = copy_floats(rotated, n);
    rope_backward(round_trip, cos_table, sin_table, B, T, heads, D);
    double diff = max_abs_diff(round_trip, c.x, n);
    if (!tap_ok(diff <= 1e-6, "%s: rope_backward(rope_forward(x)) == x", name))
        tap_diag("  max |difference| %.3g", diff);

    float *dx = copy_floats(c.R, n);
    rope_backward(dx, cos_table, sin_table, B, T, heads, D);
    snprintf(label, sizeof label, "%s dx", name);
    gradcheck(label, rope_loss, &c, c.x, n, dx, NULL);
    free_all();
}

/* ---- attention ------------------------------------------------------------- */

typedef struct {
    int B, T, H, KV, D;
    float *q, *k, *v, *out, *probs, *R;
} AttentionCase;

static double attention_loss(void *p)
{
    AttentionCase *c = p;
    attention_forward(c->out, c->probs, c->q, c->k, c->v, c->B, c->T, c->H, c->KV, c->D);
    return gradcheck_dot(c->out, c->R, (size_t)c->B * c->T * c->H * c->D);
}

/* Perturbs every k and v entry (all kv heads) of token `pivot` in batch 0 and
 * checks that only outputs at tokens >= pivot of batch 0 change, exactly. */
static bool attention_causal_at(AttentionCase *c, int pivot, const float *base_out)
{
    int T = c->T;
    size_t q_row = (size_t)c->H * c->D, kv_row = (size_t)c->KV * c->D;
    size_t n_kv = (size_t)c->B * T * kv_row, n_out = (size_t)c->B * T * q_row;
    float *k2 = copy_floats(c->k, n_kv), *v2 = copy_floats(c->v, n_kv);
    float *out2 = new_floats(n_out), *probs2 = new_floats((size_t)c->B * c->H * T * T);
    for (size_t i = 0; i < kv_row; i++) {
        k2[(size_t)pivot * kv_row + i] += 0.5f;
        v2[(size_t)pivot * kv_row + i] -= 0.5f;
    }
    attention_forward(out2, probs2, c->q, k2, v2, c->B, T, c->H, c->KV, c->D);
    bool earlier_same = memcmp(out2, base_out, (size_t)pivot * q_row * sizeof(float)) == 0;
    bool pivot_changed = memcmp(out2 + (size_t)pivot * q_row, base_out + (size_t)pivot * q_row,
                                q_row * sizeof(float)) != 0;
    bool other_batch_same = memcmp(out2 + (size_t)T * q_row, base_out + (size_t)T * q_row,
                                   (n_out - (size_t)T * q_row) * sizeof(float)) == 0;
    return earlier_same && pivot_changed && other_batch_same;
}

static void test_attention(int B, int T, int H, int KV, int D)
{
    char name[96], label[160];
    snprintf(name, sizeof name, "attention B=%d T=%d H=%d KV=%d D=%d", B, T, H, KV, D);
    size_t n_q = (size_t)B * T * H * D, n_kv = (size_t)B * T * KV * D;
    size_t n_probs = (size_t)B * H * T * T;
    AttentionCase c = {B, T, H, KV, D, random_floats(n_q, 1.0), random_floats(n_kv, 1.0),
                       random_floats(n_kv, 1.0), new_floats(n_q), new_floats(n_probs),
                       random_floats(n_q, 1.0)};
    int group = H / KV;

    fill(c.probs, n_probs, NAN); /* the masked entries must be written too */
    attention_forward(c.out, c.probs, c.q, c.k, c.v, B, T, H, KV, D);
    double *want = new_doubles(n_q), *want_probs = new_doubles(n_probs);
    double *score = new_doubles(T);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++) {
                const float *qt = c.q + ((size_t)b * T + t) * H * D + (size_t)h * D;
                double max_score = -INFINITY, sum = 0.0;
                for (int s = 0; s <= t; s++) {
                    const float *ks = c.k + ((size_t)b * T + s) * KV * D + (size_t)(h / group) * D;
                    double dot = 0.0;
                    for (int d = 0; d < D; d++)
                        dot += (double)qt[d] * ks[d];
                    score[s] = dot / sqrt((double)D);
                    max_score = fmax(max_score, score[s]);
                }
                for (int s = 0; s <= t; s++)
                    sum += exp(score[s] - max_score);
                double *p = want_probs + (((size_t)b * H + h) * T + t) * T;
                double *o = want + ((size_t)b * T + t) * H * D + (size_t)h * D;
                for (int s = 0; s < T; s++)
                    p[s] = s <= t ? exp(score[s] - max_score) / sum : 0.0;
                for (int d = 0; d < D; d++) {
                    o[d] = 0.0;
                    for (int s = 0; s <= t; s++)
                        o[d] += p[s] * c.v[((size_t)b * T + s) * KV * D + (size_t)(h / group) * D + d];
                }
            }
    check_reference(name, c.out, want, n_q, 1e-5);
    snprintf(label, sizeof label, "%s probs", name);
    check_reference(label, c.probs, want_probs, n_probs, 1e-5);

    /* each probs row: a distribution over s <= t, exactly 0 above the diagonal */
    bool rows_ok = true;
    double worst_sum = 0.0;
    for (size_t row = 0; row < (size_t)B * H * T; row++) {
        int t = (int)(row % T);
        const float *p = c.probs + row * T;
        double sum = 0.0;
        for (int s = 0; s < T; s++) {
            if (s > t)
                rows_ok &= p[s] == 0.0f;
            else
                rows_ok &= p[s] >= 0.0f;
            sum += p[s];
        }
        worst_sum = fmax(worst_sum, fabs(sum - 1.0));
    }
    if (!tap_ok(rows_ok && worst_sum <= 1e-6,
                "%s: probs rows sum to 1 and are 0 above the diagonal", name))
        tap_diag("  worst |row sum - 1| %.3g", worst_sum);

    bool causal = true;
    for (int pivot = 1; pivot < T; pivot++)
        causal &= attention_causal_at(&c, pivot, c.out);
    tap_ok(causal, "%s is causal: a token's k and v change no earlier output nor the other "
           "batch, and do change its own", name);

    /* dprobs is scratch: NaN there must not leak into the gradients */
    float *dprobs = new_floats(n_probs);
    fill(dprobs, n_probs, NAN);
    float *dq = new_floats(n_q), *dk = new_floats(n_kv), *dv = new_floats(n_kv);
    attention_backward(dq, dk, dv, dprobs, c.R, c.q, c.k, c.v, c.probs, B, T, H, KV, D);
    snprintf(label, sizeof label, "%s dq", name);
    gradcheck(label, attention_loss, &c, c.q, n_q, dq, NULL);
    snprintf(label, sizeof label, "%s dk", name);
    gradcheck(label, attention_loss, &c, c.k, n_kv, dk, NULL);
    snprintf(label, sizeof label, "%s dv", name);
    gradcheck(label, attention_loss, &c, c.v, n_kv, dv, NULL);

    attention_forward(c.out, c.probs, c.q, c.k, c.v, B, T, H, KV, D);
    float *twice_q = new_floats(n_q), *twice_k = new_floats(n_kv), *twice_v = new_floats(n_kv);
    for (int r = 0; r < 2; r++)
        attention_backward(twice_q, twice_k, twice_v, dprobs, c.R, c.q, c.k, c.v, c.probs,
                           B, T, H, KV, D);
    snprintf(label, sizeof label, "%s dq", name);
    check_doubles(label, dq, twice_q, n_q);
    snprintf(label, sizeof label, "%s dk", name);
    check_doubles(label, dk, twice_k, n_kv);
    snprintf(label, sizeof label, "%s dv", name);
    check_doubles(label, dv, twice_v, n_kv);

    float *alone_q = new_floats(n_q), *alone_k = new_floats(n_kv), *alone_v = new_floats(n_kv);
    attention_backward(alone_q, NULL, NULL, dprobs, c.R, c.q, c.k, c.v, c.probs, B, T, H, KV, D);
    attention_backward(NULL, alone_k, NULL, dprobs, c.R, c.q, c.k, c.v, c.probs, B, T, H, KV, D);
    attention_backward(NULL, NULL, alone_v, dprobs, c.R, c.q, c.k, c.v, c.probs, B, T, H, KV, D);
    snprintf(label, sizeof label, "%s dq", name);
    check_same(label, alone_q, dq, n_q, "is the same with dk and dv NULL");
    snprintf(label, sizeof label, "%s dk", name);
    check_same(label, alone_k, dk, n_kv, "is the same with dq and dv NULL");
    snprintf(label, sizeof label, "%s dv", name);
    check_same(label, alone_v, dv, n_kv, "is the same with dq and dk NULL");
    free_all();
}

/* ---- swiglu ---------------------------------------------------------------- */

typedef struct {
    int N, W;
    float *gate_up, *hidden, *R;
} SwigluCase;

static double swiglu_loss(void *p)
{
    SwigluCase *c = p;
    swiglu_forward(c->hidden, c->gate_up, c->N, c->W);
    return gradcheck_dot(c->hidden, c->R, (size_t)c->N * c->W);
}

static void test_swiglu(int N, int W)
{
    char name[64], label[128];
    snprintf(name, sizeof name, "swiglu N=%d W=%d", N, W);
    size_t n_h = (size_t)N * W, n_gu = 2 * n_h;
    /* scale 2 reaches both the linear and the saturated parts of silu */
    SwigluCase c = {N, W, random_floats(n_gu, 2.0), new_floats(n_h), random_floats(n_h, 1.0)};

    swiglu_forward(c.hidden, c.gate_up, N, W);
    double *want = new_doubles(n_h);
    for (int n = 0; n < N; n++)
        for (int i = 0; i < W; i++) {
            double g = c.gate_up[(size_t)n * 2 * W + i], u = c.gate_up[(size_t)n * 2 * W + W + i];
            want[(size_t)n * W + i] = g / (1.0 + exp(-g)) * u;
        }
    check_reference(name, c.hidden, want, n_h, 1e-5);

    float *dgate_up = new_floats(n_gu);
    swiglu_backward(dgate_up, c.R, c.gate_up, N, W);
    snprintf(label, sizeof label, "%s dgate_up", name);
    gradcheck(label, swiglu_loss, &c, c.gate_up, n_gu, dgate_up, NULL);

    float *written = new_floats(n_gu);
    fill(written, n_gu, 7.0f);
    swiglu_backward(written, c.R, c.gate_up, N, W);
    check_same(label, written, dgate_up, n_gu, "is written, not accumulated");
    free_all();
}

/* ---- router ---------------------------------------------------------------- */

typedef struct {
    int N, E, K;
    bool norm_topk;
    bool use_dprobs;
    float *logits, *probs, *gate, *Rg, *Rp;
    int *index;
    const int *fixed_index; /* the selection at the unperturbed logits */
    bool selection_changed;
} RouterCase;

static double router_loss(void *p)
{
    RouterCase *c = p;
    router_forward(c->probs, c->index, c->gate, c->logits, c->N, c->E, c->K, c->norm_topk);
    if (memcmp(c->index, c->fixed_index, (size_t)c->N * c->K * sizeof(int)) != 0)
        c->selection_changed = true;
    double loss = gradcheck_dot(c->gate, c->Rg, (size_t)c->N * c->K);
    if (c->use_dprobs)
        loss += gradcheck_dot(c->probs, c->Rp, (size_t)c->N * c->E);
    return loss;
}

/* Softmax, selection and gates of router_forward against their definition. */
static void check_router_forward(const char *name, const float *logits, const float *probs,
                                 const int *index, const float *gate, int N, int E, int K,
                                 bool norm_topk)
{
    double *want = new_doubles((size_t)N * E);
    bool selection_ok = true, gates_ok = true;
    double worst_gate_sum = 0.0;
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * E;
        const float *p = probs + (size_t)n * E;
        const int *idx = index + (size_t)n * K;
        const float *g = gate + (size_t)n * K;
        double max_z = -INFINITY, sum = 0.0, selected = 0.0;
        for (int e = 0; e < E; e++)
            max_z = fmax(max_z, z[e]);
        for (int e = 0; e < E; e++)
            sum += exp((double)z[e] - max_z);
        for (int e = 0; e < E; e++)
            want[(size_t)n * E + e] = exp((double)z[e] - max_z) / sum;
        /* distinct, in range, descending (lower index first on ties), and no
         * unselected expert beats a selected one */
        for (int k = 0; k < K; k++) {
            if (idx[k] < 0 || idx[k] >= E) {
                selection_ok = false;
                continue;
            }
            for (int j = 0; j < k; j++)
                selection_ok &= idx[j] != idx[k];
            if (k > 0 && idx[k - 1] >= 0 && idx[k - 1] < E)
                selection_ok &= p[idx[k - 1]] > p[idx[k]]
                                || (p[idx[k - 1]] == p[idx[k]] && idx[k - 1] < idx[k]);
            selected += p[idx[k]];
        }
        if (!selection_ok)
            continue;
        for (int e = 0; e < E; e++) {
            bool taken = false;
            for (int k = 0; k < K; k++)
                taken |= idx[k] == e;
            if (!taken)
                selection_ok &= p[e] < p[idx[K - 1]] || (p[e] == p[idx[K - 1]] && e > idx[K - 1]);
        }
        double gate_sum = 0.0;
        for (int k = 0; k < K; k++) {
            double expect = norm_topk ? p[idx[k]] / selected : p[idx[k]];
            gates_ok &= fabs(g[k] - expect) <= 1e-6 * (1.0 + fabs(expect));
            gate_sum += g[k];
        }
        if (norm_topk)
            worst_gate_sum = fmax(worst_gate_sum, fabs(gate_sum - 1.0));
    }
    char label[160];
    snprintf(label, sizeof label, "%s probs", name);
    check_reference(label, probs, want, (size_t)N * E, 1e-6);
    tap_ok(selection_ok, "%s picks the K largest in descending order", name);
    if (norm_topk) {
        if (!tap_ok(gates_ok && worst_gate_sum <= 1e-6,
                    "%s gates are the renormalised probabilities and sum to 1", name))
            tap_diag("  worst |gate sum - 1| %.3g", worst_gate_sum);
    } else {
        tap_ok(gates_ok, "%s gates are the selected probabilities", name);
    }
}

/* mode: 0 gates only (dprobs NULL), 1 direct dprobs only (zero gate
 * gradient), 2 both. */
static void test_router(int N, int E, int K, bool norm_topk, int mode)
{
    static const char *const mode_names[] = {"dgate", "dprobs", "dgate+dprobs"};
    char name[96], label[160];
    snprintf(name, sizeof name, "router N=%d E=%d K=%d norm_topk=%d %s", N, E, K, norm_topk,
             mode_names[mode]);
    size_t n_e = (size_t)N * E, n_k = (size_t)N * K;
    RouterCase c = {N, E, K, norm_topk, mode != 0, new_floats(n_e), new_floats(n_e),
                    new_floats(n_k), random_floats(n_k, 1.0), random_floats(n_e, 1.0),
                    new_ints(n_k), NULL, false};
    if (mode == 1)
        fill(c.Rg, n_k, 0.0f);
    /* logits scaled by 3 and at least 0.3 apart within a row, so that no
     * finite-difference step (about 1% of a logit) reorders the top k */
    for (int n = 0; n < N; n++) {
        float *z = c.logits + (size_t)n * E;
        bool separated;
        do {
            gradcheck_fill_normal(&rng, z, E, 3.0);
            separated = true;
            for (int a = 0; a < E; a++)
                for (int b = 0; b < a; b++)
                    separated &= fabsf(z[a] - z[b]) >= 0.3f;
        } while (!separated);
    }

    router_forward(c.probs, c.index, c.gate, c.logits, N, E, K, norm_topk);
    if (mode == 0)
        check_router_forward(name, c.logits, c.probs, c.index, c.gate, N, E, K, norm_topk);
    int *fixed = new_ints(n_k);
    memcpy(fixed, c.index, n_k * sizeof(int));
    c.fixed_index = fixed;

    float *dlogits = new_floats(n_e);
    fill(dlogits, n_e, 7.0f); /* written, not accumulated */
    router_backward(dlogits, c.Rg, c.use_dprobs ? c.Rp : NULL, c.probs, c.index, N, E, K,
                    norm_topk);
    snprintf(label, sizeof label, "%s dlogits", name);
    gradcheck(label, router_loss, &c, c.logits, n_e, dlogits, NULL);
    tap_ok(!c.selection_changed, "%s: the top-k selection stayed fixed during the check", name);

    if (mode == 0) {
        float *again = new_floats(n_e);
        router_forward(c.probs, c.index, c.gate, c.logits, N, E, K, norm_topk);
        router_backward(again, c.Rg, NULL, c.probs, c.index, N, E, K, norm_topk);
        snprintf(label, sizeof label, "%s dlogits", name);
        if (!(K == 1 && norm_topk)) /* there the gate is 1 and its gradient 0 */
            check_same(label, again, dlogits, n_e, "is written, not accumulated");
    }
    free_all();
}

/* Ties go to the lower index, probs may alias logits, and large logits stay
 * finite. */
static void test_router_edges(void)
{
    enum { E = 5, K = 3, ROWS = 3 };
    const float tied[2 * E] = {0.5f, 2.0f, 2.0f, -1.0f, 2.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f};
    float probs[ROWS * E], gate[ROWS * K];
    int index[ROWS * K];
    router_forward(probs, index, gate, tied, 2, E, K, true);
    tap_ok(index[0] == 1 && index[1] == 2 && index[2] == 4 && index[3] == 0 && index[4] == 1
           && index[5] == 2, "router breaks ties by the lower index");
    tap_ok(fabsf(gate[3] - 1.0f / 3) <= 1e-6f && fabsf(gate[5] - 1.0f / 3) <= 1e-6f,
           "router: equal logits give equal renormalised gates");

    float logits[ROWS * E], aliased[ROWS * E], separate[ROWS * E], gate2[ROWS * K];
    int index2[ROWS * K];
    gradcheck_fill_normal(&rng, logits, ROWS * E, 2.0);
    memcpy(aliased, logits, sizeof logits);
    router_forward(separate, index, gate, logits, ROWS, E, K, false);
    router_forward(aliased, index2, gate2, aliased, ROWS, E, K, false);
    tap_ok(memcmp(aliased, separate, sizeof separate) == 0
           && memcmp(index, index2, ROWS * K * sizeof(int)) == 0
           && memcmp(gate, gate2, ROWS * K * sizeof(float)) == 0,
           "router: probs aliasing logits gives the same result");

    for (int i = 0; i < ROWS * E; i++)
        aliased[i] = logits[i] + 1000.0f;
    router_forward(probs, index2, gate2, aliased, ROWS, E, K, false);
    double worst = 0.0;
    for (int i = 0; i < ROWS * E; i++)
        worst = fmax(worst, fabs((double)probs[i] - separate[i]));
    /* the shift itself rounds the logits by up to 3e-5 */
    tap_ok(worst <= 1e-4 && memcmp(index, index2, ROWS * K * sizeof(int)) == 0,
           "router: logits near 1000 give finite, shift-invariant probabilities");
}

/* ---- cross entropy --------------------------------------------------------- */

typedef struct {
    int N, V;
    const int *targets;
    float *logits, *token_nll, *logsumexp, *R;
} CrossEntropyCase;

static double cross_entropy_loss(void *p)
{
    CrossEntropyCase *c = p;
    cross_entropy_forward(c->token_nll, c->logsumexp, c->logits, c->targets, c->N, c->V);
    return gradcheck_dot(c->token_nll, c->R, (size_t)c->N);
}

static void test_cross_entropy(float offset)
{
    static const int targets[] = {3, -1, 0, 8, -1, 5, 2};
    int N = (int)(sizeof targets / sizeof targets[0]), V = 9;
    char name[96], label[160];
    snprintf(name, sizeof name, "cross_entropy N=%d V=%d offset=%g", N, V, (double)offset);
    size_t n_z = (size_t)N * V;
    CrossEntropyCase c = {N, V, targets, random_floats(n_z, 2.0), new_floats(N), new_floats(N),
                          random_floats(N, 1.0)};
    for (size_t i = 0; i < n_z; i++)
        c.logits[i] += offset;

    fill(c.token_nll, N, NAN); /* ignored rows must be written as 0 */
    cross_entropy_forward(c.token_nll, c.logsumexp, c.logits, targets, N, V);
    double *want = new_doubles(N), *want_lse = new_doubles(N);
    for (int n = 0; n < N; n++) {
        const float *z = c.logits + (size_t)n * V;
        double max_z = -INFINITY, sum = 0.0;
        for (int v = 0; v < V; v++)
            max_z = fmax(max_z, z[v]);
        for (int v = 0; v < V; v++)
            sum += exp((double)z[v] - max_z);
        want_lse[n] = max_z + log(sum);
        want[n] = targets[n] >= 0 ? want_lse[n] - z[targets[n]] : 0.0;
    }
    /* the nll is a difference of values near the offset: its absolute error
     * scales with the offset's ulp */
    double tol = offset != 0.0f ? 1e-4 : 1e-6;
    check_reference(name, c.token_nll, want, N, tol);
    snprintf(label, sizeof label, "%s logsumexp", name);
    check_reference(label, c.logsumexp, want_lse, N, 1e-6);
    tap_ok(c.token_nll[1] == 0.0f && c.token_nll[4] == 0.0f,
           "%s: ignored targets give exactly zero loss", name);
    if (offset != 0.0f) {
        free_all();
        return;
    }

    float *dlogits = new_floats(n_z);
    fill(dlogits, n_z, 7.0f); /* written, not accumulated */
    cross_entropy_backward(dlogits, c.R, c.logits, c.logsumexp, targets, N, V);
    snprintf(label, sizeof label, "%s dlogits", name);
    gradcheck(label, cross_entropy_loss, &c, c.logits, n_z, dlogits, NULL);
    tap_ok(!any_nonzero(dlogits + 1 * V, V) && !any_nonzero(dlogits + 4 * V, V),
           "%s: rows with target -1 get exactly zero gradient", name);

    cross_entropy_forward(c.token_nll, c.logsumexp, c.logits, targets, N, V);
    float *again = new_floats(n_z);
    cross_entropy_backward(again, c.R, c.logits, c.logsumexp, targets, N, V);
    check_same(label, again, dlogits, n_z, "is written, not accumulated");
    free_all();
}

int main(void)
{
    rng_seed(&rng, 20240611);

    test_gradcheck_helper();

    test_matmul(5, 7, 3, true);
    test_matmul(5, 7, 3, false);
    test_matmul(2 * 3, 4, 9, true);

    test_embedding();

    test_rmsnorm(5, 7, 1.5);
    test_rmsnorm(2 * 3, 16, 1.5);
    test_rmsnorm(3, 5, 1e-3);

    test_rope(2, 5, 3, 6, 10000.0f);
    test_rope(2, 4, 2, 8, 100.0f);

    test_attention(2, 5, 4, 2, 3); /* GQA: two query heads per kv head */
    test_attention(2, 5, 2, 2, 4); /* H = KV */
    test_attention(2, 3, 3, 1, 5); /* one kv head for all */

    test_swiglu(5, 7);
    test_swiglu(2 * 3, 4);

    for (int norm = 0; norm < 2; norm++)
        for (int mode = 0; mode < 3; mode++) {
            test_router(6, 7, 3, norm, mode);
            test_router(5, 5, 1, norm, mode);
            test_router(4, 4, 4, norm, mode);
        }
    test_router_edges();

    test_cross_entropy(0.0f);
    test_cross_entropy(1000.0f);

    return tap_done();
}
