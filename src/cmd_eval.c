/* uoe-wb eval: multiple-choice accuracy of a model, scored as
 * lm-evaluation-harness scores it (mcq_eval.h). */
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "cli.h"
#include "dataset.h"
#include "error.h"
#include "mcq_eval.h"
#include "model.h"
#include "tokenizer.h"

static const char eval_usage[] =
    "Usage: uoe-wb eval MODEL_DIR --mcq FILE.jsonl [--json] [--tokenizer PATH]\n"
    "Scores a model on multiple-choice questions as lm-evaluation-harness does:\n"
    "each choice by the log-likelihood of \" CHOICE\" after\n"
    "\"Question: QUESTION\\nAnswer:\". Prints the number of questions, acc (the\n"
    "most likely choice is the answer) and acc_norm (the same per character of\n"
    "the choice).\n"
    "  --mcq FILE.jsonl  one {\"question\", \"choices\", \"answer\"} object per line\n"
    "  --tokenizer PATH  a tokenizer.json or a directory holding one\n"
    "                    (default MODEL_DIR/tokenizer.json)\n"
    "  --json            print one JSON object instead of text\n";

static void print_score(const McqScore *score, const char *mcq_path, bool as_json)
{
    if (!as_json) {
        printf("questions %d\nacc       %.4f\nacc_norm  %.4f\n", score->questions, score->acc,
               score->acc_norm);
        return;
    }
    json_t *result = json_pack("{s:s, s:i, s:f, s:f}", "file", mcq_path,
                               "questions", score->questions, "acc", score->acc,
                               "acc_norm", score->acc_norm);
    char *text = json_dumps(result, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    puts(text);
    free(text);
    json_decref(result);
}

int cmd_eval(int argc, char **argv)
{
    static const struct option options[] = {
        {"mcq", required_argument, NULL, 'm'},
        {"tokenizer", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *mcq_path = NULL, *tokenizer_path = NULL;
    bool as_json = false;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'm': mcq_path = optarg; break;
        case 't': tokenizer_path = optarg; break;
        case 'j': as_json = true; break;
        case 'h': fputs(eval_usage, stdout); return 0;
        default: fputs(eval_usage, stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || !mcq_path) {
        fputs(eval_usage, stderr);
        return EXIT_USAGE;
    }
    const char *model_dir = argv[optind];
    char *default_tokenizer = NULL;
    if (!tokenizer_path) {
        size_t size = strlen(model_dir) + sizeof "/tokenizer.json";
        default_tokenizer = xmalloc(size);
        snprintf(default_tokenizer, size, "%s/tokenizer.json", model_dir);
        tokenizer_path = default_tokenizer;
    }

    /* The cheap inputs first, so that a bad one fails before the weights load. */
    McqSet set;
    Tokenizer *tokenizer = NULL;
    Model model = {0};
    McqScore score;
    int status = 1;
    if (mcq_set_load(&set, mcq_path) < 0 || tokenizer_load(&tokenizer, tokenizer_path) < 0 ||
        checkpoint_load(&model, model_dir, NULL) < 0 ||
        mcq_evaluate(&model, tokenizer, &set, &score, NULL, NULL) < 0) {
        cli_report_error();
    } else {
        print_score(&score, mcq_path, as_json);
        status = 0;
    }
    model_free(&model);
    if (tokenizer)
        tokenizer_free(tokenizer);
    mcq_set_free(&set);
    free(default_tokenizer);
    return status;
}
