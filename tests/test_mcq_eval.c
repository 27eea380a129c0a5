/* Multiple-choice scoring against tests/fixtures/mcq/expected.json, which
 * scripts/make-mcq-goldens computes with transformers and tokenizers the way
 * lm-evaluation-harness scores: every choice's log-likelihood (1e-4), every
 * prediction and acc/acc_norm exactly; batching and padding change nothing;
 * errors for sequences past the context and tokens past the vocabulary. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "dataset.h"
#include "error.h"
#include "json_util.h"
#include "mcq_eval.h"
#include "model.h"
#include "tap.h"
#include "test_util.h"
#include "tokenizer.h"

#define LOGLIK_TOLERANCE 1e-4

typedef struct {
    Model model;
    Tokenizer *tokenizer;
    McqSet set;
    json_t *expected;
    int total_choices;
} Fixture;

static int load_fixture(Fixture *f)
{
    char path[PATH_MAX];
    const char *data = test_data_dir();
    *f = (Fixture){0};
    snprintf(path, sizeof path, "%s/fixtures/mcq/model", data);
    if (checkpoint_load(&f->model, path, NULL) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/fixtures/mcq/model/tokenizer.json", data);
    if (tokenizer_load(&f->tokenizer, path) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/fixtures/mcq/tiny.jsonl", data);
    if (mcq_set_load(&f->set, path) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/fixtures/mcq/expected.json", data);
    if (!(f->expected = json_load_object(path)))
        return -1;
    for (int i = 0; i < f->set.count; i++)
        f->total_choices += f->set.items[i].num_choices;
    return 0;
}

static void free_fixture(Fixture *f)
{
    model_free(&f->model);
    if (f->tokenizer)
        tokenizer_free(f->tokenizer);
    mcq_set_free(&f->set);
    json_decref(f->expected);
}

static const json_t *expected_item(const Fixture *f, int i)
{
    return json_array_get(json_object_get(f->expected, "items"), (size_t)i);
}

static const json_t *expected_choice(const Fixture *f, int i, int c)
{
    return json_array_get(json_object_get(expected_item(f, i), "choices"), (size_t)c);
}

static int expected_int(const json_t *object, const char *key)
{
    return (int)json_integer_value(json_object_get(object, key));
}

static bool ids_equal(const int *ids, int count, const json_t *expected)
{
    if ((size_t)count != json_array_size(expected))
        return false;
    for (int i = 0; i < count; i++)
        if (ids[i] != json_integer_value(json_array_get(expected, (size_t)i)))
            return false;
    return true;
}

static bool encodes_as(const Tokenizer *tokenizer, const char *text, const json_t *expected)
{
    int *ids, count;
    if (tokenizer_encode(tokenizer, text, strlen(text), &ids, &count) < 0)
        return false;
    bool equal = ids_equal(ids, count, expected);
    free(ids);
    return equal;
}

/* The tokenizer itself is another file's concern; checking its output here
 * tells a tokenization mismatch apart from a scoring one. */
static void check_tokens(const Fixture *f)
{
    for (int i = 0; i < f->set.count; i++) {
        const McqItem *item = &f->set.items[i];
        char context[1024], whole[2048];
        snprintf(context, sizeof context, "Question: %s\nAnswer:", item->question);
        bool ok = encodes_as(f->tokenizer, context, json_object_get(expected_item(f, i), "context_ids"));
        for (int c = 0; c < item->num_choices && ok; c++) {
            int *ids, count;
            snprintf(whole, sizeof whole, "%s %s", context, item->choices[c]);
            if (tokenizer_encode(f->tokenizer, whole, strlen(whole), &ids, &count) < 0) {
                ok = false;
                break;
            }
            /* lm-eval's continuation: the whole string's tokens past the context's. */
            int context_length = (int)json_array_size(json_object_get(expected_item(f, i), "context_ids"));
            ok = count >= context_length &&
                 ids_equal(ids + context_length, count - context_length,
                           json_object_get(expected_choice(f, i, c), "continuation_ids"));
            free(ids);
        }
        tap_ok(ok, "question %d: context and continuation tokens are HF's", i + 1);
    }
}

static void check_loglikelihoods(Fixture *f)
{
    double *loglik = xmalloc((size_t)f->total_choices * sizeof *loglik);
    int rc = mcq_choice_loglikelihoods(&f->model, f->tokenizer, &f->set, loglik);
    if (!tap_ok(rc == 0, "mcq_choice_loglikelihoods scores all %d choices", f->total_choices))
        tap_diag("%s", error_message());
    const double *item_loglik = loglik;
    for (int i = 0; i < f->set.count && rc == 0; i++) {
        const McqItem *item = &f->set.items[i];
        double worst = 0.0;
        for (int c = 0; c < item->num_choices; c++) {
            double want = json_real_value(json_object_get(expected_choice(f, i, c), "loglikelihood"));
            worst = fmax(worst, fabs(item_loglik[c] - want));
            if (!(fabs(item_loglik[c] - want) <= LOGLIK_TOLERANCE))
                tap_diag("question %d choice %d: %.6f, expected %.6f", i + 1, c + 1, item_loglik[c], want);
        }
        tap_ok(worst <= LOGLIK_TOLERANCE, "question %d: %d log-likelihoods within %g (max error %.2g)",
               i + 1, item->num_choices, LOGLIK_TOLERANCE, worst);
        item_loglik += item->num_choices;
    }

    /* Each choice alone, one unpadded sequence per forward, must score what
     * the padded batches of all questions together did. */
    double worst = 0.0;
    item_loglik = loglik;
    for (int i = 0; i < f->set.count && rc == 0; i++) {
        McqItem *item = &f->set.items[i];
        for (int c = 0; c < item->num_choices; c++) {
            McqItem single = {item->question, &item->choices[c], 1, 0};
            McqSet one = {&single, 1};
            double alone;
            if (mcq_choice_loglikelihoods(&f->model, f->tokenizer, &one, &alone) < 0)
                alone = INFINITY;
            worst = fmax(worst, fabs(alone - item_loglik[c]));
        }
        item_loglik += item->num_choices;
    }
    if (rc == 0)
        tap_ok(worst <= 1e-5, "unpadded single sequences score as the padded batches (max diff %.2g)", worst);
    free(loglik);
}

static void check_predictions(Fixture *f)
{
    int n = f->set.count;
    int *predicted = xmalloc((size_t)n * sizeof(int)), *predicted_norm = xmalloc((size_t)n * sizeof(int));
    McqScore score;
    int rc = mcq_evaluate(&f->model, f->tokenizer, &f->set, &score, predicted, predicted_norm);
    if (!tap_ok(rc == 0, "mcq_evaluate scores the set"))
        tap_diag("%s", error_message());
    bool same = rc == 0, same_norm = rc == 0;
    for (int i = 0; i < n && rc == 0; i++) {
        int want = expected_int(expected_item(f, i), "predicted");
        int want_norm = expected_int(expected_item(f, i), "predicted_norm");
        if (predicted[i] != want || predicted_norm[i] != want_norm)
            tap_diag("question %d: predicted %d/%d (norm), expected %d/%d", i + 1, predicted[i],
                     predicted_norm[i], want, want_norm);
        same = same && predicted[i] == want;
        same_norm = same_norm && predicted_norm[i] == want_norm;
    }
    tap_ok(same, "every acc prediction is the argmax of the goldens' log-likelihoods");
    tap_ok(same_norm, "every acc_norm prediction divides by the choice's characters, as lm-eval does");
    double acc = json_real_value(json_object_get(f->expected, "acc"));
    double acc_norm = json_real_value(json_object_get(f->expected, "acc_norm"));
    if (!tap_ok(rc == 0 && score.questions == expected_int(f->expected, "questions") &&
                score.acc == acc && score.acc_norm == acc_norm,
                "questions %d, acc %.6f and acc_norm %.6f are exact", n, acc, acc_norm))
        tap_diag("got questions %d, acc %.17g, acc_norm %.17g", score.questions, score.acc, score.acc_norm);

    McqScore again;
    rc = mcq_evaluate(&f->model, f->tokenizer, &f->set, &again, NULL, NULL);
    tap_ok(rc == 0 && again.acc == score.acc && again.acc_norm == score.acc_norm,
           "the prediction outputs may be NULL");
    free(predicted);
    free(predicted_norm);
}

static void check_errors(Fixture *f)
{
    McqScore score;
    int saved = f->model.config.max_position_embeddings;
    f->model.config.max_position_embeddings = 12;
    int rc = mcq_evaluate(&f->model, f->tokenizer, &f->set, &score, NULL, NULL);
    f->model.config.max_position_embeddings = saved;
    if (!tap_ok(rc == -1 && strncmp(error_message(), "question 1: choice 1 needs ", 27) == 0 &&
                strstr(error_message(), "more than the model's 12 positions"),
                "a sequence past max_position_embeddings is refused naming the question and choice"))
        tap_diag("got %d: %s", rc, error_message());

    /* Only the check before any forward pass reads the smaller vocabulary. */
    int vocab = f->model.config.vocab_size;
    f->model.config.vocab_size = 100;
    rc = mcq_evaluate(&f->model, f->tokenizer, &f->set, &score, NULL, NULL);
    f->model.config.vocab_size = vocab;
    if (!tap_ok(rc == -1 && strncmp(error_message(), "question 1: token id ", 21) == 0 &&
                strstr(error_message(), "outside the model's vocabulary of 100"),
                "a token id past the model's vocabulary is refused naming the question"))
        tap_diag("got %d: %s", rc, error_message());

    McqSet empty = {0};
    rc = mcq_evaluate(&f->model, f->tokenizer, &empty, &score, NULL, NULL);
    tap_ok(rc == -1 && strstr(error_message(), "no questions"), "an empty set is refused");
}

int main(void)
{
    Fixture f;
    int rc = load_fixture(&f);
    if (!tap_ok(rc == 0, "the fixture model, tokenizer, questions and goldens load")) {
        tap_diag("%s", error_message());
        free_fixture(&f);
        return tap_done();
    }
    check_tokens(&f);
    check_loglikelihoods(&f);
    check_predictions(&f);
    check_errors(&f);
    free_fixture(&f);
    return tap_done();
}
