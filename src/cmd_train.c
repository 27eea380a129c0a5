/* uoe-wb train: pretrains a model on JSON Lines corpora (how the embedded
 * default model is made), or continues training a saved one. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atomic_file.h"
#include "checkpoint.h"
#include "cli.h"
#include "dataset.h"
#include "error.h"
#include "model.h"
#include "tokenizer.h"
#include "train.h"

static const char train_usage[] =
    "Usage: uoe-wb train (--config CONFIG.json | --init MODEL_DIR) --tokenizer TOKENIZER.json\n"
    "                    --corpus FILE.jsonl [--corpus FILE.jsonl ...] --out DIR [OPTIONS]\n"
    "Trains every parameter by next-token NLL with AdamW (linear warmup, then cosine decay)\n"
    "on whole documents packed into rows, shuffled with a seed, and saves the model and its\n"
    "tokenizer to DIR as a Hugging Face model directory.\n"
    "  --config FILE       a config.json for a new model, initialised N(0, 0.02) from --seed\n"
    "  --init DIR          continue from a saved model instead\n"
    "  --steps N           optimizer steps (default 1000)\n"
    "  --batch B           rows per step (default 16)\n"
    "  --seq-len T         tokens per row (default 128)\n"
    "  --lr RATE           peak learning rate (default 3e-3)\n"
    "  --warmup N          warmup steps (default 50)\n"
    "  --min-lr-ratio R    final rate as a fraction of the peak (default 0.1)\n"
    "  --weight-decay W    AdamW decoupled weight decay (default 0.1)\n"
    "  --seed S            initialisation and shuffle seed (default 1)\n"
    "  --log-every N       print progress every N steps (default 10)\n";

typedef struct {
    const char *config_path, *init_dir, *tokenizer_path, *out_dir;
    const char **corpora;
    int num_corpora;
    int log_every;
    TrainConfig train;
} TrainArgs;

static int parse_args(int argc, char **argv, TrainArgs *args)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'}, {"init", required_argument, NULL, 'i'},
        {"tokenizer", required_argument, NULL, 't'}, {"corpus", required_argument, NULL, 'C'},
        {"out", required_argument, NULL, 'o'}, {"steps", required_argument, NULL, 's'},
        {"batch", required_argument, NULL, 'b'}, {"seq-len", required_argument, NULL, 'T'},
        {"lr", required_argument, NULL, 'l'}, {"warmup", required_argument, NULL, 'w'},
        {"min-lr-ratio", required_argument, NULL, 'm'}, {"weight-decay", required_argument, NULL, 'd'},
        {"seed", required_argument, NULL, 'S'}, {"log-every", required_argument, NULL, 'L'},
        {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
    };
    memset(args, 0, sizeof *args);
    args->train = train_default_config();
    args->log_every = 10;
    args->corpora = xmalloc((size_t)argc * sizeof(char *));
    int opt;
    double v = 0.0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        const char *name = options[0].name;
        for (int i = 0; options[i].name; i++)
            if (options[i].val == opt)
                name = options[i].name;
        bool numeric = strchr("sbTlwmdSL", opt) != NULL;
        if (numeric && cli_parse_number(name, optarg, opt == 'l' || opt == 'm' || opt == 'd' ? 0 : 1, &v) < 0)
            return -1;
        switch (opt) {
        case 'c': args->config_path = optarg; break;
        case 'i': args->init_dir = optarg; break;
        case 't': args->tokenizer_path = optarg; break;
        case 'C': args->corpora[args->num_corpora++] = optarg; break;
        case 'o': args->out_dir = optarg; break;
        case 's': args->train.steps = (int)v; break;
        case 'b': args->train.batch_rows = (int)v; break;
        case 'T': args->train.seq_len = (int)v; break;
        case 'l': args->train.learning_rate = (float)v; break;
        case 'w': args->train.warmup_steps = (int)v; break;
        case 'm': args->train.min_lr_ratio = (float)v; break;
        case 'd': args->train.adamw.weight_decay = (float)v; break;
        case 'S': args->train.seed = (uint64_t)v; break;
        case 'L': args->log_every = (int)v; break;
        case 'h': fputs(train_usage, stdout); return 1;
        default: return EXIT_USAGE;
        }
    }
    if (optind != argc || !args->tokenizer_path || !args->out_dir || args->num_corpora == 0 ||
        !args->config_path == !args->init_dir)
        return EXIT_USAGE;
    return 0;
}

static int load_documents(const TrainArgs *args, const Tokenizer *tokenizer, Document **out,
                          int *count)
{
    *out = NULL;
    *count = 0;
    for (int c = 0; c < args->num_corpora; c++) {
        TextCorpus corpus;
        if (text_corpus_load(&corpus, args->corpora[c]) < 0)
            goto fail;
        int rc = documents_append(out, count, tokenizer, &corpus, args->corpora[c]);
        text_corpus_free(&corpus);
        if (rc < 0)
            goto fail;
    }
    return 0;
fail:
    documents_free(*out, *count);
    return -1;
}

static int create_model(const TrainArgs *args, Model *model, const Tokenizer *tokenizer)
{
    if (args->init_dir) {
        if (checkpoint_load(model, args->init_dir, NULL) < 0)
            return -1;
    } else {
        ModelConfig config;
        if (model_config_load(&config, args->config_path) < 0)
            return -1;
        model_create(model, &config);
        model_init_random(model, args->train.seed, 0.02f);
    }
    if (model->config.vocab_size < tokenizer_vocab_size(tokenizer)) {
        error_set("the model's vocabulary (%d) is smaller than the tokenizer's (%d)",
                  model->config.vocab_size, tokenizer_vocab_size(tokenizer));
        model_free(model);
        return -1;
    }
    for (int i = 0; i < model->num_params; i++)
        model->params[i].trainable = true;
    model_commit_trainable(model);
    return 0;
}

static int print_progress(const TrainProgress *p, void *ctx)
{
    const TrainArgs *args = ctx;
    if (p->step % args->log_every == 0 || p->step == 1 || p->step == args->train.steps) {
        printf("step %d/%d  loss %.4f  lr %.3g  grad-norm %.3f  epoch %d  %.0f tokens/s\n", p->step,
               args->train.steps, p->loss, p->learning_rate, p->grad_norm, p->epoch,
               p->tokens_per_second);
        fflush(stdout);
    }
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

int cmd_train(int argc, char **argv)
{
    TrainArgs args;
    int rc = parse_args(argc, argv, &args);
    if (rc != 0) {
        free(args.corpora);
        if (rc == 1)
            return 0;
        if (rc == EXIT_USAGE) {
            fputs(train_usage, stderr);
            return EXIT_USAGE;
        }
        return cli_report_error();
    }
    Tokenizer *tokenizer = NULL;
    Document *docs = NULL;
    int count = 0, status = 1;
    Model model = {0};
    if (checkpoint_make_directory(args.out_dir) < 0 ||
        tokenizer_load(&tokenizer, args.tokenizer_path) < 0 ||
        load_documents(&args, tokenizer, &docs, &count) < 0 ||
        create_model(&args, &model, tokenizer) < 0) {
        cli_report_error();
        goto done;
    }
    size_t tokens = 0;
    for (int i = 0; i < count; i++)
        tokens += (size_t)docs[i].length;
    printf("training %zu parameters on %d documents (%zu tokens), %d steps of %d x %d tokens\n",
           model_param_count(&model), count, tokens, args.train.steps, args.train.batch_rows,
           args.train.seq_len);
    if (train_run(&model, docs, count, &args.train, print_progress, &args) < 0 ||
        checkpoint_save(&model, args.out_dir, DTYPE_F32, EXPERT_LAYOUT_PER_EXPERT) < 0 ||
        copy_tokenizer(args.tokenizer_path, args.out_dir) < 0) {
        cli_report_error();
        goto done;
    }
    printf("saved %s\n", args.out_dir);
    status = 0;
done:
    documents_free(docs, count);
    model_free(&model);
    tokenizer_free(tokenizer);
    free(args.corpora);
    return status;
}
