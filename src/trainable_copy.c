#include "trainable_copy.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

static void add_slice(TrainableCopy *c, float *at, size_t length)
{
    c->at = xrealloc(c->at, (size_t)(c->count + 1) * sizeof *c->at);
    c->length = xrealloc(c->length, (size_t)(c->count + 1) * sizeof *c->length);
    c->saved = xrealloc(c->saved, (size_t)(c->count + 1) * sizeof *c->saved);
    c->at[c->count] = at;
    c->length[c->count] = length;
    c->saved[c->count] = xmalloc(length * sizeof(float));
    memcpy(c->saved[c->count], at, length * sizeof(float));
    c->floats += length;
    c->count++;
}

void trainable_copy_take(TrainableCopy *c, const Model *m)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < m->num_params; i++) {
        const Param *p = &m->params[i];
        if (!p->trainable)
            continue;
        if (!p->expert_trainable) {
            add_slice(c, p->value, p->numel);
            continue;
        }
        size_t per_expert = p->numel / (size_t)p->shape[0];
        for (int e = 0; e < p->shape[0]; e++)
            if (p->expert_trainable[e])
                add_slice(c, p->value + (size_t)e * per_expert, per_expert);
    }
}

void trainable_copy_restore(const TrainableCopy *c)
{
    for (int i = 0; i < c->count; i++)
        memcpy(c->at[i], c->saved[i], c->length[i] * sizeof(float));
}

void trainable_copy_update(TrainableCopy *c)
{
    for (int i = 0; i < c->count; i++)
        memcpy(c->saved[i], c->at[i], c->length[i] * sizeof(float));
}

void trainable_copy_swap(TrainableCopy *c)
{
    for (int i = 0; i < c->count; i++) {
        float *a = c->at[i], *b = c->saved[i];
        for (size_t j = 0; j < c->length[i]; j++) {
            float swap = a[j];
            a[j] = b[j];
            b[j] = swap;
        }
    }
}

void trainable_copy_free(TrainableCopy *c)
{
    for (int i = 0; i < c->count; i++)
        free(c->saved[i]);
    free(c->at);
    free(c->length);
    free(c->saved);
    memset(c, 0, sizeof *c);
}

void trainable_copy_gather(const TrainableCopy *c, bool live, float *flat)
{
    for (int i = 0; i < c->count; i++) {
        memcpy(flat, live ? c->at[i] : c->saved[i], c->length[i] * sizeof(float));
        flat += c->length[i];
    }
}

void trainable_copy_scatter(TrainableCopy *c, bool live, const float *flat)
{
    for (int i = 0; i < c->count; i++) {
        memcpy(live ? c->at[i] : c->saved[i], flat, c->length[i] * sizeof(float));
        flat += c->length[i];
    }
}
