/*
 * select_list.h - intrusive doubly linked lists of frame numbers, shared
 * by the page-selection policies.
 *
 * A list lives in an array of links indexed by gfn, with its head (a
 * sentinel) at an index past the last gfn, so a frame costs 8 bytes per
 * list it can be on and no pointers.  Links are 32 bits: policies accept
 * at most XENSHAPE__POLICY_MAX_FRAMES frames, which leaves the top bits of
 * a link free for flags where a policy needs them (it masks them off).
 * XENSHAPE__NIL in next marks a frame that is on no list.  Also here: the
 * small seeded generator of the policies that draw at random.
 */

#ifndef XENSHAPE_SELECT_LIST_H
#define XENSHAPE_SELECT_LIST_H

#include <stdbool.h>
#include <stdint.h>

#define XENSHAPE__NIL UINT32_MAX

typedef struct xenshape__link {
    uint32_t prev, next;
} xenshape__link;

static inline void xenshape__list_init(xenshape__link *l, uint32_t head)
{
    l[head].prev = l[head].next = head;
}

static inline bool xenshape__list_empty(const xenshape__link *l,
                                        uint32_t head)
{
    return l[head].next == head;
}

static inline bool xenshape__list_on(const xenshape__link *l, uint32_t x)
{
    return l[x].next != XENSHAPE__NIL;
}

/* Insert x right after at (after the head: at the front). */
static inline void xenshape__list_add_after(xenshape__link *l, uint32_t at,
                                            uint32_t x)
{
    uint32_t nx = l[at].next;

    l[x].prev = at;
    l[x].next = nx;
    l[nx].prev = x;
    l[at].next = x;
}

/* Insert x right before at (before the head: at the back). */
static inline void xenshape__list_add_before(xenshape__link *l, uint32_t at,
                                             uint32_t x)
{
    xenshape__list_add_after(l, l[at].prev, x);
}

static inline void xenshape__list_del(xenshape__link *l, uint32_t x)
{
    uint32_t p = l[x].prev, nx = l[x].next;

    l[p].next = nx;
    l[nx].prev = p;
    l[x].prev = l[x].next = XENSHAPE__NIL;
}

/* Move x (on a list) to the front of the list headed by head. */
static inline void xenshape__list_move_front(xenshape__link *l,
                                             uint32_t head, uint32_t x)
{
    xenshape__list_del(l, x);
    xenshape__list_add_after(l, head, x);
}

/* Move x (on a list) to the back of the list headed by head. */
static inline void xenshape__list_move_back(xenshape__link *l,
                                            uint32_t head, uint32_t x)
{
    xenshape__list_del(l, x);
    xenshape__list_add_before(l, head, x);
}

/* A small fast generator (splitmix64) for policies that draw at random;
 * deterministic for a given seed. */
static inline uint64_t xenshape__rand_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0, without modulo bias worth caring about at
 * n < 2^32 (Lemire's multiply-shift). */
static inline uint64_t xenshape__rand_below(uint64_t *state, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)xenshape__rand_next(state) * n)
                      >> 64);
}

#endif /* XENSHAPE_SELECT_LIST_H */

/*
 * Local variables:
 * mode: C
 * c-basic-offset: 4
 * indent-tabs-mode: nil
 * End:
 */
