/* Parity with Hugging Face transformers: each fixture under fixtures/hf was
 * written by scripts/make-goldens from a tiny random model of one family,
 * with the logits, the routing, the loss and every parameter's gradient that
 * transformers computed. The engine must reproduce them.
 *
 * Tolerances: both sides compute in float32 with different summation orders
 * (OpenBLAS vs. PyTorch GEMMs); logits of magnitude ~3 agree to ~1e-6, so
 * 1e-4 absolute leaves room for other BLAS kernels while catching any real
 * error (a wrong rope angle or norm moves logits by >1e-2). Gradients are
 * compared relative to the largest gradient of the tensor (1e-4), since tiny
 * entries carry rounding noise of that absolute size. Top-k indices must be
 * identical: the fixtures keep the k-th and (k+1)-th probabilities >1e-3 apart. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "error.h"
#include "model.h"
#include "npy.h"
#include "tap.h"
#include "test_util.h"

static int load_npy(const char *fixture, const char *name, NpyArray *out)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/hf/%s/goldens/%s", test_data_dir(), fixture, name);
    if (npy_read(path, out) < 0) {
        tap_diag("%s", error_message());
        return -1;
    }
    return 0;
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double worst = 0.0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs((double)a[i] - b[i]));
    return worst;
}

static double max_abs(const float *a, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i]));
    return m;
}

static void check_routing(const Model *model, const char *fixture, const NpyArray *routing)
{
    const ModelConfig *c = &model->config;
    int N = model->acts.B * model->acts.T, K = c->experts_per_token;
    const int *expected = routing->data;
    int moe = 0, mismatches = 0;
    for (int l = 0; l < c->num_layers; l++) {
        if (!c->layer_is_moe[l])
            continue;
        for (int i = 0; i < N * K; i++)
            mismatches += model->acts.layer[l].topk_index[i] != expected[(size_t)moe * N * K + i];
        moe++;
    }
    tap_ok(routing->ndim == 4 && routing->shape[0] == moe && mismatches == 0,
           "%s: top-%d experts of %d MoE layers match transformers (%d mismatches)", fixture, K,
           moe, mismatches);
}

/* Compares every trainable gradient with the gradient transformers stored
 * under the same HF tensor names, read into a second model of the same shape. */
static void check_gradients(Model *model, const char *fixture)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/hf/%s/goldens/grads.safetensors", test_data_dir(), fixture);
    Model expected;
    model_create(&expected, &model->config);
    if (!tap_ok(checkpoint_load_weights(&expected, path, NULL) == 0, "%s: read golden gradients",
                fixture)) {
        tap_diag("%s", error_message());
        model_free(&expected);
        return;
    }
    int failing = 0;
    double worst = 0.0;
    const char *worst_name = "";
    for (int i = 0; i < model->num_params; i++) {
        const Param *p = &model->params[i];
        const float *golden = expected.params[i].value;
        double scale = fmax(max_abs(golden, p->numel), 1e-6);
        double relative = max_abs_diff(p->grad, golden, p->numel) / scale;
        if (relative > worst) {
            worst = relative;
            worst_name = p->name;
        }
        if (relative > 1e-4) {
            failing++;
            tap_diag("%s: %s gradient differs by %.3g of its scale %.3g", fixture, p->name,
                     relative, scale);
        }
    }
    tap_ok(failing == 0, "%s: gradients of all %d tensors match transformers (worst %.2g relative, %s)",
           fixture, model->num_params, worst, worst_name);
    model_free(&expected);
}

static void check_fixture(const char *fixture, bool has_gradients)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/fixtures/hf/%s", test_data_dir(), fixture);
    Model model;
    if (!tap_ok(checkpoint_load(&model, dir, NULL) == 0, "%s: load checkpoint", fixture)) {
        tap_diag("%s", error_message());
        return;
    }
    NpyArray ids = {0}, logits = {0}, routing = {0}, loss = {0};
    if (load_npy(fixture, "ids.npy", &ids) < 0 || load_npy(fixture, "logits.npy", &logits) < 0 ||
        load_npy(fixture, "routing.npy", &routing) < 0 ||
        (has_gradients && load_npy(fixture, "loss.npy", &loss) < 0)) {
        tap_ok(0, "%s: read goldens", fixture);
        goto done;
    }
    int B = (int)ids.shape[0], T = (int)ids.shape[1], N = B * T;
    const int *tokens = ids.data;
    int *targets = malloc((size_t)N * sizeof(int));
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++)
            targets[b * T + t] = t + 1 < T ? tokens[b * T + t + 1] : -1;

    for (int i = 0; i < model.num_params; i++)
        model.params[i].trainable = true;
    model_commit_trainable(&model);
    float mean_nll = model_forward(&model, tokens, targets, B, T);

    double logit_error = max_abs_diff(model.acts.logits, logits.data, (size_t)logits.numel);
    tap_ok(logits.numel == (int64_t)N * model.config.vocab_size && logit_error < 1e-4,
           "%s: logits match transformers (max abs error %.2g)", fixture, logit_error);
    check_routing(&model, fixture, &routing);
    if (has_gradients) {
        float golden_loss = ((const float *)loss.data)[0];
        tap_ok(fabsf(mean_nll - golden_loss) < 1e-5f, "%s: mean NLL %.6f matches transformers' %.6f",
               fixture, mean_nll, golden_loss);
        float *weights = malloc((size_t)N * sizeof(float));
        model_mean_nll_weights(&model, weights);
        LossGradient gradient = {.d_token_nll = weights, .router_layer = -1};
        model_zero_grad(&model);
        model_backward(&model, &gradient);
        check_gradients(&model, fixture);
        free(weights);
    }
    free(targets);
done:
    npy_free(&ids);
    npy_free(&logits);
    npy_free(&routing);
    npy_free(&loss);
    model_free(&model);
}

int main(void)
{
    check_fixture("mixtral", true);
    check_fixture("mixtral_fused", false);
    check_fixture("mixtral_per_expert", false);
    check_fixture("qwen2_moe", true);
    check_fixture("olmoe", true);
    check_fixture("qwen3_moe", true);
    return tap_done();
}
