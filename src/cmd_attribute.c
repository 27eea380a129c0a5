/* uoe-wb attribute: ranks (layer, expert) by the Eq. 2 gate score of a
 * forget corpus, the first step of UOE. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "attribution.h"
#include "attribution_json.h"
#include "checkpoint.h"
#include "cli.h"
#include "dataset.h"
#include "error.h"
#include "tokenizer.h"

static const char attribute_usage[] =
    "Usage: uoe-wb attribute MODEL_DIR --forget FILE.jsonl [--json] [--top N]\n"
    "                        [--sequences Z] [--rank-by STAT] [--halves]\n"
    "                        [--seed N] [--tokenizer PATH]\n"
    "Ranks every (layer, expert) of the MoE layers by the Eq. 2 score of\n"
    "arXiv:2411.18797: the top-k-masked gate averaged over each sequence's tokens,\n"
    "then over the sequences of the forget corpus ({\"text\": ...} per line). Also\n"
    "prints each expert's share of the top-k selections and mean softmax probability.\n"
    "  --top N          rows to print (default 10)\n"
    "  --sequences Z    use the first Z texts (default all)\n"
    "  --rank-by STAT   gate (Eq. 2, default), selection (share of top-k\n"
    "                   selections) or prob (mean softmax probability)\n"
    "  --halves         also split the texts into two disjoint seeded halves, rank\n"
    "                   each, and print the overlap of their top 1, top k and top N\n"
    "                   (the stability of the ranking, as in the paper's Table 8)\n"
    "  --seed N         the split of --halves (default 1)\n"
    "  --json           one JSON object, with the full (layer x expert) matrices\n"
    "  --tokenizer P    tokenizer.json (default MODEL_DIR/tokenizer.json)\n";

static void print_result(const Attribution *a, const ModelConfig *config, const char *file,
                         int top, AttributionStatistic statistic, const HalfOverlaps *halves,
                         bool as_json)
{
    if (as_json) {
        json_t *root = attribution_json(a, config, file, top, statistic, halves);
        char *text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(text);
        free(text);
        json_decref(root);
        return;
    }
    int E = a->num_experts;
    int *layers = xmalloc((size_t)top * sizeof(int)), *experts = xmalloc((size_t)top * sizeof(int));
    int n = attribution_rank_by(a, config, statistic, layers, experts, top);
    printf("%s: %d sequences, %ld tokens\n", file, a->sequences, a->tokens);
    printf("rank  layer  expert  score (Eq. 2)  selection share  mean prob\n");
    for (int i = 0; i < n; i++) {
        size_t at = (size_t)layers[i] * E + experts[i];
        printf("%4d  %5d  %6d  %13.5f  %15.5f  %9.5f\n", i + 1, layers[i], experts[i],
               a->gate_score[at], a->selection_share[at], a->prob_mean[at]);
    }
    for (int i = 0; i < halves->count; i++)
        printf("overlap of the top %d between two disjoint halves: %.4f\n", halves->top[i],
               halves->overlap[i]);
    free(layers);
    free(experts);
}

/* A whole decimal integer in [low, high]: "5x", "" and out-of-range values are
 * refused (atoi took "5x" as 5 and wrapped 4294967297 to 1). */
static bool parse_integer(const char *text, long low, long high, long *out)
{
    char *end;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (end == text || *end != '\0' || errno != 0 || value < low || value > high)
        return false;
    *out = value;
    return true;
}

int cmd_attribute(int argc, char **argv)
{
    static const struct option options[] = {
        {"forget", required_argument, NULL, 'f'}, {"json", no_argument, NULL, 'j'},
        {"top", required_argument, NULL, 'n'}, {"sequences", required_argument, NULL, 'z'},
        {"tokenizer", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
        {"rank-by", required_argument, NULL, 'r'}, {"halves", no_argument, NULL, 'H'},
        {"seed", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    const char *forget = NULL, *tokenizer_path = NULL;
    bool as_json = false, halves = false;
    int top = 10, sequences = 0, opt;
    long seed = 1;
    AttributionStatistic statistic = ATTRIBUTION_GATE_SCORE;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'f': forget = optarg; break;
        case 'j': as_json = true; break;
        case 'n':
        case 'z': {
            long value;
            if (!parse_integer(optarg, opt == 'n' ? 1 : 0, INT_MAX, &value)) {
                fprintf(stderr, "uoe-wb: attribute: --%s: expected a%s integer, got '%s'\n",
                        opt == 'n' ? "top" : "sequences", opt == 'n' ? " positive" : " non-negative",
                        optarg);
                return EXIT_USAGE;
            }
            *(opt == 'n' ? &top : &sequences) = (int)value;
            break;
        }
        case 't': tokenizer_path = optarg; break;
        case 'H': halves = true; break;
        case 's':
            if (!parse_integer(optarg, LONG_MIN, LONG_MAX, &seed)) {
                fprintf(stderr, "uoe-wb: attribute: --seed: expected an integer, got '%s'\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'r':
            if (attribution_statistic_parse(optarg, &statistic) < 0)
                return cli_report_error();
            break;
        case 'h': fputs(attribute_usage, stdout); return 0;
        default: fputs(attribute_usage, stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || !forget || top < 1 || sequences < 0) {
        fputs(attribute_usage, stderr);
        return EXIT_USAGE;
    }
    const char *model_dir = argv[optind];
    TextCorpus corpus = {0};
    Tokenizer *tokenizer = NULL;
    Model model = {0};
    Attribution attribution = {0};
    int status = 1;
    if (text_corpus_load(&corpus, forget) < 0 ||
        tokenizer_load(&tokenizer, tokenizer_path ? tokenizer_path : model_dir) < 0 ||
        checkpoint_load(&model, model_dir, NULL) < 0) {
        cli_report_error();
        goto done;
    }
    if (attribution_compute(&model, tokenizer, &corpus, sequences, &attribution) < 0) {
        error_prefix("%s", forget);
        cli_report_error();
        goto done;
    }
    HalfOverlaps overlaps = {0};
    if (halves) {
        const int wanted[3] = {1, model.config.experts_per_token, top};
        for (int i = 0; i < 3; i++)
            if (i == 0 || wanted[i] > overlaps.top[overlaps.count - 1])
                overlaps.top[overlaps.count++] = wanted[i];
        if (attribution_half_overlap(&model, tokenizer, &corpus, sequences, (uint64_t)seed,
                                     statistic, overlaps.top, overlaps.count, overlaps.overlap) < 0) {
            error_prefix("%s", forget);
            cli_report_error();
            goto done;
        }
    }
    print_result(&attribution, &model.config, forget, top, statistic, &overlaps, as_json);
    status = 0;
done:
    attribution_free(&attribution);
    model_free(&model);
    tokenizer_free(tokenizer);
    text_corpus_free(&corpus);
    return status;
}
