/*
 * The 2.6.25 buddy allocator (mm/page_alloc.c) as vcpcheck's Python model
 * implements it, in Promela, for bench/bench_spin.py: the same bounded
 * system as its restricted KernelModel, explored by SPIN.
 *
 * Written from the kernel's semantics and impl/page_alloc.py, not pasted:
 *   - one zone from pfn 0, one free list per order (migrate types and the
 *     per-cpu lists are stubbed in the Python model too);
 *   - __rmqueue_smallest() takes the head of the first non-empty list of
 *     the smallest order that fits; expand() and __free_one_page() add at
 *     the head (list_add), so each list is kept in the kernel's order;
 *   - a free block's first page has PG_buddy and its order in private
 *     (set_page_order/rmv_page_order); the buddy of page_idx at order o is
 *     page_idx ^ (1 << o), merged while it is PG_buddy with the same order
 *     (page_is_buddy, which BUGs on a nonzero count);
 *   - __GFP_COMP above order 0: PG_head on the head, the order in
 *     page[1].lru.prev (corder[head + 1] here), PG_tail and first_page
 *     (private) on every tail; destroy_compound_page() checks them at free;
 *   - zone_watermark_ok() with pages_min 0, as the Python model boots it;
 *   - the callers hold their allocations in NSLOTS slots of (pfn + 1, order).
 *
 * Labelled divergences from the Python model (dead words, never read in
 * this subset): the free lists are arrays in list order instead of lru
 * links through the pages, so there are no lru words to go stale or be
 * poisoned; destroy_compound_page() clears the tails' first_page and the
 * compound order that the kernel leaves behind.  The state is then a
 * function of (the ordered free lists, the held allocations), the
 * projection bench_spin.py counts on the Python side.
 *
 * The actions, each one d_step (one transition, no intermediate states):
 * alloc_pages(GFP_KERNEL [| __GFP_COMP], order) for every order below
 * MAX_ORDER, and __free_pages() of each held allocation.  After each, the
 * invariants the Python side checks on this subset are asserted; a
 * hidden bit named after each invariant makes SPIN's message name it.
 *
 * Bounds and modes, all -D options to spin:
 *   NPAGES (8), MAX_ORDER (3)  the bound (mem_pages, FORCE_MAX_ZONEORDER)
 *   SORTED                     held slots sorted by pfn (handle symmetry:
 *                              one state per multiset of held blocks);
 *                              without it an allocation takes the first
 *                              empty slot, so which slot holds what counts
 *   DEFECT_MERGE_KEEPS_BUDDY   the seeded defect: __free_one_page() merges
 *                              without rmv_page_order() on the buddy
 *
 * The initial state is the kernel before mem_init(); the first d_step
 * boots it, so SPIN stores one state more than the Python side counts.
 */

#ifndef NPAGES
#define NPAGES 8
#endif
#ifndef MAX_ORDER
#define MAX_ORDER 3
#endif
#define NSLOTS NPAGES          /* at most NPAGES allocations are held */
#define NONE 255
#define WMARK_LOW 0            /* pages_min 0: low = min + min/4 = 0 */

/* page flag bits (only these three are ever set in this subset) */
#define PG_buddy 1
#define PG_head 2
#define PG_tail 4

/* struct page, per pfn */
byte flags[NPAGES];
byte private[NPAGES];          /* order of a free head; first_page of a tail */
byte count[NPAGES];            /* _count */
byte corder[NPAGES];           /* page[1].lru.prev: a compound head's order */

/* zone->free_area[order]: free_list[order * NPAGES + i] = pfn + 1, head
   first, 0 after the last entry; nr_free; NR_FREE_PAGES */
byte free_list[MAX_ORDER * NPAGES];
byte nr_free[MAX_ORDER];
byte NR_FREE_PAGES;

/* the callers: held_pfn = pfn + 1 (0 = empty slot), held_order */
byte held_pfn[NSLOTS];
byte held_order[NSLOTS];

/* temporaries: not part of the state (hidden), always set before use.
   pan's BFS refuses hidden variables: with -DBFS they are ordinary
   globals, zeroed at the end of every action, so they add bytes to the
   state vector but no states. */
#ifdef BFS
#define TEMP
#else
#define TEMP hidden
#endif
TEMP byte pg, ord, idx, buddy, comb, cur, hi, sz, i, j, s, bp, bo;
TEMP byte q, o2, j2, p2, n2, total, f2;
TEMP short fp, mn;
TEMP byte ok, bad, bug;
TEMP byte cover[NPAGES], listed[NPAGES], infree[NPAGES];

inline clear_temps() {
#ifdef BFS
    pg = 0; ord = 0; idx = 0; buddy = 0; comb = 0; cur = 0; hi = 0; sz = 0;
    i = 0; j = 0; s = 0; bp = 0; bo = 0; q = 0; o2 = 0; j2 = 0; p2 = 0;
    n2 = 0; total = 0; f2 = 0; fp = 0; mn = 0; ok = 0; bad = 0; bug = 0;
    for (q : 0 .. NPAGES - 1) {
        cover[q] = 0; listed[q] = 0; infree[q] = 0
    }
    q = 0
#else
    skip
#endif
}

/* named invariants: always 1, so assert(name && expr) names the invariant */
TEMP byte kernel_reported_no_errors = 1, free_lists_consistent = 1,
    free_blocks_maximally_merged = 1, buddy_flag_matches_order = 1,
    every_pfn_accounted_once = 1, compound_head_tail_consistent = 1,
    free_pages_have_clean_flags = 1;

/* --- free_area lists (list_add at the head, list_del anywhere) ------ */

inline list_add(o, p) {
    j = NPAGES - 1;
    do
    :: j > 0 -> free_list[(o) * NPAGES + j] = free_list[(o) * NPAGES + j - 1]; j--
    :: else -> break
    od;
    free_list[(o) * NPAGES] = (p) + 1
}

inline list_del(o, p) {
    j = 0;
    do
    :: j < NPAGES && free_list[(o) * NPAGES + j] != (p) + 1 -> j++
    :: else -> break
    od;
    assert(free_lists_consistent && j < NPAGES);     /* p is on the list */
    do
    :: j < NPAGES - 1 -> free_list[(o) * NPAGES + j] = free_list[(o) * NPAGES + j + 1]; j++
    :: else -> break
    od;
    free_list[(o) * NPAGES + NPAGES - 1] = 0
}

inline set_page_order(p, o) {
    private[p] = o;
    flags[p] = flags[p] | PG_buddy
}

inline rmv_page_order(p) {
    flags[p] = flags[p] & ~PG_buddy;
    private[p] = 0
}

/* --- freeing ---------------------------------------------------------- */

/* destroy_compound_page(pg, ord): bad_page() on a wrong order or marking */
inline destroy_compound_page() {
    if
    :: corder[pg + 1] != ord || (flags[pg] & PG_head) == 0 -> bad = 1
    :: else -> skip
    fi;
    flags[pg] = flags[pg] & ~PG_head;
    corder[pg + 1] = 0;                           /* dead word, cleared */
    for (i : 1 .. (1 << ord) - 1) {
        if
        :: (flags[pg + i] & PG_tail) == 0 || private[pg + i] != pg -> bad = 1
        :: else -> skip
        fi;
        flags[pg + i] = flags[pg + i] & ~PG_tail;
        private[pg + i] = 0                       /* dead word, cleared */
    }
}

/* __free_one_page(pg, zone, ord): merge with free buddies, list the block */
inline free_one_page() {
    if
    :: (flags[pg] & (PG_head | PG_tail)) != 0 -> destroy_compound_page()
    :: else -> skip
    fi;
    idx = pg & ((1 << MAX_ORDER) - 1);
    NR_FREE_PAGES = NR_FREE_PAGES + (1 << ord);
    do
    :: ord < MAX_ORDER - 1 ->
        buddy = pg + ((idx ^ (1 << ord)) - idx);       /* __page_find_buddy */
        if
        :: buddy < NPAGES && (flags[buddy] & PG_buddy) != 0 &&
               private[buddy] == ord ->              /* page_is_buddy */
            if
            :: count[buddy] != 0 -> bug = 1             /* BUG_ON */
            :: else -> skip
            fi;
            list_del(ord, buddy);
            nr_free[ord] = nr_free[ord] - 1;
#ifndef DEFECT_MERGE_KEEPS_BUDDY
            rmv_page_order(buddy);
#endif
            comb = idx & ~(1 << ord);                   /* __find_combined_index */
            pg = pg + comb - idx;
            idx = comb;
            ord++
        :: else -> break
        fi
    :: else -> break
    od;
    set_page_order(pg, ord);
    list_add(ord, pg);
    nr_free[ord] = nr_free[ord] + 1
}

/* free_pages_check(p): bad_page() on a busy page */
inline free_pages_check(p) {
    if
    :: count[p] != 0 || (flags[p] & PG_buddy) != 0 -> bad = 1
    :: else -> skip
    fi
}

/* __free_pages(pg, ord): put_page_testzero, then free_hot_page (order 0,
   no per-cpu list) or __free_pages_ok (each page checked) */
inline free_pages() {
    if
    :: count[pg] == 0 -> bug = 1                  /* VM_BUG_ON in put_page_testzero */
    :: else -> count[pg] = count[pg] - 1
    fi;
    if
    :: count[pg] == 0 ->
        for (i : 0 .. (1 << ord) - 1) {
            free_pages_check(pg + i)
        };
        free_one_page()
    :: else -> skip
    fi
}

/* --- allocating --------------------------------------------------------- */

/* zone_watermark_ok(zone, ord, low mark): ok */
inline zone_watermark_ok() {
    fp = NR_FREE_PAGES - (1 << ord) + 1;
    mn = WMARK_LOW;
    ok = (fp > mn);
    for (q : 0 .. ord - 1) {
        fp = fp - (nr_free[q] << q);
        mn = mn >> 1;
        if
        :: fp <= mn -> ok = 0
        :: else -> skip
        fi
    }
}

/* expand(zone, pg, ord, cur): the upper halves back on the lists */
inline expand() {
    hi = cur;
    sz = 1 << hi;
    do
    :: hi > ord ->
        hi--;
        sz = sz >> 1;
        list_add(hi, pg + sz);
        nr_free[hi] = nr_free[hi] + 1;
        set_page_order(pg + sz, hi)
    :: else -> break
    od
}

/* __rmqueue_smallest(zone, ord): pg, or NONE */
inline rmqueue_smallest() {
    pg = NONE;
    cur = ord;
    do
    :: cur >= MAX_ORDER -> break
    :: cur < MAX_ORDER && free_list[cur * NPAGES] == 0 -> cur++
    :: cur < MAX_ORDER && free_list[cur * NPAGES] != 0 ->
        pg = free_list[cur * NPAGES] - 1;
        list_del(cur, pg);
        rmv_page_order(pg);
        nr_free[cur] = nr_free[cur] - 1;
        NR_FREE_PAGES = NR_FREE_PAGES - (1 << ord);
        expand();
        break
    od
}

/* prep_new_page(pg, ord, gfp): checks, _count 1, compound with __GFP_COMP */
inline prep_new_page() {
    if
    :: count[pg] != 0 || (flags[pg] & PG_buddy) != 0 -> bad = 1
    :: else -> skip
    fi;
    private[pg] = 0;
    count[pg] = 1;
    if
    :: ord > 0 ->                                 /* prep_compound_page */
        corder[pg + 1] = ord;
        flags[pg] = flags[pg] | PG_head;
        for (i : 1 .. (1 << ord) - 1) {
            flags[pg + i] = flags[pg + i] | PG_tail;
            private[pg + i] = pg
        }
    :: else -> skip
    fi
}

/* --- the callers' slots --------------------------------------------------- */

inline hold() {
#ifdef SORTED
    s = 0;
    do
    :: s < NSLOTS && held_pfn[s] != 0 && held_pfn[s] < pg + 1 -> s++
    :: else -> break
    od;
    j = NSLOTS - 1;
    do
    :: j > s -> held_pfn[j] = held_pfn[j - 1]; held_order[j] = held_order[j - 1]; j--
    :: else -> break
    od;
#else
    s = 0;
    do
    :: held_pfn[s] != 0 -> s++
    :: else -> break
    od;
#endif
    held_pfn[s] = pg + 1;
    held_order[s] = ord
}

inline unhold(slot) {
#ifdef SORTED
    j = slot;
    do
    :: j < NSLOTS - 1 -> held_pfn[j] = held_pfn[j + 1]; held_order[j] = held_order[j + 1]; j++
    :: else -> break
    od;
    held_pfn[NSLOTS - 1] = 0;
    held_order[NSLOTS - 1] = 0
#else
    held_pfn[slot] = 0;
    held_order[slot] = 0
#endif
}

/* --- the invariants (spec/invariants.py, as far as they apply) ------------ */

inline check() {
    assert(kernel_reported_no_errors && !bad && !bug);
    for (q : 0 .. NPAGES - 1) {
        cover[q] = 0; listed[q] = 0; infree[q] = 0
    }
    total = 0;
    for (o2 : 0 .. MAX_ORDER - 1) {
        n2 = 0;
        for (j2 : 0 .. NPAGES - 1) {
            if
            :: free_list[o2 * NPAGES + j2] != 0 ->
                p2 = free_list[o2 * NPAGES + j2] - 1;
                assert(free_lists_consistent && n2 == j2 && p2 < NPAGES &&
                       (flags[p2] & PG_buddy) != 0 && private[p2] == o2 &&
                       (p2 & ((1 << o2) - 1)) == 0 && p2 + (1 << o2) <= NPAGES);
                listed[p2] = o2 + 1;
                for (q : p2 .. p2 + (1 << o2) - 1) {
                    cover[q] = cover[q] + 1;
                    infree[q] = 1;
                    assert(free_pages_have_clean_flags &&
                           (flags[q] & (PG_head | PG_tail)) == 0 && count[q] == 0 &&
                           (q == p2 || (flags[q] & PG_buddy) == 0))
                }
                n2++;
                total = total + (1 << o2)
            :: else -> skip
            fi
        }
        assert(free_lists_consistent && nr_free[o2] == n2)
    }
    assert(free_lists_consistent && NR_FREE_PAGES == total);
    for (q : 0 .. NPAGES - 1) {
        /* free_blocks_maximally_merged: no listed buddy of the same order */
        if
        :: listed[q] != 0 && listed[q] < MAX_ORDER &&
               (q ^ (1 << (listed[q] - 1))) < NPAGES ->
            assert(free_blocks_maximally_merged &&
                   listed[q ^ (1 << (listed[q] - 1))] != listed[q])
        :: else -> skip
        fi;
        /* buddy_flag_matches_order: PG_buddy exactly on listed heads */
        assert(buddy_flag_matches_order &&
               ((flags[q] & PG_buddy) == 0 || listed[q] == private[q] + 1))
    }
    /* every_pfn_accounted_once (and no_leak): each page free in exactly one
       block or in exactly one held allocation */
    for (s : 0 .. NSLOTS - 1) {
        if
        :: held_pfn[s] != 0 ->
            for (q : held_pfn[s] - 1 .. held_pfn[s] - 2 + (1 << held_order[s])) {
                cover[q] = cover[q] + 1
            }
        :: else -> skip
        fi
    }
    for (q : 0 .. NPAGES - 1) {
        assert(every_pfn_accounted_once && cover[q] == 1)
    }
    /* compound_head_tail_consistent: heads and tails of allocated pages */
    for (q : 0 .. NPAGES - 1) {
        if
        :: !infree[q] && (flags[q] & PG_head) != 0 ->
            assert(compound_head_tail_consistent && q + 1 < NPAGES &&
                   corder[q + 1] >= 1 && corder[q + 1] < MAX_ORDER &&
                   (q & ((1 << corder[q + 1]) - 1)) == 0 && count[q] >= 1);
            for (j2 : q + 1 .. q + (1 << corder[q + 1]) - 1) {
                assert(compound_head_tail_consistent &&
                       (flags[j2] & PG_tail) != 0 && private[j2] == q)
            }
        :: else -> skip
        fi;
        if
        :: !infree[q] && (flags[q] & PG_tail) != 0 ->
            f2 = private[q];
            assert(compound_head_tail_consistent && f2 < q &&
                   (flags[f2] & PG_head) != 0 && q < f2 + (1 << corder[f2 + 1]) &&
                   count[q] == 0)
        :: else -> skip
        fi
    }
}

/* --- the actions (each d_step ends in clear_temps(), a skip without -DBFS:
   a loop may not end a d_step, or its exit would jump out of it) ------------------------------------------------------------ */

/* mem_init(): free_all_bootmem hands the largest aligned blocks that fit,
   from pfn 0 up, to __free_pages (each merged as __free_one_page does) */
inline boot() {
    bp = 0;
    do
    :: bp < NPAGES ->
        bo = MAX_ORDER - 1;
        do
        :: bo > 0 && ((bp & ((1 << bo) - 1)) != 0 || bp + (1 << bo) > NPAGES) -> bo--
        :: else -> break
        od;
        pg = bp; ord = bo;
        free_one_page();
        bp = bp + (1 << bo)
    :: else -> break
    od
}

inline alloc_pages(order) {
    printf("call alloc_pages %d\n", order);
    bad = 0; bug = 0;
    ord = order;
    zone_watermark_ok();
    pg = NONE;
    if
    :: ok -> rmqueue_smallest()
    :: else -> skip                               /* NULL: no reclaim in the model */
    fi;
    if
    :: pg != NONE -> prep_new_page(); hold()
    :: else -> skip
    fi;
    check()
}

inline free_slot(slot) {
    printf("call __free_pages %d %d\n", held_pfn[slot] - 1, held_order[slot]);
    bad = 0; bug = 0;
    pg = held_pfn[slot] - 1;
    ord = held_order[slot];
    unhold(slot);
    free_pages();
    check()
}

#define ALLOC(o) :: d_step { alloc_pages(o); clear_temps() }
#define FREE(k) :: d_step { held_pfn[k] != 0 -> free_slot(k); clear_temps() }

active proctype kernel()
{
    d_step { boot(); clear_temps() }
    do
    ALLOC(0)
#if MAX_ORDER > 1
    ALLOC(1)
#endif
#if MAX_ORDER > 2
    ALLOC(2)
#endif
#if MAX_ORDER > 3
    ALLOC(3)
#endif
#if MAX_ORDER > 4
    ALLOC(4)
#endif
#if MAX_ORDER > 5
#error "MAX_ORDER above 5: add ALLOC lines"
#endif
    FREE(0)
    FREE(1)
#if NSLOTS > 2
    FREE(2)
#endif
#if NSLOTS > 3
    FREE(3)
#endif
#if NSLOTS > 4
    FREE(4)
#endif
#if NSLOTS > 5
    FREE(5)
#endif
#if NSLOTS > 6
    FREE(6)
#endif
#if NSLOTS > 7
    FREE(7)
#endif
#if NSLOTS > 8
    FREE(8)
#endif
#if NSLOTS > 9
    FREE(9)
#endif
#if NSLOTS > 10
    FREE(10)
#endif
#if NSLOTS > 11
    FREE(11)
#endif
#if NSLOTS > 12
    FREE(12)
#endif
#if NSLOTS > 13
    FREE(13)
#endif
#if NSLOTS > 14
    FREE(14)
#endif
#if NSLOTS > 15
    FREE(15)
#endif
#if NSLOTS > 16
#error "NPAGES above 16: add FREE lines"
#endif
    od
}
