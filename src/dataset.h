/* JSON Lines datasets: text corpora ({"text": ...} per line) and
 * multiple-choice sets ({"question": ..., "choices": [...], "answer": INDEX}
 * per line, the shape WMDP and MMLU take in lm-evaluation-harness). Errors
 * name the file and the line number. Blank lines are skipped. */
#ifndef UOE_DATASET_H
#define UOE_DATASET_H

typedef struct {
    char **texts;
    int count;
} TextCorpus;

typedef struct {
    char *question;
    char **choices;
    int num_choices;
    int answer;           /* index into choices */
} McqItem;

typedef struct {
    McqItem *items;
    int count;
} McqSet;

int text_corpus_load(TextCorpus *corpus, const char *path);
void text_corpus_free(TextCorpus *corpus);

int mcq_set_load(McqSet *set, const char *path);
void mcq_set_free(McqSet *set);

#endif
