/* uoe-wb: a terminal research workbench for unlearning in Mixture-of-Experts
 * language models. This file dispatches the subcommands. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#ifdef HAVE_CUDA
#include "cuda_device.h"
#endif
#include "error.h"

static const char usage_text[] =
    "Usage: uoe-wb [COMMAND [ARGUMENTS...]]\n"
    "A workbench for machine unlearning in Mixture-of-Experts language models.\n"
    "Without a command it opens the interactive workbench on the default model and\n"
    "world (UOE against its baseline); with standard output not a terminal, it runs\n"
    "that experiment headless and prints progress lines.\n"
    "\n"
    "Commands:\n"
    "  info MODEL_DIR [--json]      print the architecture, parameter counts and\n"
    "                               MoE layout of a Hugging Face model directory\n"
    "  logits MODEL_DIR --ids 1,2,3 --out FILE.npy [--routing FILE.npy]\n"
    "                               run the model on token ids and write the logits\n"
    "                               [T, V] (float32) and the top-k experts [M, T, K]\n"
    "                               (int32) of the M MoE layers as NumPy files\n"
    "  tokenize TOKENIZER_OR_MODEL_DIR (--text STR | --decode IDS)\n"
    "                               encode text to token ids, or decode ids to text,\n"
    "                               with a Hugging Face tokenizer.json\n"
    "  tokenize --train --vocab-size N --out FILE [--special TOKEN]... CORPUS.jsonl...\n"
    "                               learn a byte-level BPE tokenizer from JSON Lines\n"
    "                               text, as Hugging Face's BpeTrainer learns it\n"
    "  eval MODEL_DIR --mcq FILE.jsonl [--json] [--tokenizer PATH]\n"
    "                               multiple-choice accuracy (acc, acc_norm), scored\n"
    "                               as lm-evaluation-harness scores it\n"
    "  attribute MODEL_DIR --forget FILE.jsonl [--json]\n"
    "                               rank (layer, expert) by the Eq. 2 gate score of\n"
    "                               a forget corpus (UOE's expert attribution)\n"
    "  train --config CONFIG.json --tokenizer TOKENIZER.json --corpus FILE.jsonl\n"
    "        --out DIR [OPTIONS]   pretrain a model on JSON Lines text (see train --help)\n"
    "  unlearn MODEL_DIR --world DIR --out RUN_DIR [OPTIONS]\n"
    "                               unlearn the forget set (GA, GradDiff, NPO, SimNPO,\n"
    "                               RMU; UOE or any trainable set, with the router\n"
    "                               anchor) and write a run directory (see unlearn --help)\n"
    "  run SCRIPT.lua [KEY=VALUE...] [--resume RUN_DIR]\n"
    "                               run a Lua experiment script headless, or take a\n"
    "                               killed one on (see man uoe-wb-lua)\n"
    "  tui [SCRIPT.lua [KEY=VALUE...] | MODEL_DIR [OPTIONS]]\n"
    "                               the interactive workbench: live routing heatmaps,\n"
    "                               router shift, losses, FE and UT of a Lua\n"
    "                               experiment's runs (by default\n"
    "                               experiments/default.lua), or of an unlearning run\n"
    "                               and its baseline (see tui --help)\n"
    "  plot RUN_DIR [--format png|svg|pdf] [--out DIR]\n"
    "                               render a run's routing heatmaps, router shift, loss\n"
    "                               curves, FE/UT and expert shares through gnuplot;\n"
    "                               with RUN_DIR... --compare, FE against UT by run\n"
    "\n"
    "Options:\n"
    "  -h, --help     display this help and exit\n"
    "  -V, --version  output version information and exit\n"
    "\n"
    "Run 'uoe-wb COMMAND --help' for the options of one command.\n"
    "See 'man uoe-wb' for the model directory layout and examples.\n";

static void print_backends(void)
{
#ifdef HAVE_CUDA
    int devices = cuda_device_count();
    printf("Backends: cpu (OpenBLAS), cuda (%d device%s", devices, devices == 1 ? "" : "s");
    char name[256];
    for (int i = 0; i < devices; i++)
        if (cuda_device_describe(i, name, sizeof name) == 0)
            printf("%s%s", i ? ", " : ": ", name);
    printf(")\n");
#else
    printf("Backends: cpu (OpenBLAS); built without CUDA\n");
#endif
}

int cli_report_error(void)
{
    fprintf(stderr, "uoe-wb: %s\n", error_message());
    return 1;
}

int cli_parse_number(const char *option, const char *text, double min, double *out)
{
    char *end;
    errno = 0;
    double value = strtod(text, &end);
    if (end == text || *end != '\0' || errno != 0 || !(value >= min))
        return error_set("%s: expected a number of at least %g, got '%s'", option, min, text);
    *out = value;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return cmd_tui(argc, argv);
    const char *command = argv[1];
    if (strcmp(command, "--help") == 0 || strcmp(command, "-h") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(command, "--version") == 0 || strcmp(command, "-V") == 0) {
        printf("uoe-wb %s\n", PACKAGE_VERSION);
        print_backends();
        printf("Copyright (C) 2026 the uoe-wb authors.\n"
               "This is free software: you are free to change and redistribute it.\n"
               "There is NO WARRANTY, to the extent permitted by law.\n");
        return 0;
    }
    if (strcmp(command, "info") == 0)
        return cmd_info(argc - 1, argv + 1);
    if (strcmp(command, "logits") == 0)
        return cmd_logits(argc - 1, argv + 1);
    if (strcmp(command, "tokenize") == 0)
        return cmd_tokenize(argc - 1, argv + 1);
    if (strcmp(command, "eval") == 0)
        return cmd_eval(argc - 1, argv + 1);
    if (strcmp(command, "train") == 0)
        return cmd_train(argc - 1, argv + 1);
    if (strcmp(command, "attribute") == 0)
        return cmd_attribute(argc - 1, argv + 1);
    if (strcmp(command, "unlearn") == 0)
        return cmd_unlearn(argc - 1, argv + 1);
    if (strcmp(command, "run") == 0)
        return cmd_run(argc - 1, argv + 1);
    if (strcmp(command, "plot") == 0)
        return cmd_plot(argc - 1, argv + 1);
    if (strcmp(command, "tui") == 0)
        return cmd_tui(argc - 1, argv + 1);
    fprintf(stderr, "uoe-wb: unknown command '%s'\nTry 'uoe-wb --help' for more information.\n",
            command);
    return EXIT_USAGE;
}
