/* A ring buffer of fixed-size records, for histories that grow without
 * bound (steps, evaluations, log lines): it keeps the newest `capacity`
 * records and drops the oldest first, as nvtop keeps its plots' history. */
#ifndef UOE_RING_H
#define UOE_RING_H

#include <stddef.h>

typedef struct {
    size_t record_size;
    int capacity;
    int count;               /* records held, at most capacity */
    int next;                /* the slot the next push writes */
    long pushed;             /* records pushed since the last clear, dropped ones included */
    unsigned char *records;  /* (capacity, record_size) */
} Ring;

void ring_init(Ring *ring, size_t record_size, int capacity);
void ring_free(Ring *ring);
void ring_clear(Ring *ring);
void ring_push(Ring *ring, const void *record);
/* The i-th record held, 0 = the oldest; NULL outside [0, count). */
const void *ring_at(const Ring *ring, int i);
/* The newest record, or NULL when empty. */
const void *ring_newest(const Ring *ring);
/* Makes dst a copy of src, allocating dst's storage when it has none. */
void ring_copy(Ring *dst, const Ring *src);

#endif
