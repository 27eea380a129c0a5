/* A copy of the trainable part of a model: of each trainable tensor, or of
 * the trainable experts only of an expert stack. It is the frozen reference
 * of NPO and RMU (the originals, swapped in for a reference forward, while
 * every frozen tensor stays shared) and the saved state of a checkpoint. */
#ifndef UOE_TRAINABLE_COPY_H
#define UOE_TRAINABLE_COPY_H

#include <stdbool.h>
#include <stddef.h>

#include "model.h"

typedef struct {
    int count;               /* slices */
    float **at;              /* (count) where each slice lives in the parameter arena */
    size_t *length;          /* (count) floats per slice */
    float **saved;           /* (count) the copies */
    size_t floats;           /* sum of length */
} TrainableCopy;

/* Copies the model's committed trainable set as it is now. */
void trainable_copy_take(TrainableCopy *copy, const Model *model);
/* Writes the copy back into the model (the set must not have changed). */
void trainable_copy_restore(const TrainableCopy *copy);
/* Exchanges the copy and the model's values: calling it twice is a no-op. */
void trainable_copy_swap(TrainableCopy *copy);
/* Takes the model's current values into an existing copy of the same set. */
void trainable_copy_update(TrainableCopy *copy);
void trainable_copy_free(TrainableCopy *copy);

/* The slices one after another, (floats): of the model's current values
 * (live = true) or of the copy's; and back, into the same place. */
void trainable_copy_gather(const TrainableCopy *copy, bool live, float *flat);
void trainable_copy_scatter(TrainableCopy *copy, bool live, const float *flat);

#endif
