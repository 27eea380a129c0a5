/* The unlearning loss terms on a tiny random MoE: each term's value against
 * a direct computation from the forward's outputs, and each term's gradient,
 * through model_backward, against finite differences of the term itself.
 * The batch holds rows of different lengths, so padding is exercised. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gradcheck.h"
#include "unlearn_loss.h"

enum { ROWS = 3, MAX_LEN = 6, TARGET_LAYER = 1, TARGET_EXPERT = 2 };

typedef enum { TERM_GA, TERM_NPO, TERM_SIMNPO, TERM_ANCHOR_PAPER, TERM_ANCHOR_CODE,
               TERM_RMU_FORGET, TERM_RMU_RETAIN, TERM_COUNT } Term;

static const char *term_names[TERM_COUNT] = {
    "GA (token mean NLL, weight -1)", "NPO (beta 0.7)", "SimNPO (beta 0.5, delta 0.5)",
    "router anchor, paper scale", "router anchor, code scale",
    "RMU forget (mse to c*u)", "RMU retain (mse to a reference stream)",
};

typedef struct {
    Model *model;
    SequenceBatch batch;
    Term term;
    double ref_seq_nll[ROWS];
    float control[16];             /* (C) */
    float *reference_stream;       /* (N, C) */
    float *d_token_nll, *d_router_probs, *d_hidden;
} Problem;

static ModelConfig tiny_config(void)
{
    ModelConfig c = {0};
    c.family = FAMILY_QWEN2_MOE;
    c.vocab_size = 11;
    c.hidden_size = 8;
    c.num_layers = 2;
    c.num_heads = 2;
    c.num_kv_heads = 2;
    c.head_dim = 4;
    c.num_experts = 4;
    c.experts_per_token = 2;
    c.expert_intermediate = 5;
    c.shared_intermediate = 6;
    c.shared_expert_gate = true;
    c.rms_norm_eps = 1e-6f;
    c.rope_theta = 100.0f;
    c.max_position_embeddings = 32;
    c.layer_is_moe[0] = c.layer_is_moe[1] = true;
    return c;
}

/* The term's value after a fresh forward; gradients into the problem's buffers. */
static double term_value(Problem *p)
{
    Model *m = p->model;
    const SequenceBatch *b = &p->batch;
    model_forward(m, b->ids, b->targets, b->B, b->T);
    switch (p->term) {
    case TERM_GA: return nll_term(m, -1.0f, p->d_token_nll);
    case TERM_NPO: return npo_term(m, b, p->ref_seq_nll, 0.7f, p->d_token_nll);
    case TERM_SIMNPO: return simnpo_term(m, b, 0.5f, 0.5f, p->d_token_nll);
    case TERM_ANCHOR_PAPER:
        return router_anchor_term(m, b, TARGET_LAYER, TARGET_EXPERT, ANCHOR_SCALE_PAPER, 3.0f,
                                  p->d_router_probs);
    case TERM_ANCHOR_CODE:
        return router_anchor_term(m, b, TARGET_LAYER, TARGET_EXPERT, ANCHOR_SCALE_CODE, 3.0f,
                                  p->d_router_probs);
    case TERM_RMU_FORGET:
        return activation_mse_term(m, b, 0, p->control, 0, 1.0f, p->d_hidden);
    case TERM_RMU_RETAIN:
        return activation_mse_term(m, b, 0, p->reference_stream, 1, 40.0f, p->d_hidden);
    default: return 0.0;
    }
}

static double problem_loss(void *ctx) { return term_value(ctx); }

static void analytic_gradients(Problem *p)
{
    model_zero_grad(p->model);
    term_value(p);
    bool nll = p->term <= TERM_SIMNPO;
    bool anchor = p->term == TERM_ANCHOR_PAPER || p->term == TERM_ANCHOR_CODE;
    LossGradient g = {
        .d_token_nll = nll ? p->d_token_nll : NULL,
        .router_layer = anchor ? TARGET_LAYER : -1,
        .d_router_probs = anchor ? p->d_router_probs : NULL,
        .hidden_layer = 0,
        .d_hidden = !nll && !anchor ? p->d_hidden : NULL,
    };
    model_backward(p->model, &g);
}

/* The sum over real tokens of the per-token NLL, and the target count, of row b. */
static double row_nll(const Problem *p, int b, int *targets)
{
    double total = 0.0;
    *targets = 0;
    for (int t = 0; t < p->batch.T; t++) {
        int n = b * p->batch.T + t;
        if (p->batch.targets[n] >= 0) {
            total += p->model->acts.token_nll[n];
            (*targets)++;
        }
    }
    return total;
}

static void check_values(Problem *p)
{
    Model *m = p->model;
    const SequenceBatch *b = &p->batch;
    double mean_nll = model_forward(m, b->ids, b->targets, b->B, b->T);
    p->term = TERM_GA;
    tap_ok(fabs(term_value(p) + mean_nll) < 1e-6, "GA is minus the forward's mean NLL");

    /* NPO against a reference equal to the model: log ratio 0, loss (2/β) log 2 */
    sequence_nll(m, b, p->ref_seq_nll);
    double npo = npo_term(m, b, p->ref_seq_nll, 0.7f, p->d_token_nll);
    tap_ok(fabs(npo - 2.0 / 0.7 * log(2.0)) < 1e-6,
           "NPO with the reference equal to the model is (2/beta) log 2 (%.6f)", npo);

    double expected = 0.0;
    for (int r = 0; r < ROWS; r++) {
        int targets;
        double nll = row_nll(p, r, &targets);
        expected += -2.0 / 0.5 * log(1.0 / (1.0 + exp(-(0.5 * nll / targets - 0.5)))) / ROWS;
    }
    p->term = TERM_SIMNPO;
    double simnpo = term_value(p);
    tap_ok(fabs(simnpo - expected) < 1e-6, "SimNPO equals its formula over rows (%.6f, %.6f)",
           simnpo, expected);

    p->term = TERM_ANCHOR_PAPER;
    double paper = term_value(p);
    p->term = TERM_ANCHOR_CODE;
    double code = term_value(p);
    tap_ok(fabs(paper / m->config.num_experts - code) < 1e-9 && paper > 0,
           "the code-scale anchor is the paper-scale anchor / E (%.6f, %.6f)", paper, code);

    const float *h = model_layer_output(m, 0);
    memcpy(p->reference_stream, h, (size_t)b->B * b->T * m->config.hidden_size * sizeof(float));
    p->term = TERM_RMU_RETAIN;
    tap_ok(term_value(p) == 0.0, "the RMU retain term is 0 when the stream equals the reference");

    bool padding_silent = true;
    p->term = TERM_SIMNPO;
    term_value(p);
    for (int n = 0; n < b->B * b->T; n++)
        if (!sequence_batch_is_real(b, n) && p->d_token_nll[n] != 0.0f)
            padding_silent = false;
    tap_ok(padding_silent, "padding positions get no gradient");

    float control[16];
    rmu_control_vector(control, m->config.hidden_size, 5.0f, 9);
    double norm = 0.0;
    for (int i = 0; i < m->config.hidden_size; i++)
        norm += (double)control[i] * control[i];
    rmu_control_vector(p->control, m->config.hidden_size, 5.0f, 9);
    tap_ok(fabs(sqrt(norm) - 5.0) < 1e-5 && memcmp(control, p->control, sizeof control) == 0,
           "the RMU control vector has norm c and is the same for the same seed");
}

/* Padding must not change a row: each row's summed NLL in the padded batch
 * equals a forward of that row alone. */
static void check_rows_independent(Problem *p)
{
    Model *m = p->model;
    const SequenceBatch *b = &p->batch;
    double batched[ROWS];
    model_forward(m, b->ids, b->targets, b->B, b->T);
    sequence_nll(m, b, batched);
    double worst = 0.0;
    for (int r = 0; r < ROWS; r++) {
        int length = b->lengths[r];
        model_forward(m, b->ids + r * b->T, b->targets + r * b->T, 1, length);
        double alone = 0.0;
        for (int t = 0; t < length; t++)
            if (b->targets[r * b->T + t] >= 0)
                alone += m->acts.token_nll[t];
        worst = fmax(worst, fabs(alone - batched[r]));
    }
    tap_ok(worst < 1e-4, "each row's NLL in the padded batch equals its own forward (max diff %.2g)",
           worst);
}

static void check_gradients(Problem *p)
{
    Model *m = p->model;
    /* a reference stream that differs from the model's, for the RMU retain term */
    const SequenceBatch *b = &p->batch;
    model_forward(m, b->ids, b->targets, b->B, b->T);
    const float *h = model_layer_output(m, 0);
    for (int i = 0; i < b->B * b->T * m->config.hidden_size; i++)
        p->reference_stream[i] = h[i] + 0.3f * sinf((float)i);
    sequence_nll(m, b, p->ref_seq_nll);
    for (int r = 0; r < ROWS; r++)
        p->ref_seq_nll[r] += 1.5 * (r - 1);

    const char *tensors[] = {"layers.1.router", "layers.1.expert_down", "layers.0.wo",
                             "layers.0.expert_gate_up", "lm_head"};
    for (Term t = 0; t < TERM_COUNT; t++) {
        p->term = t;
        analytic_gradients(p);
        for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; i++) {
            Param *param = model_find_param(m, tensors[i]);
            GradCheckConfig cfg = gradcheck_default_config();
            cfg.eps = 1e-3;
            cfg.max_coords = 24;
            GradCheckResult r;
            gradcheck_run(problem_loss, p, param->value, param->numel, param->grad, &cfg, &r);
            tap_ok(r.passed, "%s: d/d %s matches finite differences (%zu coordinates)",
                   term_names[t], tensors[i], r.checked);
            if (!r.passed)
                tap_diag("  worst [%zu] analytic %.7g numeric %.7g; ||a-n||/||n|| %.3g",
                         r.worst_index, r.worst_analytic, r.worst_numeric, r.rel_error);
        }
    }
}

int main(void)
{
    ModelConfig config = tiny_config();
    Model model;
    model_create(&model, &config);
    model_init_random(&model, 5, 0.4f);
    for (int i = 0; i < model.num_params; i++)
        model.params[i].trainable = true;
    model_commit_trainable(&model);

    /* three documents of different lengths: rows padded to the longest */
    int doc0[] = {1, 4, 2, 7, 3, 9}, doc1[] = {5, 5, 8}, doc2[] = {10, 2, 6, 1};
    Document docs[ROWS] = {{doc0, 6}, {doc1, 3}, {doc2, 4}};
    int order[ROWS] = {0, 1, 2};
    Problem p = {.model = &model};
    sequence_batch_fill(&p.batch, docs, order, ROWS, MAX_LEN);
    tap_ok(p.batch.T == 6 && p.batch.lengths[1] == 3 && p.batch.targets[1 * 6 + 2] == -1 &&
               p.batch.targets[1 * 6 + 1] == 8 && p.batch.ids[1 * 6 + 4] == 0,
           "a batch of 3 documents is right padded to the longest, with targets ending at each row");
    int N = p.batch.B * p.batch.T, C = config.hidden_size;
    p.d_token_nll = calloc((size_t)N, sizeof(float));
    p.d_router_probs = calloc((size_t)N * config.num_experts, sizeof(float));
    p.d_hidden = calloc((size_t)N * C, sizeof(float));
    p.reference_stream = calloc((size_t)N * C, sizeof(float));

    check_rows_independent(&p);
    check_values(&p);
    check_gradients(&p);

    sequence_batch_free(&p.batch);
    free(p.d_token_nll);
    free(p.d_router_probs);
    free(p.d_hidden);
    free(p.reference_stream);
    model_free(&model);
    return tap_done();
}
