/* uoe-wb train: pretrains a model on JSON Lines corpora (how the embedded
 * default model is made), or continues training a saved one. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
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
    const char **corpora;   /* the job's, as many as there are arguments */
    TrainJob job;
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
    TrainJob *job = &args->job;
    *job = (TrainJob){.train = train_default_config(), .log_every = 10, .log = stdout};
    args->corpora = xmalloc((size_t)argc * sizeof(char *));
    job->corpora = args->corpora;
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
        case 'c': job->config_path = optarg; break;
        case 'i': job->init_dir = optarg; break;
        case 't': job->tokenizer_path = optarg; break;
        case 'C': args->corpora[job->num_corpora++] = optarg; break;
        case 'o': job->out_dir = optarg; break;
        case 's': job->train.steps = (int)v; break;
        case 'b': job->train.batch_rows = (int)v; break;
        case 'T': job->train.seq_len = (int)v; break;
        case 'l': job->train.learning_rate = (float)v; break;
        case 'w': job->train.warmup_steps = (int)v; break;
        case 'm': job->train.min_lr_ratio = (float)v; break;
        case 'd': job->train.adamw.weight_decay = (float)v; break;
        case 'S': job->train.seed = (uint64_t)v; break;
        case 'L': job->log_every = (int)v; break;
        case 'h': fputs(train_usage, stdout); return 1;
        default: return EXIT_USAGE;
        }
    }
    if (optind != argc || !job->tokenizer_path || !job->out_dir || job->num_corpora == 0 ||
        !job->config_path == !job->init_dir)
        return EXIT_USAGE;
    return 0;
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
    Model model;
    Tokenizer *tokenizer;
    TrainJobResult result;
    int status = train_job_run(&args.job, &model, &tokenizer, &result) < 0 ? cli_report_error() : 0;
    model_free(&model);
    tokenizer_free(tokenizer);
    free(args.corpora);
    return status;
}
