#include "train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "atomic_file.h"
#include "checkpoint.h"
#include "error.h"
#include "rng.h"

int documents_append(Document **documents, int *count, const Tokenizer *tokenizer,
                     const TextCorpus *corpus, const char *path)
{
    int separator = tokenizer_token_id(tokenizer, "<|endoftext|>");
    *documents = xrealloc(*documents, (size_t)(*count + corpus->count + 1) * sizeof **documents);
    for (int i = 0; i < corpus->count; i++) {
        int *ids, length;
        if (tokenizer_encode(tokenizer, corpus->texts[i], strlen(corpus->texts[i]), &ids, &length) < 0)
            return error_prefix("%s: text %d", path, i + 1);
        if (separator >= 0) {
            ids = xrealloc(ids, (size_t)(length + 1) * sizeof(int));
            ids[length++] = separator;
        }
        (*documents)[(*count)++] = (Document){ids, length};
    }
    return 0;
}

void documents_free(Document *documents, int count)
{
    for (int i = 0; i < count; i++)
        free(documents[i].ids);
    free(documents);
}

TrainConfig train_default_config(void)
{
    TrainConfig c = {
        .batch_rows = 16,
        .seq_len = 128,
        .steps = 1000,
        .warmup_steps = 50,
        .learning_rate = 3e-3f,
        .min_lr_ratio = 0.1f,
        .adamw = adamw_default_config(),
        .seed = 1,
    };
    c.adamw.weight_decay = 0.1f;
    c.adamw.beta2 = 0.95f;
    c.adamw.max_grad_norm = 1.0f;
    return c;
}

float train_learning_rate(const TrainConfig *c, int step)
{
    if (step < c->warmup_steps)
        return c->learning_rate * (float)(step + 1) / (float)c->warmup_steps;
    int decay_steps = c->steps - c->warmup_steps;
    double progress = decay_steps > 1 ? (double)(step - c->warmup_steps) / (decay_steps - 1) : 1.0;
    double cosine = 0.5 * (1.0 + cos(M_PI * fmin(progress, 1.0)));
    return c->learning_rate * (float)(c->min_lr_ratio + (1.0 - c->min_lr_ratio) * cosine);
}

int train_pack_rows(const Document *documents, const int *order, int count, int *next,
                    int *offset, int *ids, int *targets, int rows, int T)
{
    int filled = 0;
    for (; filled < rows && *next < count; filled++) {
        int *row_ids = ids + (size_t)filled * T, *row_targets = targets + (size_t)filled * T;
        int used = 0;
        /* whole documents while they fit; a longer one starts a row of its own */
        while (*next < count) {
            const Document *d = &documents[order[*next]];
            int left = d->length - *offset;
            if (used > 0 && left > T - used)
                break;
            int take = left < T - used ? left : T - used;
            memcpy(row_ids + used, d->ids + *offset, (size_t)take * sizeof(int));
            /* each token predicts the next one of its own document */
            for (int i = 0; i < take; i++)
                row_targets[used + i] = *offset + i + 1 < d->length ? d->ids[*offset + i + 1] : -1;
            used += take;
            *offset += take;
            if (*offset < d->length)
                break;
            *offset = 0;
            (*next)++;
        }
        for (int i = used; i < T; i++) {
            row_ids[i] = 0;
            row_targets[i] = -1;
        }
    }
    return filled;
}

/* order = a seeded permutation of 0..count-1 */
static void shuffle(int *order, int count, Rng *rng)
{
    for (int i = 0; i < count; i++)
        order[i] = i;
    rng_shuffle(rng, order, count);
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int train_run(Model *model, const Document *documents, int count, const TrainConfig *config,
              TrainCallback callback, void *ctx)
{
    if (count < 1)
        return error_set("training needs at least one document");
    int B = config->batch_rows, T = config->seq_len, N = B * T;
    int *order = xmalloc((size_t)count * sizeof(int));
    int *ids = xmalloc((size_t)N * sizeof(int)), *targets = xmalloc((size_t)N * sizeof(int));
    float *d_nll = xmalloc((size_t)N * sizeof(float));
    Rng rng;
    rng_seed(&rng, config->seed);
    AdamW optimizer;
    adamw_init(&optimizer, model, config->adamw);
    int next = count, offset = 0, epoch = 0, result = 0;

    for (int step = 0; step < config->steps; step++) {
        double start = seconds_now();
        int rows = 0;
        while (rows < B) {
            if (next >= count) {
                shuffle(order, count, &rng);
                next = 0;
                epoch++;
            }
            rows += train_pack_rows(documents, order, count, &next, &offset,
                                    ids + (size_t)rows * T, targets + (size_t)rows * T, B - rows, T);
        }
        model_zero_grad(model);
        float loss = model_forward(model, ids, targets, B, T);
        model_mean_nll_weights(model, d_nll);
        LossGradient gradient = {.d_token_nll = d_nll, .router_layer = -1};
        model_backward(model, &gradient);
        double norm = model_grad_norm(model);
        if (!isfinite(loss) || !isfinite(norm)) {
            result = error_set("step %d: the %s is not finite (loss %g, gradient norm %g); "
                               "training stopped before this update", step + 1,
                               isfinite(loss) ? "gradient" : "loss", loss, norm);
            break;
        }
        optimizer.config.learning_rate = train_learning_rate(config, step);
        adamw_update(&optimizer, model, norm);
        TrainProgress progress = {
            .step = step + 1, .loss = loss, .learning_rate = optimizer.config.learning_rate,
            .grad_norm = norm, .tokens_per_second = N / (seconds_now() - start), .epoch = epoch,
        };
        if (callback && callback(&progress, ctx) != 0)
            break;
    }
    adamw_free(&optimizer);
    free(order);
    free(ids);
    free(targets);
    free(d_nll);
    return result;
}

void train_format_progress(char *line, size_t size, const TrainProgress *p, int steps)
{
    snprintf(line, size, "step %d/%d  loss %.4f  lr %.3g  grad-norm %.3f  epoch %d  %.0f tokens/s",
             p->step, steps, p->loss, p->learning_rate, p->grad_norm, p->epoch,
             p->tokens_per_second);
}

bool train_job_logs(const TrainJob *job, int step)
{
    return step % job->log_every == 0 || step == 1 || step == job->train.steps;
}

static int load_documents(const TrainJob *job, const Tokenizer *tokenizer, Document **out,
                          int *count)
{
    *out = NULL;
    *count = 0;
    for (int c = 0; c < job->num_corpora; c++) {
        TextCorpus corpus;
        if (text_corpus_load(&corpus, job->corpora[c]) < 0)
            return -1;
        int rc = documents_append(out, count, tokenizer, &corpus, job->corpora[c]);
        text_corpus_free(&corpus);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int create_model(const TrainJob *job, Model *model, const Tokenizer *tokenizer)
{
    if (job->init_dir) {
        if (checkpoint_load(model, job->init_dir, NULL) < 0)
            return -1;
    } else {
        ModelConfig config;
        if (model_config_load(&config, job->config_path) < 0)
            return -1;
        model_create(model, &config);
        model_init_random(model, job->train.seed, 0.02f);
    }
    if (model->config.vocab_size < tokenizer_vocab_size(tokenizer))
        return error_set("the model's vocabulary (%d) is smaller than the tokenizer's (%d)",
                         model->config.vocab_size, tokenizer_vocab_size(tokenizer));
    for (int i = 0; i < model->num_params; i++)
        model->params[i].trainable = true;
    model_commit_trainable(model);
    return 0;
}

/* Copies the tokenizer (a tokenizer.json, or the one in a directory) into
 * the model directory, atomically. */
static int copy_tokenizer(const char *tokenizer_path, const char *dir)
{
    char from[4096];
    struct stat status;
    bool is_dir = stat(tokenizer_path, &status) == 0 && S_ISDIR(status.st_mode);
    snprintf(from, sizeof from, is_dir ? "%s/tokenizer.json" : "%s", tokenizer_path);
    char path[4096];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    return atomic_file_copy(from, path);
}

typedef struct {
    const TrainJob *job;
    TrainJobResult *result;
    bool stopped;
} JobProgress;

/* Keeps the result, prints the progress lines, and passes each step on. */
static int job_progress(const TrainProgress *p, void *ctx)
{
    JobProgress *j = ctx;
    if (p->step == 1)
        j->result->initial_loss = p->loss;
    j->result->loss = p->loss;
    j->result->steps = p->step;
    if (j->job->log && train_job_logs(j->job, p->step)) {
        char line[256];
        train_format_progress(line, sizeof line, p, j->job->train.steps);
        fprintf(j->job->log, "%s\n", line);
        fflush(j->job->log);
    }
    j->stopped = j->job->callback && j->job->callback(p, j->job->ctx) != 0;
    return j->stopped;
}

int train_job_run(const TrainJob *job, Model *model, Tokenizer **tokenizer,
                  TrainJobResult *result)
{
    *model = (Model){0};
    *tokenizer = NULL;
    *result = (TrainJobResult){0};
    Document *docs = NULL;
    int count = 0, status = -1;
    if (checkpoint_make_directory(job->out_dir) < 0 ||
        tokenizer_load(tokenizer, job->tokenizer_path) < 0 ||
        load_documents(job, *tokenizer, &docs, &count) < 0 ||
        create_model(job, model, *tokenizer) < 0)
        goto done;
    result->parameters = model_param_count(model);
    result->documents = count;
    for (int i = 0; i < count; i++)
        result->tokens += (size_t)docs[i].length;
    if (job->log)
        fprintf(job->log, "training %zu parameters on %d documents (%zu tokens), "
                "%d steps of %d x %d tokens\n", result->parameters, count, result->tokens,
                job->train.steps, job->train.batch_rows, job->train.seq_len);
    JobProgress progress = {.job = job, .result = result};
    double start = seconds_now();
    if (train_run(model, docs, count, &job->train, job_progress, &progress) < 0)
        goto done;
    result->seconds = seconds_now() - start;
    if (progress.stopped) {
        status = 1;
        goto done;
    }
    if (checkpoint_save(model, job->out_dir, DTYPE_F32, EXPERT_LAYOUT_PER_EXPERT) < 0 ||
        copy_tokenizer(job->tokenizer_path, job->out_dir) < 0)
        goto done;
    if (job->log) {
        fprintf(job->log, "saved %s\n", job->out_dir);
        fflush(job->log);
    }
    status = 0;
done:
    documents_free(docs, count);
    return status;
}
