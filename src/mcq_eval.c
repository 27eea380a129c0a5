/* Multiple-choice scoring the way lm-evaluation-harness scores a Hugging
 * Face causal model (HFLM, a multiple_choice task): see mcq_eval.h. */
#include "mcq_eval.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "rng.h"

/* Tokens per forward pass. A forward keeps the logits, N x V floats: 1024
 * tokens of a 152k-word vocabulary (Qwen) take 0.6 GB. */
#define MCQ_BATCH_TOKENS 1024

/* One choice to score: the model reads ids[0 .. length-1) and predicts
 * ids[context_length .. length). */
typedef struct {
    int *ids;               /* (length) the context's tokens, then the continuation's */
    int length;
    int context_length;
    int choice;             /* index of its log-likelihood in the flat output */
} ChoiceSequence;

/* "Question: " + question + "\nAnswer:", then " " + choice when choice is
 * not NULL: lm-eval's doc_to_text and target_delimiter. */
static char *prompt_text(const char *question, const char *choice)
{
    static const char head[] = "Question: ", tail[] = "\nAnswer:";
    size_t length = strlen(head) + strlen(question) + strlen(tail) + (choice ? 1 + strlen(choice) : 0);
    char *text = xmalloc(length + 1);
    strcpy(text, head);
    strcat(text, question);
    strcat(text, tail);
    if (choice) {
        strcat(text, " ");
        strcat(text, choice);
    }
    return text;
}

static int encode_text(const Tokenizer *tokenizer, const char *text, int **ids, int *count)
{
    return tokenizer_encode(tokenizer, text, strlen(text), ids, count);
}

/* The tokens of each choice of one item, as lm-eval's _encode_pair makes
 * them: the continuation's tokens are those of encode(context + continuation)
 * past the length of encode(context), and the model reads encode(context)
 * followed by them. (_encode_pair first moves trailing whitespace of the
 * context to the continuation; this context ends in "Answer:", so there is
 * none.) Appends one sequence per choice that has continuation tokens. */
static int encode_item(const Model *model, const Tokenizer *tokenizer, const McqItem *item,
                       int first_choice, ChoiceSequence *sequences, int *count)
{
    char *context = prompt_text(item->question, NULL);
    int *context_ids, context_length;
    int rc = encode_text(tokenizer, context, &context_ids, &context_length);
    free(context);
    if (rc < 0)
        return -1;
    CHECK(context_length > 0);  /* "Question: " always yields tokens */
    for (int c = 0; c < item->num_choices && rc == 0; c++) {
        char *whole = prompt_text(item->question, item->choices[c]);
        int *whole_ids, whole_length;
        rc = encode_text(tokenizer, whole, &whole_ids, &whole_length);
        free(whole);
        if (rc < 0)
            break;
        int continuation_length = whole_length > context_length ? whole_length - context_length : 0;
        int length = context_length + continuation_length;
        if (length - 1 > model->config.max_position_embeddings) {
            rc = error_set("choice %d needs %d tokens, more than the model's %d positions", c + 1,
                           length - 1, model->config.max_position_embeddings);
        } else if (continuation_length > 0) {
            ChoiceSequence *sequence = &sequences[(*count)++];
            sequence->ids = xmalloc((size_t)length * sizeof(int));
            memcpy(sequence->ids, context_ids, (size_t)context_length * sizeof(int));
            memcpy(sequence->ids + context_length, whole_ids + context_length,
                   (size_t)continuation_length * sizeof(int));
            sequence->length = length;
            sequence->context_length = context_length;
            sequence->choice = first_choice + c;
        }
        free(whole_ids);
    }
    free(context_ids);
    return rc;
}

/* Runs one right-padded batch of B sequences of at most T + 1 tokens and
 * stores each one's summed log-likelihood. Padding is never a target, and
 * causal attention keeps it out of every real position's prediction. */
static void score_batch(Model *model, const ChoiceSequence *sequences, int B, int T, double *loglik)
{
    int *ids = xmalloc((size_t)B * T * sizeof(int));        /* (B, T) */
    int *targets = xmalloc((size_t)B * T * sizeof(int));    /* (B, T) */
    for (int b = 0; b < B; b++) {
        const ChoiceSequence *s = &sequences[b];
        for (int t = 0; t < T; t++) {
            bool inside = t < s->length - 1;
            ids[b * T + t] = inside ? s->ids[t] : 0;
            targets[b * T + t] = inside && t >= s->context_length - 1 ? s->ids[t + 1] : -1;
        }
    }
    model_forward(model, ids, targets, B, T);
    for (int b = 0; b < B; b++) {
        const ChoiceSequence *s = &sequences[b];
        double nll = 0.0;
        for (int t = s->context_length - 1; t < s->length - 1; t++)
            nll += model->acts.token_nll[b * T + t];
        loglik[s->choice] = -nll;
    }
    free(ids);
    free(targets);
}

static int check_vocabulary(const Model *model, const ChoiceSequence *sequence)
{
    for (int t = 0; t < sequence->length; t++)
        if (sequence->ids[t] >= model->config.vocab_size)
            return error_set("token id %d is outside the model's vocabulary of %d (does the "
                             "tokenizer belong to the model?)",
                             sequence->ids[t], model->config.vocab_size);
    return 0;
}

int mcq_choice_loglikelihoods(Model *model, const Tokenizer *tokenizer, const McqSet *set,
                              double *loglik)
{
    int total_choices = 0;
    for (int i = 0; i < set->count; i++)
        total_choices += set->items[i].num_choices;
    ChoiceSequence *sequences = xmalloc((size_t)total_choices * sizeof *sequences);
    int count = 0, rc = 0;
    /* Every item is tokenized and checked before the first forward, so a bad
     * one fails at once rather than after the ones before it are scored. */
    for (int i = 0, first_choice = 0; i < set->count && rc == 0; i++) {
        int before = count;
        rc = encode_item(model, tokenizer, &set->items[i], first_choice, sequences, &count);
        for (int s = before; s < count && rc == 0; s++)
            rc = check_vocabulary(model, &sequences[s]);
        if (rc < 0)
            error_prefix("question %d", i + 1);
        first_choice += set->items[i].num_choices;
    }
    if (rc == 0) {
        /* A choice whose continuation has no tokens of its own scores 0, as
         * an empty sum does in lm-eval. */
        for (int c = 0; c < total_choices; c++)
            loglik[c] = 0.0;
        /* Consecutive sequences share a batch while it stays within the
         * token budget; one longer than the budget gets a batch alone. */
        for (int first = 0, end; first < count; first = end) {
            int T = 0;
            for (end = first; end < count; end++) {
                int longest = T > sequences[end].length - 1 ? T : sequences[end].length - 1;
                if (end > first && (end - first + 1) * longest > MCQ_BATCH_TOKENS)
                    break;
                T = longest;
            }
            score_batch(model, sequences + first, end - first, T, loglik);
        }
    }
    for (int s = 0; s < count; s++)
        free(sequences[s].ids);
    free(sequences);
    return rc;
}

/* lm-eval's completion_len for acc_norm: Python's len(choice), the choice's
 * Unicode code points without the delimiter before it. (Its documentation
 * speaks of bytes; its code counts characters.) Counts the UTF-8 bytes that
 * do not continue a character. */
static int choice_characters(const char *choice)
{
    int count = 0;
    for (const unsigned char *p = (const unsigned char *)choice; *p; p++)
        count += (*p & 0xC0) != 0x80;
    return count;
}

int mcq_evaluate(Model *model, const Tokenizer *tokenizer, const McqSet *set, McqScore *score,
                 int *predicted, int *predicted_norm)
{
    if (set->count == 0)
        return error_set("no questions to score");
    int total_choices = 0;
    for (int i = 0; i < set->count; i++)
        total_choices += set->items[i].num_choices;
    double *loglik = xmalloc((size_t)total_choices * sizeof *loglik);
    if (mcq_choice_loglikelihoods(model, tokenizer, set, loglik) < 0) {
        free(loglik);
        return -1;
    }
    int correct = 0, correct_norm = 0;
    const double *item_loglik = loglik;
    for (int i = 0; i < set->count; i++) {
        const McqItem *item = &set->items[i];
        /* First index on ties, as numpy's argmax. An empty choice has zero
         * characters and so scores -inf under acc_norm. */
        int best = 0, best_norm = 0;
        double best_per_char = item_loglik[0] / choice_characters(item->choices[0]);
        for (int c = 1; c < item->num_choices; c++) {
            double per_char = item_loglik[c] / choice_characters(item->choices[c]);
            if (item_loglik[c] > item_loglik[best])
                best = c;
            if (per_char > best_per_char) {
                best_norm = c;
                best_per_char = per_char;
            }
        }
        correct += best == item->answer;
        correct_norm += best_norm == item->answer;
        if (predicted)
            predicted[i] = best;
        if (predicted_norm)
            predicted_norm[i] = best_norm;
        item_loglik += item->num_choices;
    }
    free(loglik);
    score->questions = set->count;
    score->acc = (double)correct / set->count;
    score->acc_norm = (double)correct_norm / set->count;
    return 0;
}

static int compare_ints(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

void mcq_set_sample(const McqSet *set, int limit, uint64_t seed, McqSet *sample)
{
    int *order = xmalloc((size_t)(set->count > 0 ? set->count : 1) * sizeof(int));
    for (int i = 0; i < set->count; i++)
        order[i] = i;
    Rng rng;
    rng_seed(&rng, seed);
    rng_shuffle(&rng, order, set->count);
    sample->count = limit > 0 && limit < set->count ? limit : set->count;
    sample->items = xmalloc((size_t)(sample->count > 0 ? sample->count : 1) * sizeof(McqItem));
    /* in file order, so the sample reads like the set */
    qsort(order, (size_t)sample->count, sizeof(int), compare_ints);
    for (int i = 0; i < sample->count; i++)
        sample->items[i] = set->items[order[i]];
    free(order);
}
