/* uoe-wb tokenize: encode text to token ids, or decode ids to text, with a
 * Hugging Face tokenizer.json; or train a byte-level BPE tokenizer. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "tokenizer.h"
#include "tokenizer_train.h"

static const char tokenize_usage[] =
    "Usage: uoe-wb tokenize TOKENIZER_OR_MODEL_DIR --text STR\n"
    "       uoe-wb tokenize TOKENIZER_OR_MODEL_DIR --decode IDS\n"
    "       uoe-wb tokenize --train --vocab-size N --out FILE [--special TOKEN]...\n"
    "                       CORPUS.jsonl...\n"
    "Encodes text with a Hugging Face tokenizer.json (the file, or a directory\n"
    "that holds one), as encode(text, add_special_tokens=False) does, or decodes ids.\n"
    "  --text STR       print the token ids of STR on one line, separated by spaces\n"
    "  --decode IDS     print the text of IDS (decimal, separated by spaces or commas)\n"
    "With --train, learns a byte-level BPE tokenizer (GPT-2's pre-tokenizer) from the\n"
    "\"text\" of each line of the JSON Lines corpora, as HF's BpeTrainer does.\n"
    "  --vocab-size N   the vocabulary to reach: special tokens, 256 bytes, merges\n"
    "  --out FILE       the tokenizer.json to write\n"
    "  --special TOKEN  a special token (ids 0, 1, ... in the order given)\n";

/* Trains on the texts of the corpora, in order, and writes the tokenizer. */
static int train(char **corpora, int num_corpora, const BpeTrainOptions *options,
                 const char *out)
{
    BpeTrainSummary summary;
    if (tokenizer_train_corpora((const char *const *)corpora, num_corpora, options, out,
                                &summary) < 0)
        return cli_report_error();
    tokenizer_train_report(stdout, out, &summary);
    return 0;
}

/* Parses decimal ids separated by spaces and/or commas into *ids (malloc'd). */
static int parse_ids(const char *text, int **ids, int *count)
{
    size_t capacity = strlen(text) / 2 + 1;  /* each id takes a digit and a separator */
    *ids = xmalloc(capacity * sizeof **ids);
    *count = 0;
    for (const char *p = text;;) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (!*p)
            return 0;
        char *end;
        errno = 0;
        long id = strtol(p, &end, 10);
        if (end == p || !isdigit((unsigned char)*p) || errno == ERANGE || id > INT_MAX ||
            (*end && *end != ',' && !isspace((unsigned char)*end))) {
            free(*ids);
            return error_set("--decode: \"%s\" is not a list of non-negative integer ids", text);
        }
        (*ids)[(*count)++] = (int)id;
        p = end;
    }
}

static int encode_text(const Tokenizer *tokenizer, const char *text)
{
    int *ids, count;
    if (tokenizer_encode(tokenizer, text, strlen(text), &ids, &count) < 0)
        return cli_report_error();
    for (int i = 0; i < count; i++)
        printf("%s%d", i ? " " : "", ids[i]);
    putchar('\n');
    free(ids);
    return 0;
}

static int decode_ids(const Tokenizer *tokenizer, const char *list)
{
    int *ids, count;
    if (parse_ids(list, &ids, &count) < 0)
        return cli_report_error();
    char *text;
    int status = tokenizer_decode(tokenizer, ids, count, &text);
    free(ids);
    if (status < 0)
        return cli_report_error();
    printf("%s\n", text);
    free(text);
    return 0;
}

/* Encodes or decodes with the tokenizer at path. */
static int use_tokenizer(const char *path, const char *text, const char *decode)
{
    Tokenizer *tokenizer;
    if (tokenizer_load(&tokenizer, path) < 0)
        return cli_report_error();
    int status = text ? encode_text(tokenizer, text) : decode_ids(tokenizer, decode);
    tokenizer_free(tokenizer);
    return status;
}

static bool parse_vocab_size(const char *text, int *size)
{
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (end == text || *end || errno || value < 1 || value > INT_MAX)
        return false;
    *size = (int)value;
    return true;
}

int cmd_tokenize(int argc, char **argv)
{
    static const struct option options[] = {
        {"text", required_argument, NULL, 't'},
        {"decode", required_argument, NULL, 'd'},
        {"train", no_argument, NULL, 'T'},
        {"vocab-size", required_argument, NULL, 'v'},
        {"out", required_argument, NULL, 'o'},
        {"special", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *text = NULL, *decode = NULL, *out = NULL;
    bool training = false, usage = false;
    /* At most one special token per argument. */
    const char **specials = xmalloc((size_t)argc * sizeof *specials);
    BpeTrainOptions train_options = {.special_tokens = specials};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 't': text = optarg; break;
        case 'd': decode = optarg; break;
        case 'T': training = true; break;
        case 'o': out = optarg; break;
        case 's': specials[train_options.num_special_tokens++] = optarg; break;
        case 'v': usage |= !parse_vocab_size(optarg, &train_options.vocab_size); break;
        case 'h':
            fputs(tokenize_usage, stdout);
            free(specials);
            return 0;
        default: usage = true; break;
        }
    }
    if (training)
        usage |= text || decode || !out || !train_options.vocab_size || optind == argc;
    else
        usage |= optind != argc - 1 || !text == !decode || out || train_options.vocab_size ||
                 train_options.num_special_tokens;
    int status = EXIT_USAGE;
    if (usage)
        fputs(tokenize_usage, stderr);
    else if (training)
        status = train(argv + optind, argc - optind, &train_options, out);
    else
        status = use_tokenizer(argv[optind], text, decode);
    free(specials);
    return status;
}
