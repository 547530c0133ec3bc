/*
 * store_alloc.c - the page store's in-memory bookkeeping: which index
 * records and data slots are in use, how many records share each slot,
 * and the dedup table that finds a stored slot by the hash of its data.
 * None of it is on disk: open rebuilds it from the index (store_format.c).
 *
 * Allocation is next-fit over a bitmap: a batch takes the first free
 * entries at or after a cursor that only moves forward, wrapping at the
 * end.  The store thus fills like a log.  Pages leave in roughly the
 * order they came, so by the time the cursor comes round again, the
 * region ahead of it is mostly free and a batch's records land in one or
 * two index blocks and its data in a few contiguous runs, which is what
 * keeps a put down to a handful of large writes.
 *
 * Everything here except _init and _dispose runs under st->lock.  Bitmap
 * words are updated with atomic operations all the same, so that get()
 * can check a handle's bit without taking the lock.
 */

#include <string.h>
#include <stdlib.h>

#include "store/store_internal.h"

/* slots[s].next for a slot that is not in the dedup table. */
#define UNHASHED (XENSHAPE__STORE_NO_SLOT - 1u)

static size_t map_words(uint32_t nr)
{
    return ((size_t)nr + 63) / 64;
}

/* A bitmap with the bits past nr set, so that scans never pick them. */
static uint64_t *map_new(uint32_t nr)
{
    size_t words = map_words(nr);
    uint64_t *map = xenshape__calloc(words ? words : 1, sizeof(*map));

    if (map && nr % 64)
        map[words - 1] = ~UINT64_C(0) << (nr % 64);
    return map;
}

int xenshape__store_alloc_init(xenshape__store *st)
{
    size_t nb = 1;
    uint32_t s;

    st->rec_map = map_new(st->nr_records);
    st->slot_map = map_new(st->nr_slots);
    st->slots = xenshape__calloc(st->nr_slots, sizeof(*st->slots));
    while (nb < st->nr_slots)
        nb <<= 1;
    st->buckets = xenshape__malloc(nb * sizeof(*st->buckets));
    st->nr_blocks = (uint32_t)(st->index_bytes / XENSHAPE__STORE_BLOCK);
    st->dirty = xenshape__calloc(map_words(st->nr_blocks) + 1,
                                 sizeof(*st->dirty));
    st->dirty_snap = xenshape__calloc(map_words(st->nr_blocks) + 1,
                                      sizeof(*st->dirty_snap));
    if (!st->rec_map || !st->slot_map || !st->slots || !st->buckets ||
        !st->dirty || !st->dirty_snap)
        return XENSHAPE_ENOMEM;
    st->nr_dirty = 0;
    memset(st->buckets, 0xff, nb * sizeof(*st->buckets));
    st->bucket_mask = (uint32_t)(nb - 1);
    for (s = 0; s < st->nr_slots; s++)
        st->slots[s].next = UNHASHED;
    st->rec_cursor = st->slot_cursor = 0;
    st->records_used = st->slots_used = 0;
    return 0;
}

void xenshape__store_alloc_dispose(xenshape__store *st)
{
    free(st->rec_map);
    free(st->slot_map);
    free(st->slots);
    free(st->buckets);
    free(st->pending);
    free(st->dirty);
    free(st->dirty_snap);
    st->dirty = st->dirty_snap = NULL;
    st->rec_map = st->slot_map = NULL;
    st->slots = NULL;
    st->buckets = NULL;
    st->pending = NULL;
    st->nr_pending = 0;
}

static bool map_test(const uint64_t *map, uint32_t i)
{
    uint64_t w = __atomic_load_n(&map[i / 64], __ATOMIC_ACQUIRE);

    return (w >> (i % 64)) & 1;
}

static void map_set(uint64_t *map, uint32_t i)
{
    __atomic_fetch_or(&map[i / 64], UINT64_C(1) << (i % 64),
                      __ATOMIC_RELEASE);
}

static void map_clear(uint64_t *map, uint32_t i)
{
    __atomic_fetch_and(&map[i / 64], ~(UINT64_C(1) << (i % 64)),
                       __ATOMIC_RELEASE);
}

/*
 * Take n clear bits of map (nr bits) in address order from *cursor,
 * wrapping once.  The caller has checked that n are free, so the walk
 * ends within one lap (words + 1 visits: the cursor's word is visited
 * twice, its upper bits first and its lower bits last).
 */
static void map_take(uint64_t *map, uint32_t nr, uint32_t *cursor,
                     unsigned n, uint32_t *out)
{
    size_t words = map_words(nr), w = *cursor / 64, visit;
    uint64_t first_mask = ~UINT64_C(0) << (*cursor % 64);
    unsigned got = 0;
    uint32_t last = *cursor;

    for (visit = 0; visit <= words && got < n; visit++) {
        uint64_t word = __atomic_load_n(&map[w], __ATOMIC_RELAXED);
        uint64_t free_bits = ~word, take = 0;

        if (visit == 0)
            free_bits &= first_mask;
        else if (visit == words)
            free_bits &= ~first_mask;
        while (free_bits && got < n) {
            uint64_t bit = free_bits & -free_bits;

            last = (uint32_t)(w * 64 + (size_t)__builtin_ctzll(free_bits));
            out[got++] = last;
            take |= bit;
            free_bits &= free_bits - 1;
        }
        if (take)
            __atomic_fetch_or(&map[w], take, __ATOMIC_RELEASE);
        w = w + 1 == words ? 0 : w + 1;
    }
    *cursor = last + 1 >= nr ? 0 : last + 1;
}

bool xenshape__store_rec_in_use(xenshape__store *st, uint32_t idx)
{
    return idx < st->nr_records && map_test(st->rec_map, idx);
}

void xenshape__store_rec_mark(xenshape__store *st, uint32_t idx)
{
    if (map_test(st->rec_map, idx))
        return;
    map_set(st->rec_map, idx);
    st->records_used++;
}

bool xenshape__store_recs_take(xenshape__store *st, unsigned n,
                               uint32_t *out)
{
    if (n > st->nr_records - st->records_used)
        return false;
    if (n) {
        map_take(st->rec_map, st->nr_records, &st->rec_cursor, n, out);
        st->records_used += n;
    }
    return true;
}

/* New slots start with one reference (the record that will hold them)
 * and outside the dedup table until their data is durable. */
bool xenshape__store_slots_take(xenshape__store *st, unsigned n,
                                uint32_t *out)
{
    unsigned i;

    if (n > st->nr_slots - st->slots_used)
        return false;
    if (!n)
        return true;
    map_take(st->slot_map, st->nr_slots, &st->slot_cursor, n, out);
    for (i = 0; i < n; i++) {
        st->slots[out[i]].ref = 1;
        st->slots[out[i]].next = UNHASHED;
    }
    st->slots_used += n;
    return true;
}

static void dedup_remove(xenshape__store *st, uint32_t slot)
{
    struct xenshape__store_slot *e = &st->slots[slot];
    uint32_t *link = &st->buckets[e->hash & st->bucket_mask];

    if (e->next == UNHASHED)
        return;
    while (*link != XENSHAPE__STORE_NO_SLOT) {
        if (*link == slot) {
            *link = e->next;
            break;
        }
        link = &st->slots[*link].next;
    }
    e->next = UNHASHED;
}

void xenshape__store_slot_ref(xenshape__store *st, uint32_t slot)
{
    struct xenshape__store_slot *e = &st->slots[slot];

    if (!e->ref++) {
        map_set(st->slot_map, slot);
        st->slots_used++;
        e->next = UNHASHED;
    }
}

void xenshape__store_slot_unref(xenshape__store *st, uint32_t slot)
{
    struct xenshape__store_slot *e = &st->slots[slot];

    if (!e->ref || --e->ref)
        return;
    dedup_remove(st, slot);
    map_clear(st->slot_map, slot);
    st->slots_used--;
}

void xenshape__store_rec_invalidate(xenshape__store *st, uint32_t idx)
{
    uint32_t blk = idx / XENSHAPE__STORE_RECS_PER_BLOCK;

    if (!((st->dirty[blk / 64] >> (blk % 64)) & 1)) {
        st->dirty[blk / 64] |= UINT64_C(1) << (blk % 64);
        st->nr_dirty++;
    }
}

void xenshape__store_rec_release(xenshape__store *st, uint32_t idx)
{
    const struct xenshape__store_drec *rd = &st->mirror[idx];

    if (!xenshape__store_rec_in_use(st, idx))
        return;
    map_clear(st->rec_map, idx);
    st->records_used--;
    if (!(rd->flags & XENSHAPE__STORE_REC_ZERO) && rd->slot < st->nr_slots)
        xenshape__store_slot_unref(st, rd->slot);
    xenshape__store_rec_invalidate(st, idx);
}

uint32_t xenshape__store_dedup_find(xenshape__store *st, uint64_t hash)
{
    uint32_t s = st->buckets[hash & st->bucket_mask];

    while (s != XENSHAPE__STORE_NO_SLOT) {
        if (st->slots[s].hash == hash && st->slots[s].ref)
            return s;
        s = st->slots[s].next;
    }
    return XENSHAPE__STORE_NO_SLOT;
}

void xenshape__store_dedup_insert(xenshape__store *st, uint32_t slot,
                                  uint64_t hash)
{
    struct xenshape__store_slot *e = &st->slots[slot];
    uint32_t *head = &st->buckets[hash & st->bucket_mask];

    if (e->next != UNHASHED || !e->ref)
        return;
    e->hash = hash;
    e->next = *head;
    *head = slot;
}

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
