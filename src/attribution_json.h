/* An attribution as JSON: what `uoe-wb attribute --json` prints and
 * `uoe.attribute{save = ...}` writes, and what attribution_load reads back. */
#ifndef UOE_ATTRIBUTION_JSON_H
#define UOE_ATTRIBUTION_JSON_H

#include <jansson.h>

#include "attribution.h"

/* The overlaps of a half split (attribution_half_overlap): count sizes. */
typedef struct {
    int count;
    int top[8];              /* the M of each overlap */
    double overlap[8];
} HalfOverlaps;

/* {file, sequences, tokens, ranking (the top `top` pairs by statistic),
 * gate_score, selection_share, prob_mean (L, E), ranked_by, and
 * half_overlap when halves->count > 0}. */
json_t *attribution_json(const Attribution *attribution, const ModelConfig *config,
                         const char *file, int top, AttributionStatistic statistic,
                         const HalfOverlaps *halves);

#endif
