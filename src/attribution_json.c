/* An attribution as JSON (attribution_json.h). */
#include "attribution_json.h"

#include <stdlib.h>

#include "error.h"

static json_t *matrix_json(const double *values, int rows, int cols)
{
    json_t *matrix = json_array();
    for (int r = 0; r < rows; r++) {
        json_t *row = json_array();
        for (int c = 0; c < cols; c++)
            json_array_append_new(row, json_real(values[(size_t)r * cols + c]));
        json_array_append_new(matrix, row);
    }
    return matrix;
}

json_t *attribution_json(const Attribution *a, const ModelConfig *config, const char *file,
                         int top, AttributionStatistic statistic, const HalfOverlaps *halves)
{
    int E = a->num_experts;
    int *layers = xmalloc((size_t)top * sizeof(int)), *experts = xmalloc((size_t)top * sizeof(int));
    int n = attribution_rank_by(a, config, statistic, layers, experts, top);
    json_t *ranking = json_array();
    for (int i = 0; i < n; i++) {
        size_t at = (size_t)layers[i] * E + experts[i];
        json_array_append_new(ranking, json_pack("{s:i, s:i, s:f, s:f, s:f}", "layer", layers[i],
                                                 "expert", experts[i], "score", a->gate_score[at],
                                                 "selection_share", a->selection_share[at],
                                                 "prob_mean", a->prob_mean[at]));
    }
    free(layers);
    free(experts);
    json_t *root = json_pack("{s:s, s:i, s:I, s:o, s:o, s:o, s:o}", "file", file,
                             "sequences", a->sequences, "tokens", (json_int_t)a->tokens,
                             "ranking", ranking,
                             "gate_score", matrix_json(a->gate_score, a->num_layers, E),
                             "selection_share", matrix_json(a->selection_share, a->num_layers, E),
                             "prob_mean", matrix_json(a->prob_mean, a->num_layers, E));
    json_object_set_new(root, "ranked_by", json_string(attribution_statistic_name(statistic)));
    if (halves->count > 0) {
        json_t *overlaps = json_array();
        for (int i = 0; i < halves->count; i++)
            json_array_append_new(overlaps, json_pack("{s:i, s:f}", "top", halves->top[i],
                                                      "overlap", halves->overlap[i]));
        json_object_set_new(root, "half_overlap", overlaps);
    }
    return root;
}
