/* Pretraining loop: plain next-token NLL descent with AdamW, linear warmup
 * then cosine decay, and a seeded shuffle of whole documents packed into
 * fixed-length rows. It trains the model's committed trainable set.
 * A training job wraps it in files: config or saved model, tokenizer and
 * corpora in, a Hugging Face model directory out (`uoe-wb train`, uoe.train). */
#ifndef UOE_TRAIN_H
#define UOE_TRAIN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "adamw.h"
#include "dataset.h"
#include "model.h"
#include "tokenizer.h"

/* A tokenised document: its ids, ending with the separator when there is one. */
typedef struct {
    int *ids;
    int length;
} Document;

/* Tokenises every text of corpus (read from path, which errors name) onto the
 * end of *documents (*count of them); each document ends with the
 * <|endoftext|> token when the tokenizer has one. */
int documents_append(Document **documents, int *count, const Tokenizer *tokenizer,
                     const TextCorpus *corpus, const char *path);
void documents_free(Document *documents, int count);

typedef struct {
    int batch_rows;          /* B: rows per step */
    int seq_len;             /* T: tokens per row */
    int steps;               /* optimizer steps */
    int warmup_steps;        /* linear warmup from 0 to the peak rate */
    float learning_rate;     /* peak */
    float min_lr_ratio;      /* the cosine ends at learning_rate * min_lr_ratio */
    AdamWConfig adamw;       /* its learning_rate is overwritten each step */
    uint64_t seed;           /* the document shuffle */
} TrainConfig;

typedef struct {
    int step;                /* 1-based, after the update */
    float loss;              /* mean NLL of the step's batch, before the update */
    float learning_rate;
    double grad_norm;
    double tokens_per_second;
    int epoch;               /* passes over the documents begun so far */
} TrainProgress;

/* Called after every step; a non-zero return stops training early. */
typedef int (*TrainCallback)(const TrainProgress *progress, void *ctx);

TrainConfig train_default_config(void);
/* The rate at a 0-based step: warmup, then cosine to the floor at the last step. */
float train_learning_rate(const TrainConfig *config, int step);

/* Packs documents, in the order given by order (count entries), into rows
 * of T tokens from position *next, each row holding whole documents (a
 * longer one is cut into T-token pieces, continued on the next row); unused
 * positions get id 0 and target -1. Fills ids and targets (rows, T) and
 * advances *next and *offset (tokens of order[*next] already used). Returns
 * the number of rows filled, fewer than rows when the documents run out. */
int train_pack_rows(const Document *documents, const int *order, int count, int *next,
                    int *offset, int *ids, int *targets, int rows, int T);

/* Runs config->steps steps over the documents, reshuffling at each epoch.
 * Returns -1 with an error if a loss or gradient is not finite (the
 * parameters keep their last finite values' update), else 0. */
int train_run(Model *model, const Document *documents, int count, const TrainConfig *config,
              TrainCallback callback, void *ctx);

/* The progress line of a step: "step 10/1000  loss 7.3272  lr 0.0003 ...". */
void train_format_progress(char *line, size_t size, const TrainProgress *progress, int steps);

typedef struct {
    const char *config_path;    /* a config.json for a new model, initialised N(0, 0.02) from
                                 * train.seed ... */
    const char *init_dir;       /* ... or a saved model to continue: exactly one of the two */
    const char *tokenizer_path; /* a tokenizer.json, or a directory that holds one */
    const char *const *corpora; /* JSON Lines files, tokenised in this order */
    int num_corpora;
    const char *out_dir;        /* made when missing; receives the model and the tokenizer */
    TrainConfig train;
    int log_every;              /* progress lines at step 1, every log_every steps and the last */
    FILE *log;                  /* where the lines of `uoe-wb train` go, or NULL */
    TrainCallback callback;     /* after every step, or NULL; non-zero stops the job */
    void *ctx;
} TrainJob;

typedef struct {
    size_t parameters;
    int documents;
    size_t tokens;              /* of the documents */
    int steps;                  /* steps taken */
    float initial_loss, loss;   /* of the first and the last step's batch */
    double seconds;             /* of the training loop */
} TrainJobResult;

/* Whether the job logs the 1-based step. */
bool train_job_logs(const TrainJob *job, int step);
/* Makes out_dir, loads the tokenizer, the documents of the corpora and the
 * model (every parameter trainable), trains it and saves it, f32 and per
 * expert, with a copy of the tokenizer. *model and *tokenizer are the
 * caller's to free, whatever the outcome. Returns 0, or 1 when the callback
 * stopped the job (nothing is saved), or -1 with an error. */
int train_job_run(const TrainJob *job, Model *model, Tokenizer **tokenizer,
                  TrainJobResult *result);

#endif
