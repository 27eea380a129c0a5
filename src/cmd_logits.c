/* uoe-wb logits: the model's logits and routing for given token ids, as .npy
 * files, for debugging and for comparison with other implementations. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "checkpoint.h"
#include "cli.h"
#include "error.h"
#include "model.h"
#include "npy.h"

static const char logits_usage[] =
    "Usage: uoe-wb logits MODEL_DIR --ids ID,ID,... --out FILE.npy [--routing FILE.npy]\n"
    "Runs the model on one sequence of token ids and writes the logits [T, V]\n"
    "(float32) to FILE.npy. --routing writes the top-k expert indices [M, T, K]\n"
    "(int32) of the M MoE layers in order, dense layers left out, in descending\n"
    "gate order.\n";

/* Parses "1,2,3" into ids; every id must lie in [0, vocab_size). */
static int parse_ids(const char *text, int vocab_size, int **ids_out, int *count_out)
{
    int capacity = 16, count = 0;
    int *ids = xmalloc((size_t)capacity * sizeof(int));
    const char *p = text;
    for (;;) {
        char *end;
        errno = 0;
        long value = strtol(p, &end, 10);
        if (end == p || errno != 0 || (*end != ',' && *end != '\0')) {
            free(ids);
            return error_set("--ids: expected comma-separated integers, got '%s'", text);
        }
        if (value < 0 || value >= vocab_size) {
            free(ids);
            return error_set("--ids: token id %ld is outside the vocabulary [0, %d)", value, vocab_size);
        }
        if (count == capacity)
            ids = xrealloc(ids, (size_t)(capacity *= 2) * sizeof(int));
        ids[count++] = (int)value;
        if (*end == '\0')
            break;
        p = end + 1;
    }
    *ids_out = ids;
    *count_out = count;
    return 0;
}

/* (M, T, K) top-k indices of the MoE layers from the latest forward. */
static int write_routing(const Model *model, const char *path, int T)
{
    const ModelConfig *c = &model->config;
    int M = model_config_num_moe_layers(c), K = c->experts_per_token;
    int *routing = xmalloc((size_t)M * T * K * sizeof(int));
    int m = 0;
    for (int l = 0; l < c->num_layers; l++) {
        if (!c->layer_is_moe[l])
            continue;
        for (int i = 0; i < T * K; i++)
            routing[(size_t)m * T * K + i] = model->acts.layer[l].topk_index[i];
        m++;
    }
    int rc = npy_write(path, NPY_INT32, 3, (int64_t[]){M, T, K}, routing);
    free(routing);
    return rc;
}

int cmd_logits(int argc, char **argv)
{
    static const struct option options[] = {
        {"ids", required_argument, NULL, 'i'},
        {"out", required_argument, NULL, 'o'},
        {"routing", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *ids_text = NULL, *out_path = NULL, *routing_path = NULL;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 'i': ids_text = optarg; break;
        case 'o': out_path = optarg; break;
        case 'r': routing_path = optarg; break;
        case 'h': fputs(logits_usage, stdout); return 0;
        default: fputs(logits_usage, stderr); return EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || !ids_text || !out_path) {
        fputs(logits_usage, stderr);
        return EXIT_USAGE;
    }
    Model model;
    if (checkpoint_load(&model, argv[optind], NULL) < 0)
        return cli_report_error();
    int *ids = NULL, T = 0;
    int status = 1;
    if (parse_ids(ids_text, model.config.vocab_size, &ids, &T) < 0) {
        model_free(&model);
        return cli_report_error();
    }
    model_forward(&model, ids, NULL, 1, T);
    if (npy_write(out_path, NPY_FLOAT32, 2, (int64_t[]){T, model.config.vocab_size},
                  model.acts.logits) < 0 ||
        (routing_path && write_routing(&model, routing_path, T) < 0))
        cli_report_error();
    else
        status = 0;
    free(ids);
    model_free(&model);
    return status;
}
