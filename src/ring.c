#include "ring.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

void ring_init(Ring *ring, size_t record_size, int capacity)
{
    CHECK(capacity > 0 && record_size > 0);
    *ring = (Ring){.record_size = record_size, .capacity = capacity,
                   .records = xcalloc((size_t)capacity, record_size)};
}

void ring_free(Ring *ring)
{
    free(ring->records);
    memset(ring, 0, sizeof *ring);
}

void ring_clear(Ring *ring)
{
    ring->count = 0;
    ring->next = 0;
    ring->pushed = 0;
}

void ring_push(Ring *ring, const void *record)
{
    memcpy(ring->records + (size_t)ring->next * ring->record_size, record, ring->record_size);
    ring->next = (ring->next + 1) % ring->capacity;
    if (ring->count < ring->capacity)
        ring->count++;
    ring->pushed++;
}

const void *ring_at(const Ring *ring, int i)
{
    if (i < 0 || i >= ring->count)
        return NULL;
    int oldest = (ring->next - ring->count + ring->capacity) % ring->capacity;
    return ring->records + (size_t)((oldest + i) % ring->capacity) * ring->record_size;
}

const void *ring_newest(const Ring *ring)
{
    return ring_at(ring, ring->count - 1);
}

void ring_copy(Ring *dst, const Ring *src)
{
    if (!dst->records || dst->capacity != src->capacity || dst->record_size != src->record_size) {
        ring_free(dst);
        ring_init(dst, src->record_size, src->capacity);
    }
    unsigned char *records = dst->records;
    *dst = *src;
    dst->records = records;
    /* until it first wraps, a ring holds its records in slots 0 .. count-1 */
    memcpy(dst->records, src->records, (size_t)src->count * src->record_size);
}
