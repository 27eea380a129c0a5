/* Trainable sets for unlearning (METHOD.md §3, §4): which tensors, and which
 * experts of an expert stack, an unlearning run may change. The sets chosen
 * by attribution take the Eq. 2 ranking; the rest ignore it. */
#ifndef UOE_TRAINABLE_SET_H
#define UOE_TRAINABLE_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attribution.h"
#include "model.h"

typedef enum {
    TRAINABLE_ALL,          /* every parameter */
    TRAINABLE_EXPERTS,      /* every routed expert of every MoE layer */
    TRAINABLE_ROUTERS,      /* every router (Table 1) */
    TRAINABLE_UOE,          /* the top-1 expert and its layer's router */
    TRAINABLE_TOP_M_LAYER,  /* the M best experts of the top-1's layer, and that router */
    TRAINABLE_TOP_M_GLOBAL, /* the M best (layer, expert) pairs, and their layers' routers */
    TRAINABLE_TOP1_SHARED,  /* UOE plus that layer's shared expert */
    TRAINABLE_RANDOM,       /* one seeded random (layer, expert), and its layer's router */
    TRAINABLE_ESFT,         /* per layer, experts by gate score until their share reaches p */
    TRAINABLE_EXPLICIT,     /* the caller's (layer, expert) pairs, e.g. a Lua policy's choice */
} TrainableSetKind;

typedef struct {
    int layer, expert;
} TrainableTarget;

typedef struct {
    TrainableSetKind kind;
    int top_m;               /* M of the top-M sets */
    double esft_threshold;   /* p of ESFT, a fraction of each layer's gate score */
    uint64_t seed;           /* of the random expert */
    AttributionStatistic rank_by; /* how the ranked sets rank experts (ESFT always by gate) */
    const TrainableTarget *targets; /* (target_count) of TRAINABLE_EXPLICIT, the caller's */
    int target_count;
    bool target_routers;     /* TRAINABLE_EXPLICIT: also train the targets' layers' routers */
} TrainableSetSpec;

typedef struct {
    int count;               /* (layer, expert) pairs the set trains */
    int *layers, *experts;   /* (count) in decreasing Eq. 2 score, or the explicit targets in
                              * the caller's order; empty for whole-tensor sets */
    size_t trainable;        /* parameters */
    size_t total;
    double fraction;         /* trainable / total: the tunable fraction */
} TrainableSelection;

/* Reads a set's name: all, experts, routers, uoe, top<M>-layer,
 * top<M>-global, top1+shared, random, esft or esft:<p>. The seed of the
 * random set is left at 0 for the caller to set. Explicit sets have no name
 * to read: the caller fills kind, targets and target_routers. */
int trainable_set_parse(const char *text, TrainableSetSpec *spec);
/* The canonical name of a set, as trainable_set_parse reads it; explicit
 * sets are "explicit" (with their routers) or "explicit-no-routers". */
void trainable_set_name(const TrainableSetSpec *spec, char *out, size_t size);

/* Makes the set the model's committed trainable set. attribution may be NULL
 * for the sets that do not rank experts. Explicit targets must be distinct
 * experts of MoE layers; the error names the first that is not. */
int trainable_set_apply(Model *model, const TrainableSetSpec *spec,
                        const Attribution *attribution, TrainableSelection *selection);
void trainable_selection_free(TrainableSelection *selection);

#endif
