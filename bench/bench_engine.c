/* The engine benchmark: forward and forward+backward speed of a stated
 * reference model, in tokens per second and GFLOP/s.
 *
 *   bench/bench_engine [--iters N] [--quick]
 *
 * The reference model is Qwen2-MoE (Qwen1.5-MoE) shaped: 8 layers, all MoE,
 * hidden 512, 8 heads of 64 (no grouping), q/k/v bias, 32 routed experts of
 * width 256 with top-4 routing and no renormalisation, one shared expert of
 * width 256 behind a sigmoid gate, vocabulary 8192, separate LM head, on a
 * batch of 8 x 256 random tokens. Weights are Normal(0, 0.02), seeded.
 * bench_torch.py builds the same model in PyTorch and prints the same lines,
 * which scripts/bench-compare matches row by row.
 *
 * Rows:
 *   forward     the forward pass with the loss, no gradients
 *   train_full  forward + backward with every parameter trainable
 *   train_uoe   forward + backward with the UOE trainable set: the router and
 *               one expert of the second-to-last layer (layer 6 of 8), the
 *               expert the batch selects most often there
 * Each row runs one warm-up step, then --iters timed steps (default 5), and
 * reports the median. --quick swaps in a tiny model, as a smoke test. */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "error.h"
#include "model.h"
#include "rng.h"

enum { DEFAULT_ITERS = 5, SGEMM_SIZE = 1024, SGEMM_REPEATS = 5 };

static const uint64_t WEIGHT_SEED = 1234;
static const uint64_t TOKEN_SEED = 5678;
static const float WEIGHT_STD = 0.02f;

typedef struct {
    const char *name;
    ModelConfig model;
    int batch, seq;
} BenchConfig;

/* The Qwen2-MoE options shared by both sizes; all layers MoE. */
static ModelConfig qwen2_moe_config(int layers, int hidden, int heads, int head_dim, int experts,
                                    int top_k, int expert_width, int shared_width, int vocab)
{
    ModelConfig c = {0};
    c.family = FAMILY_QWEN2_MOE;
    c.vocab_size = vocab;
    c.hidden_size = hidden;
    c.num_layers = layers;
    c.num_heads = heads;
    c.num_kv_heads = heads;
    c.head_dim = head_dim;
    c.num_experts = experts;
    c.experts_per_token = top_k;
    c.expert_intermediate = expert_width;
    c.dense_intermediate = expert_width; /* no dense layers: unused */
    c.shared_intermediate = shared_width;
    c.shared_expert_gate = true;
    c.norm_topk_prob = false;
    c.attention_bias = true;
    c.qk_norm = QK_NORM_NONE;
    c.tie_word_embeddings = false;
    c.rms_norm_eps = 1e-6f;
    c.rope_theta = 1e6f;
    c.max_position_embeddings = 4096;
    for (int l = 0; l < layers; l++)
        c.layer_is_moe[l] = true;
    return c;
}

static BenchConfig reference_config(void)
{
    return (BenchConfig){"reference", qwen2_moe_config(8, 512, 8, 64, 32, 4, 256, 256, 8192), 8, 256};
}

static BenchConfig quick_config(void)
{
    return (BenchConfig){"quick", qwen2_moe_config(4, 64, 4, 16, 8, 2, 32, 32, 512), 2, 32};
}

/* ---- FLOP counts ----
 *
 * Counted analytically from the shapes, a multiply-add being 2 FLOPs, with
 * the legend of model.h (T is the sequence length). Per token and layer, the
 * forward pass does:
 *   attention projections  2*C*(H*D + 2*KV*D) + 2*H*D*C   q, k, v, then o
 *   attention core         4*H*D*(T+1)/2                  q.k and p.v; causal, so a
 *                                                         query sees (T+1)/2 keys on average
 *   router                 2*C*E
 *   routed experts         K*3*2*C*I                      gate, up and down of K experts
 *   shared expert          3*2*S*C + 2*C                  its MLP and its sigmoid gate
 * plus, once per token, the LM head 2*C*V. Norms, softmaxes, SwiGLU and the
 * residual adds are O(C) per token and left out. bench_torch.py uses the
 * same formulas. */

static double attention_core_flops(const ModelConfig *c, int T)
{
    return 4.0 * c->num_heads * c->head_dim * (T + 1) / 2.0;
}

static double layer_forward_flops(const ModelConfig *c, int T)
{
    double C = c->hidden_size, HD = (double)c->num_heads * c->head_dim;
    double KVD = (double)c->num_kv_heads * c->head_dim;
    double projections = 2.0 * C * (HD + 2.0 * KVD) + 2.0 * HD * C;
    double router = 2.0 * C * c->num_experts;
    double routed = c->experts_per_token * 3.0 * 2.0 * C * c->expert_intermediate;
    double shared = 3.0 * 2.0 * C * c->shared_intermediate + 2.0 * C;
    return projections + attention_core_flops(c, T) + router + routed + shared;
}

static double forward_flops_per_token(const ModelConfig *c, int T)
{
    return c->num_layers * layer_forward_flops(c, T) + 2.0 * c->hidden_size * c->vocab_size;
}

/* Full training step: forward + backward = 3 x forward, the usual convention
 * (the backward of each matmul is two matmuls of the forward's size: the
 * input gradient and the weight gradient). */
static double full_step_flops_per_token(const ModelConfig *c, int T)
{
    return 3.0 * forward_flops_per_token(c, T);
}

/* UOE training step (router and one expert of layer u trainable): the full
 * forward, plus the backward work this trainable set needs, which is what
 * the engine executes:
 *   LM head                input gradient only                      2*C*V per token
 *   layers above u         input gradients of every matmul (the      layer forward +
 *                          same FLOPs as its forward); attention     attention core
 *                          backward is twice its forward             per token
 *   layer u router         weight gradient                          2*C*E per token
 *   layer u gates          one C-long dot per routed slot           2*C*K per token
 *   layer u trained expert for each of its rows: down weight
 *                          gradient, hidden gradient, gate/up
 *                          weight gradient                          4*2*C*I per row
 * No input gradient is needed below layer u's FFN, nor through its experts. */
static double uoe_step_flops(const ModelConfig *c, int T, int tokens, int layer, double expert_rows)
{
    double C = c->hidden_size;
    double per_token = forward_flops_per_token(c, T) + 2.0 * C * c->vocab_size;
    for (int l = layer + 1; l < c->num_layers; l++)
        per_token += layer_forward_flops(c, T) + attention_core_flops(c, T);
    per_token += 2.0 * C * c->num_experts + 2.0 * C * c->experts_per_token;
    return tokens * per_token + expert_rows * 4.0 * 2.0 * C * c->expert_intermediate;
}

/* ---- timing ---- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *values, int count)
{
    qsort(values, (size_t)count, sizeof *values, compare_doubles);
    return count % 2 ? values[count / 2] : 0.5 * (values[count / 2 - 1] + values[count / 2]);
}

/* Best of a few 1024^3 products: what OpenBLAS reaches on this machine, the
 * ceiling against which the rows' GFLOP/s can be read. */
static double sgemm_gflops(void)
{
    size_t n = SGEMM_SIZE, count = n * n;
    float *a = xmalloc(count * sizeof(float));
    float *b = xmalloc(count * sizeof(float));
    float *c = xmalloc(count * sizeof(float));
    Rng rng;
    rng_seed(&rng, WEIGHT_SEED);
    for (size_t i = 0; i < count; i++) {
        a[i] = (float)rng_uniform(&rng) - 0.5f;
        b[i] = (float)rng_uniform(&rng) - 0.5f;
    }
    double best = INFINITY;
    for (int r = 0; r <= SGEMM_REPEATS; r++) { /* r == 0 warms up */
        double start = now_seconds();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1.0f, a,
                    (int)n, b, (int)n, 0.0f, c, (int)n);
        double elapsed = now_seconds() - start;
        if (r > 0 && elapsed < best)
            best = elapsed;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * (double)n * n * n / best * 1e-9;
}

/* ---- the benchmark ---- */

typedef struct {
    Model model;
    int batch, seq;
    int *ids;           /* (B, T) */
    int *targets;       /* (B, T) next token; -1 at the end of each sequence */
    float *d_token_nll; /* (B*T) mean-NLL weights */
} Bench;

static void forward_step(Bench *b)
{
    model_forward(&b->model, b->ids, b->targets, b->batch, b->seq);
}

static void train_step(Bench *b)
{
    Model *m = &b->model;
    model_zero_grad(m);
    model_forward(m, b->ids, b->targets, b->batch, b->seq);
    model_mean_nll_weights(m, b->d_token_nll);
    LossGradient loss = {.d_token_nll = b->d_token_nll, .router_layer = -1};
    model_backward(m, &loss);
}

/* Median seconds of `iters` steps after one warm-up step. */
static double time_steps(Bench *b, void (*step)(Bench *), int iters)
{
    double *seconds = xmalloc((size_t)iters * sizeof(double));
    step(b);
    for (int i = 0; i < iters; i++) {
        double start = now_seconds();
        step(b);
        seconds[i] = now_seconds() - start;
    }
    double result = median(seconds, iters);
    free(seconds);
    return result;
}

typedef struct {
    const char *name;   /* as in the `row` lines */
    const char *label;  /* as in the table */
    double seconds;
    double flops;
    size_t trainable;
} Row;

static void run_row(Bench *b, Row *row, void (*step)(Bench *), int iters)
{
    row->seconds = time_steps(b, step, iters);
    row->trainable = model_trainable_count(&b->model);
    int tokens = b->batch * b->seq;
    printf("row %s tokens_per_s=%.1f gflops=%.2f seconds=%.4f trainable=%zu\n", row->name,
           tokens / row->seconds, row->flops / row->seconds * 1e-9, row->seconds, row->trainable);
    fflush(stdout);
}

static void make_all_trainable(Model *m)
{
    model_clear_trainable(m);
    for (int i = 0; i < m->num_params; i++)
        CHECK(model_set_trainable(m, m->params[i].name, -1) == 0);
    model_commit_trainable(m);
}

static void make_uoe_trainable(Model *m, int layer, int expert)
{
    char name[64];
    model_clear_trainable(m);
    snprintf(name, sizeof name, "layers.%d.router", layer);
    CHECK(model_set_trainable(m, name, -1) == 0);
    snprintf(name, sizeof name, "layers.%d.expert_gate_up", layer);
    CHECK(model_set_trainable(m, name, expert) == 0);
    snprintf(name, sizeof name, "layers.%d.expert_down", layer);
    CHECK(model_set_trainable(m, name, expert) == 0);
    model_commit_trainable(m);
}

/* The expert that layer `layer` selects most often on the batch (the lower
 * index on ties), from the routing taps of one forward pass; that forward's
 * loss goes to *loss. */
static int most_selected_expert(Bench *b, int layer, double *rows, float *loss)
{
    Model *m = &b->model;
    int E = m->config.num_experts;
    routing_taps_reset(&m->taps);
    m->taps.enabled = true;
    *loss = model_forward(m, b->ids, b->targets, b->batch, b->seq);
    m->taps.enabled = false;
    const double *selected = m->taps.selected + (size_t)layer * E;
    int best = 0;
    for (int e = 1; e < E; e++)
        if (selected[e] > selected[best])
            best = e;
    *rows = selected[best];
    return best;
}

static void bench_init(Bench *b, const BenchConfig *config)
{
    b->batch = config->batch;
    b->seq = config->seq;
    model_create(&b->model, &config->model);
    model_init_random(&b->model, WEIGHT_SEED, WEIGHT_STD);
    size_t tokens = (size_t)b->batch * b->seq;
    b->ids = xmalloc(tokens * sizeof(int));
    b->targets = xmalloc(tokens * sizeof(int));
    b->d_token_nll = xmalloc(tokens * sizeof(float));
    Rng rng;
    rng_seed(&rng, TOKEN_SEED);
    for (size_t n = 0; n < tokens; n++)
        b->ids[n] = (int)rng_below(&rng, (uint64_t)config->model.vocab_size);
    /* next-token targets, as transformers derives them from labels = ids */
    for (size_t n = 0; n < tokens; n++)
        b->targets[n] = (n + 1) % (size_t)b->seq ? b->ids[n + 1] : -1;
}

static void bench_free(Bench *b)
{
    model_free(&b->model);
    free(b->ids);
    free(b->targets);
    free(b->d_token_nll);
}

static void print_config(const BenchConfig *config)
{
    const ModelConfig *c = &config->model;
    printf("config name=%s family=%s layers=%d hidden=%d heads=%d kv_heads=%d head_dim=%d "
           "experts=%d top_k=%d expert_width=%d shared_width=%d vocab=%d batch=%d seq=%d\n",
           config->name, model_family_name(c->family), c->num_layers, c->hidden_size,
           c->num_heads, c->num_kv_heads, c->head_dim, c->num_experts, c->experts_per_token,
           c->expert_intermediate, c->shared_intermediate, c->vocab_size, config->batch,
           config->seq);
}

/* The one-minute load average, where Linux gives it: other processes on the
 * machine take cores from the engine's threads and skew every row. */
static void print_load(void)
{
    FILE *file = fopen("/proc/loadavg", "r");
    if (!file)
        return;
    double load;
    if (fscanf(file, "%lf", &load) == 1)
        printf("load avg1=%.2f\n", load);
    fclose(file);
}

static void print_table(const Row *rows, int count, int tokens)
{
    printf("\n%-24s %12s %10s %10s %12s\n", "step", "tokens/s", "GFLOP/s", "median s", "trainable");
    for (int i = 0; i < count; i++)
        printf("%-24s %12.1f %10.2f %10.4f %12zu\n", rows[i].label, tokens / rows[i].seconds,
               rows[i].flops / rows[i].seconds * 1e-9, rows[i].seconds, rows[i].trainable);
}

static const char usage_text[] =
    "Usage: bench_engine [--iters N] [--quick]\n"
    "Times forward and forward+backward of the reference model (see the top of\n"
    "bench/bench_engine.c) and prints tokens/s and GFLOP/s per step.\n"
    "  --iters N  timed steps per row after one warm-up step (default 5)\n"
    "  --quick    a tiny model instead of the reference one (smoke test)\n";

static int parse_args(int argc, char **argv, int *iters, bool *quick)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--iters") == 0) {
            const char *text = i + 1 < argc ? argv[++i] : "";
            char *end;
            errno = 0;
            long value = strtol(text, &end, 10);
            if (errno || end == text || *end || value < 1 || value > 100000) {
                fprintf(stderr, "bench_engine: --iters needs a positive count, not '%s'\n", text);
                return -1;
            }
            *iters = (int)value;
        } else if (strcmp(argv[i], "--quick") == 0) {
            *quick = true;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            fputs(usage_text, stdout);
            exit(0);
        } else {
            fprintf(stderr, "bench_engine: unknown argument '%s'\n%s", argv[i], usage_text);
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    int iters = DEFAULT_ITERS;
    bool quick = false;
    if (parse_args(argc, argv, &iters, &quick) < 0)
        return 2;
    BenchConfig config = quick ? quick_config() : reference_config();
    if (model_config_validate(&config.model) < 0) {
        fprintf(stderr, "bench_engine: %s\n", error_message());
        return 1;
    }
    const ModelConfig *c = &config.model;
    int tokens = config.batch * config.seq;
    int uoe_layer = c->num_layers - 2;

#ifdef _OPENMP
    int omp_threads = omp_get_max_threads();
#else
    int omp_threads = 1;
#endif
    printf("bench uoe-wb\n");
    print_config(&config);
    /* how idle OpenMP threads wait decides how much CPU they leave to OpenBLAS's own threads */
    const char *wait_policy = getenv("OMP_WAIT_POLICY");
    printf("threads omp=%d openblas=%d omp_wait_policy=%s\n", omp_threads,
           openblas_get_num_threads(), wait_policy ? wait_policy : "unset");
    print_load();
    printf("sgemm n=%d gflops=%.2f\n", SGEMM_SIZE, sgemm_gflops());
    fflush(stdout);

    Bench bench;
    bench_init(&bench, &config);
    printf("params total=%zu\n", model_param_count(&bench.model));
    double expert_rows;
    float loss;
    int expert = most_selected_expert(&bench, uoe_layer, &expert_rows, &loss);
    printf("loss first_step=%.4f (ln V = %.4f)\n", loss, log((double)c->vocab_size));
    printf("uoe layer=%d expert=%d rows=%.0f of %d\n", uoe_layer, expert, expert_rows,
           tokens * c->experts_per_token);
    fflush(stdout);

    Row rows[] = {
        {"forward", "forward", 0, tokens * forward_flops_per_token(c, config.seq), 0},
        {"train_full", "forward+backward full", 0, tokens * full_step_flops_per_token(c, config.seq), 0},
        {"train_uoe", "forward+backward UOE", 0,
         uoe_step_flops(c, config.seq, tokens, uoe_layer, expert_rows), 0},
    };
    model_clear_trainable(&bench.model);
    model_commit_trainable(&bench.model);
    run_row(&bench, &rows[0], forward_step, iters);
    make_all_trainable(&bench.model);
    run_row(&bench, &rows[1], train_step, iters);
    make_uoe_trainable(&bench.model, uoe_layer, expert);
    run_row(&bench, &rows[2], train_step, iters);

    print_table(rows, (int)(sizeof rows / sizeof rows[0]), tokens);
    printf("\nGFLOP/s count FLOPs from the shapes (formulas in bench/bench_engine.c):\n"
           "forward+backward full counts 3 x forward; forward+backward UOE counts the work the\n"
           "UOE set needs and the engine executes: LM head and layers above %d input gradients,\n"
           "layer %d router weight gradient and gates, expert %d's weight gradients on its rows.\n"
           "Median of %d steps after 1 warm-up.\n",
           uoe_layer, uoe_layer, expert, iters);
    bench_free(&bench);
    return 0;
}
