/* Multiple-choice scoring as lm-evaluation-harness does it: each choice is
 * scored by the log-likelihood of " " + choice as a continuation of the
 * prompt "Question: " + question + "\nAnswer:"; acc takes the argmax of the
 * log-likelihoods, acc_norm the argmax of log-likelihood per character of
 * the choice (lm-eval's completion_len, len(choice) in Python: its docs say
 * bytes, its code counts characters). */
#ifndef UOE_MCQ_EVAL_H
#define UOE_MCQ_EVAL_H

#include "dataset.h"
#include "model.h"
#include "tokenizer.h"

typedef struct {
    int questions;
    double acc;
    double acc_norm;
} McqScore;

/* The log-likelihood of every choice of every item, item after item, in
 * loglik (as many entries as the set has choices). Sequences longer than
 * the model's context give an error naming the item. */
int mcq_choice_loglikelihoods(Model *model, const Tokenizer *tokenizer, const McqSet *set,
                              double *loglik);

/* Scores every item; predicted and predicted_norm (count entries each) may
 * be NULL, else receive each item's chosen index. Sequences longer than the
 * model's context give an error naming the item. */
int mcq_evaluate(Model *model, const Tokenizer *tokenizer, const McqSet *set, McqScore *score,
                 int *predicted, int *predicted_norm);

/* A seeded sample of up to `limit` questions of set (all when limit <= 0),
 * in file order, sharing the set's items: free only sample->items. */
void mcq_set_sample(const McqSet *set, int limit, uint64_t seed, McqSet *sample);

#endif
