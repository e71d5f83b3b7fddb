"""The mutation list of bench/mutants.py: small slips a kernel developer
might make in the model of the base mm and in ``reference``.

Each entry:

- ``name``: a short identifier (``--only NAME``);
- ``module``: the model module, under ``vcpcheck.``;
- ``function``: the Python function the slip is in.  It is a kernel
  function (REPLACEd by its C name), or a helper of its module that is
  not in the symbol table, named with the kernel functions that call it
  in ``via``: those are re-made with the mutated helper in their globals
  and REPLACEd;
- ``snippet`` and ``replacement``: the exact source text, which must
  occur exactly once in the function, and what it becomes;
- ``description``: the slip, in one line;
- ``base`` (optional): the target the variant builds on.  By default
  ``reference``, or ``base`` when reference replaces the function (the
  slip is then unreachable through reference);
- ``survives`` (optional): for a mutant the default check does not kill,
  why, after looking at it: equivalent at every bound, unreachable from
  the callers' API, or a property or bound the checker lacks.
"""

MUTATIONS = [
    # --- buddy merging: __free_one_page, the buddy index, page_is_buddy ----------------
    dict(name="free_one_page_no_rmv_order", module="impl.page_alloc",
         function="__free_one_page",
         snippet="        k.rmv_page_order(buddy)\n", replacement="",
         description="__free_one_page merges a buddy without rmv_page_order() "
                     "(the SPIN bench's seeded defect)"),
    dict(name="free_one_page_nr_free_not_dropped", module="impl.page_alloc",
         function="__free_one_page",
         snippet="        zone.nr_free[order] -= 1\n", replacement="",
         description="__free_one_page takes the buddy off its list but leaves "
                     "nr_free[order] as it was"),
    dict(name="free_one_page_merge_past_top", module="impl.page_alloc",
         function="__free_one_page",
         snippet="while order < k.MAX_ORDER - 1:", replacement="while order < k.MAX_ORDER:",
         description="__free_one_page merges up to order MAX_ORDER (one too far)"),
    dict(name="free_one_page_combined_backwards", module="impl.page_alloc",
         function="__free_one_page",
         snippet="page = page + (combined_idx - page_idx)",
         replacement="page = page + (page_idx - combined_idx)",
         description="__free_one_page moves to the merged block in the wrong "
                     "direction"),
    dict(name="free_one_page_count_one", module="impl.page_alloc",
         function="__free_one_page",
         snippet="zone.NR_FREE_PAGES += 1 << order", replacement="zone.NR_FREE_PAGES += 1",
         description="__free_one_page adds 1 to NR_FREE_PAGES instead of 2^order"),
    dict(name="combined_index_or", module="impl.page_alloc",
         function="__find_combined_index",
         snippet="return page_idx & ~(1 << order)", replacement="return page_idx | (1 << order)",
         description="__find_combined_index sets the order bit instead of "
                     "clearing it (the upper buddy as the merged block)"),
    dict(name="find_buddy_add", module="impl.page_alloc",
         function="__page_find_buddy",
         snippet="return page + ((page_idx ^ (1 << order)) - page_idx)",
         replacement="return page + ((page_idx + (1 << order)) - page_idx)",
         description="__page_find_buddy adds the block size instead of "
                     "flipping the order bit (an upper half looks up, not down)"),
    dict(name="page_is_buddy_any_order", module="impl.page_alloc",
         function="page_is_buddy",
         snippet="if k.PageBuddy(buddy) and k.page_order(buddy) == order:",
         replacement="if k.PageBuddy(buddy):",
         description="page_is_buddy forgets to compare the buddy's order"),
    dict(name="page_is_buddy_no_zone_check", module="impl.page_alloc",
         function="page_is_buddy",
         snippet="if k.zone_of(page) is not k.zone_of(buddy):",
         replacement="if False:",
         description="page_is_buddy forgets the same-zone test",
         survives="equivalent at every bound the checker runs: zones start and "
                  "end on MAX_ORDER-aligned pfns in the model (the i386 HIGHMEM "
                  "boundary is at a multiple of 2^(MAX_ORDER-1) pages), so a "
                  "buddy of order < MAX_ORDER-1 is always in its page's zone; "
                  "only a zone boundary inside a top-order block, which 2.6.25 "
                  "also rules out (it needs the check for holes in mem_map, "
                  "not modelled), would tell"),
    # --- free lists (list_add / list_del) ------------------------------------------------
    dict(name="free_list_add_tail", module="impl.page_alloc",
         function="free_list_add",
         via=["__free_one_page", "expand"],
         snippet="    k.lru_next[page], k.lru_prev[page] = nxt, s\n",
         replacement="    k.lru_next[page], k.lru_prev[page] = nxt, nxt\n",
         description="list_add (free lists) sets the new entry's prev to the "
                     "old first entry instead of the head"),
    dict(name="free_list_del_no_prev_fix", module="impl.page_alloc",
         function="free_list_del",
         via=["__free_one_page", "__rmqueue_smallest"],
         snippet="        k.lru_prev[nxt] = prv\n", replacement="        pass\n",
         description="list_del (free lists) does not fix the next entry's prev "
                     "link"),
    dict(name="rmqueue_takes_last", module="impl.page_alloc",
         function="free_list_first",
         via=["__rmqueue_smallest"],
         snippet="    page = zone.head_next[i]\n",
         replacement="    page = zone.head_prev[i]\n",
         description="__rmqueue_smallest takes the last block of the free list "
                     "(FIFO) instead of the first (LIFO)",
         survives="equivalent for every invariant: which free block of an order "
                  "is handed out is the allocator's choice, and every block of "
                  "the list is correct to hand out; only a property about "
                  "cache-hot reuse (LIFO order), which no invariant states, "
                  "would tell the two apart"),
    dict(name="rmqueue_count_current_order", module="impl.page_alloc",
         function="__rmqueue_smallest",
         snippet="zone.NR_FREE_PAGES -= 1 << order",
         replacement="zone.NR_FREE_PAGES -= 1 << current_order",
         description="__rmqueue_smallest subtracts the size of the block it "
                     "split, not of what it hands out"),
    dict(name="rmqueue_skips_top_order", module="impl.page_alloc",
         function="__rmqueue_smallest",
         snippet="for current_order in range(order, k.MAX_ORDER):",
         replacement="for current_order in range(order, k.MAX_ORDER - 1):",
         description="__rmqueue_smallest never looks at the top-order free list",
         survives="needs a property the checker lacks: after boot every free page "
                  "is in a top-order block (4 blocks of order 2 at the checking "
                  "bound), so every allocation from the booted kernel fails; NULL "
                  "is a legal answer to every call and no invariant says an "
                  "allocation must succeed when a free block fits.  Only the "
                  "fragmented start (pin splits the blocks) allocates at all.  A "
                  "'no spurious failure' property would kill it"),
    # --- expand ------------------------------------------------------------------------
    dict(name="expand_order_low", module="impl.page_alloc", function="expand",
         snippet="k.set_page_order(page + size, high)",
         replacement="k.set_page_order(page + size, low)",
         description="expand marks each half it puts back with the requested "
                     "order instead of the half's"),
    dict(name="expand_one_short", module="impl.page_alloc", function="expand",
         snippet="while high > low:", replacement="while high > low + 1:",
         description="expand stops one split early (the caller gets twice what "
                     "it asked for, half of it unaccounted)"),
    dict(name="expand_no_nr_free", module="impl.page_alloc", function="expand",
         snippet="        zone.nr_free[high] += 1\n", replacement="",
         description="expand lists a half without counting it in nr_free"),
    # --- compound pages ---------------------------------------------------------------------
    dict(name="prep_compound_skip_first_tail", module="impl.page_alloc",
         function="prep_compound_page",
         snippet="for i in range(1, 1 << order):", replacement="for i in range(2, 1 << order):",
         description="prep_compound_page leaves the first tail unmarked"),
    dict(name="prep_compound_tail_self", module="impl.page_alloc",
         function="prep_compound_page",
         snippet="k.private[p] = k.page_to_word(page)",
         replacement="k.private[p] = k.page_to_word(p)",
         description="prep_compound_page points each tail's first_page at "
                     "itself"),
    dict(name="destroy_compound_keeps_tail", module="impl.page_alloc",
         function="destroy_compound_page",
         snippet="        k.__ClearPageTail(p)\n", replacement="",
         description="destroy_compound_page leaves PG_tail on the tails"),
    dict(name="destroy_compound_no_first_page_check", module="impl.page_alloc",
         function="destroy_compound_page",
         snippet="if not k.PageTail(p) or k.private[p] != head_word:",
         replacement="if not k.PageTail(p):",
         description="destroy_compound_page no longer checks each tail's "
                     "first_page",
         survives="equivalent for every caller of the API: the test is a "
                  "defensive check that only fires when something else has "
                  "already corrupted a tail's first_page, and no reachable "
                  "sequence of calls does that to a correct build (the "
                  "invariants would report the corruption first)"),
    dict(name="prep_new_page_no_order1_compound", module="impl.page_alloc",
         function="prep_new_page",
         snippet="if order and gfp_flags & __GFP_COMP:",
         replacement="if order > 1 and gfp_flags & __GFP_COMP:",
         description="prep_new_page makes no compound page of order 1"),
    dict(name="prep_new_page_keeps_private", module="impl.page_alloc",
         function="prep_new_page",
         snippet="    k.set_page_private(page, 0)\n", replacement="",
         description="prep_new_page does not clear page->private",
         survives="equivalent at every bound: every page prep_new_page is given "
                  "comes from __rmqueue_smallest, whose rmv_page_order() has "
                  "already set private to 0, so the store writes the value "
                  "already there; a page pin_free_page takes from inside a "
                  "block may keep a stale private word (a former tail's "
                  "first_page), but nothing reads the private word of an "
                  "order-0 allocated page (spec/liveness.py: a stale word)"),
    dict(name="free_pages_check_ignores_count", module="impl.page_alloc",
         function="free_pages_check",
         snippet=" or k.page_count(page) != 0", replacement="",
         description="free_pages_check no longer reports a page freed with a "
                     "nonzero count",
         survives="unreachable from the callers' API: every free goes through "
                  "put_page_testzero() (or a path that set the count to 0), so "
                  "free_pages_check never sees a nonzero count on a correct "
                  "build; the check guards against other bugs only"),
    dict(name="free_pages_order1_as_order0", module="impl.page_alloc",
         function="__free_pages",
         snippet="if order == 0:", replacement="if order <= 1:",
         description="__free_pages frees order-1 blocks as order 0 (the second "
                     "page leaks)"),
    # --- watermarks ----------------------------------------------------------------------
    dict(name="watermark_off_by_one", module="impl.page_alloc",
         function="zone_watermark_ok",
         snippet="if free_pages <= min_:                   # lowmem_reserve",
         replacement="if free_pages < min_:                    # lowmem_reserve",
         description="zone_watermark_ok lets an allocation take the zone down "
                     "to exactly its watermark",
         survives="equivalent at the checking bound, whose watermark_pages is 0: "
                  "with min 0 the test refuses exactly when no free block of the "
                  "order is left, when __rmqueue_smallest fails anyway; a bound "
                  "with --config watermark_pages=N > 0 would make it differ, and "
                  "even then no invariant states the watermark"),
    dict(name="watermark_orders_unweighted", module="impl.page_alloc",
         function="zone_watermark_ok",
         snippet="free_pages -= z.nr_free[o] << o", replacement="free_pages -= z.nr_free[o]",
         description="zone_watermark_ok discounts small blocks by count, not "
                     "by pages",
         survives="equivalent at the checking bound (watermark_pages 0): the "
                  "mutant only lets more requests through to __rmqueue_smallest, "
                  "which fails when no block of the order is free, as the "
                  "kernel's test had said; needs watermark_pages > 0 and a "
                  "watermark invariant"),
    # --- refcounts and compound helpers (mm.h) ---------------------------------------------
    dict(name="compound_head_on_compound", module="impl.mm", function="compound_head",
         snippet="if k.PageTail(page):", replacement="if k.PageCompound(page):",
         description="compound_head follows first_page on a head too"),
    dict(name="put_page_testzero_le", module="impl.mm", function="put_page_testzero",
         snippet="return k._count[page] == 0", replacement="return k._count[page] <= 0",
         description="put_page_testzero reports zero for a negative count too",
         survives="equivalent in the default check: every configuration of it "
                  "has DEBUG_VM=y, whose VM_BUG_ON stops at a count of 0 before "
                  "the decrement, so the count is never negative when tested; "
                  "with DEBUG_VM=n it would take a double put, which no call "
                  "the callers' API allows makes (frees are of live objects)"),
    dict(name="compound_order_dtor_word", module="impl.mm", function="compound_order",
         snippet='return k.lru_prev[k.deref(page + 1, "compound_order")]',
         replacement='return k.lru_next[k.deref(page + 1, "compound_order")]',
         description="compound_order reads page[1].lru.next (the destructor) "
                     "instead of lru.prev", base="base"),
    # --- vmalloc ---------------------------------------------------------------------------
    dict(name="vm_area_no_guard", module="impl.vmalloc", function="reserve_vm_area",
         via=["__get_vm_area_node"],
         snippet="size += k.PAGE_SIZE                       # the guard page",
         replacement="size += 0                                 # the guard page",
         description="__get_vm_area_node forgets the guard page"),
    dict(name="vm_area_touching_gt", module="impl.vmalloc", function="reserve_vm_area",
         via=["__get_vm_area_node"],
         snippet="if tmp.addr + tmp.size >= addr:", replacement="if tmp.addr + tmp.size > addr:",
         description="__get_vm_area_node compares an area's end with > where "
                     "the kernel has >=",
         survives="equivalent at every bound: when an earlier area ends exactly "
                  "at addr, the kernel's branch sets addr to that end, which is "
                  "addr already (the alignment is a page or, for ioremap, the "
                  "area's own, and area ends are aligned to it)"),
    dict(name="vm_area_exact_fit_refused", module="impl.vmalloc", function="reserve_vm_area",
         via=["__get_vm_area_node"],
         snippet="if size + addr <= tmp.addr:", replacement="if size + addr < tmp.addr:",
         description="__get_vm_area_node refuses a hole that fits exactly",
         survives="needs a property the checker lacks: the mutant only skips "
                  "an exactly fitting hole and places the area further up (or "
                  "fails with 'out of vmalloc space', which a caller must "
                  "handle anyway); the areas stay disjoint with their guard "
                  "pages, so no invariant breaks.  A first-fit or 'vmalloc "
                  "succeeds when a hole fits' property would kill it"),
    dict(name="vunmap_leaks_last_page", module="impl.vmalloc", function="__vunmap",
         snippet="for i in range(area.nr_pages):", replacement="for i in range(area.nr_pages - 1):",
         description="__vunmap frees all the area's pages but the last"),
    dict(name="vunmap_keeps_desc", module="impl.vmalloc", function="__vunmap",
         snippet="    k.kfree(area.desc)\n", replacement="",
         description="__vunmap does not kfree the vm_struct"),
    dict(name="map_vm_area_maps_guard", module="impl.vmalloc", function="map_vm_area",
         snippet="end = addr + area.size - k.PAGE_SIZE", replacement="end = addr + area.size",
         description="map_vm_area maps the guard page too"),
    dict(name="vmalloc_to_page_masks", module="impl.vmalloc", function="vmalloc_to_page",
         snippet="k.ptes.get(vmalloc_addr >> k.PAGE_SHIFT)",
         replacement="k.ptes.get((vmalloc_addr & ~(k.PAGE_SIZE - 1)) >> k.PAGE_SHIFT)",
         description="vmalloc_to_page masks the offset before the shift (a "
                     "redundant mask)",
         survives="equivalent by construction: masking the in-page offset "
                  "before shifting it out changes no bit of the index; kept as "
                  "the list's control that an equivalent mutant survives"),
    dict(name="remove_vm_area_keeps_guard", module="impl.vmalloc",
         function="__remove_vm_area",
         snippet="            tmp.size -= k.PAGE_SIZE\n", replacement="",
         description="__remove_vm_area hands back the area with the guard "
                     "page still in its size",
         survives="unreachable: no caller reads the size of a removed area "
                  "(__vunmap, reference's fallback and its free read pages, "
                  "nr_pages and desc only), so the guard page left in it is "
                  "never seen"),
    # --- kmalloc ---------------------------------------------------------------------------
    dict(name="kmalloc_page_size_large", module="impl.slub", function="__kmalloc",
         snippet="if size > k.PAGE_SIZE:", replacement="if size >= k.PAGE_SIZE:",
         description="__kmalloc serves a PAGE_SIZE request from kmalloc_large",
         survives="equivalent for every invariant: it is reached (the explore "
                  "engine counts 23,152 states against reference's 22,656: a "
                  "caller asks for exactly PAGE_SIZE), but a PAGE_SIZE object "
                  "from kmalloc_large is an order-0 compound-less page that "
                  "kfree gives back through put_page, so the caller gets a "
                  "correct object either way; only a property about which "
                  "allocator serves a size would tell"),
    dict(name="kmalloc_large_no_comp", module="impl.slub", function="kmalloc_large",
         snippet="flags | __GFP_COMP, k.get_order(size)", replacement="flags, k.get_order(size)",
         description="kmalloc_large asks for a non-compound block (kfree's "
                     "put_page of the head then frees order 0)"),
    dict(name="get_order_one_more", module="impl.slub", function="get_order",
         snippet="order = -1", replacement="order = 0",
         description="get_order answers one order too many"),
    # --- reference: the fallback, its free, the head lookup ---------------------------------
    dict(name="fallback_tails_keep_count", module="impl.series.reference",
         function="____alloc_vcompound",
         snippet="        k.set_page_count(tail, 0)\n", replacement="",
         description="the fallback leaves each tail's _count at 1"),
    dict(name="fallback_skips_first_tail", module="impl.series.reference",
         function="____alloc_vcompound",
         snippet="for i in range(1, nr_pages):", replacement="for i in range(2, nr_pages):",
         description="the fallback marks the tails from the second one on"),
    dict(name="fallback_order_minus_one", module="impl.series.reference",
         function="____alloc_vcompound",
         snippet="k.lru_prev[array_get(k, pages, 1)] = order",
         replacement="k.lru_prev[array_get(k, pages, 1)] = order - 1",
         description="the fallback stores order - 1 in pages[1]"),
    dict(name="fallback_map_fail_leaks_desc", module="impl.series.reference",
         function="____alloc_vcompound",
         snippet="            k.kfree(area.desc)\n", replacement="",
         description="the fallback does not kfree the vm_struct when mapping "
                     "fails"),
    dict(name="fallback_fail_leaks_page", module="impl.series.reference",
         function="____alloc_vcompound",
         snippet="for i in range(got):", replacement="for i in range(got - 1):",
         description="the fallback's error path frees all the pages it got but "
                     "one"),
    dict(name="physical_order0_too", module="impl.series.reference", function="_physical",
         via=["alloc_vcompound", "__alloc_vcompound"],
         snippet="\n                and order)", replacement=")",
         description="VFALLBACK_ALWAYS sends order-0 requests to the fallback too"),
    dict(name="vcompound_free_defer_in_irq_only", module="impl.series.reference",
         function="vcompound_free",
         snippet="if not k.preemptible():", replacement="if k.in_interrupt():",
         description="vcompound_free defers only in interrupt context, not "
                     "under a spinlock",
         survives="needs a check the model lacks: an immediate free runs "
                  "remove_vm_area, unmap_kernel_range, free_hot_page and kfree, "
                  "and none of them checks its context in the model (2.6.25's "
                  "vfree has BUG_ON(in_interrupt()), but remove_vm_area has none: "
                  "the hazards are vmlist_lock, a write_lock that is not irq-safe, "
                  "and the TLB flush IPI with interrupts off, neither modelled); "
                  "so a free under a spinlock leaves the same state whether it "
                  "is deferred or not.  A might_sleep or lock-context check in "
                  "unmap_kernel_range / __remove_vm_area would kill it"),
    dict(name="vcompound_free_never_defers", module="impl.series.reference",
         function="vcompound_free",
         snippet="if not k.preemptible():", replacement="if False:",
         description="vcompound_free always frees at once, in any context",
         survives="as vcompound_free_defer_in_irq_only, and in interrupt "
                  "context too: the immediate free path checks no context in "
                  "the model (remove_vm_area has no BUG_ON(in_interrupt()); the "
                  "TLB flush and vmlist_lock are not modelled), so the deferred "
                  "free, the point of V3's keventd work, is not checked at all"),
    dict(name="head_page_no_compound_head", module="impl.series.reference",
         function="vcompound_head_page",
         snippet="else k.compound_head(page)", replacement="else page",
         description="vcompound_head_page returns the page, not its head"),
    dict(name="free_vcompound_addr_order0", module="impl.series.reference",
         function="__free_vcompound",
         snippet='k.call("__free_pages", page, k.compound_order(page))',
         replacement='k.call("__free_pages", page, 0)',
         description="__free_vcompound frees a physical object as order 0"),
    dict(name="free_vcompound_head_is_virtual", module="impl.series.reference",
         function="free_vcompound",
         snippet="if k.PageVcompound(page):", replacement="if k.PageHead(page):",
         description="free_vcompound takes every compound head for a virtual "
                     "one"),
    dict(name="vcompound_free_keeps_private", module="impl.series.reference",
         function="__vcompound_free",
         snippet="    k.private[head] = 0\n", replacement="",
         description="__vcompound_free leaves the vmalloc address in the head's "
                     "private word",
         survives="equivalent for what the callers can observe: once the head is "
                  "free its private word is stale (spec/liveness.py); "
                  "set_page_order overwrites it if the page heads a free block, "
                  "prep_new_page clears it on the next allocation, and nothing "
                  "reads it in between (PageVcompound needs PageHead, cleared)"),
    dict(name="vcompound_free_keeps_tail_flag", module="impl.series.reference",
         function="__vcompound_free",
         snippet='        k.call("__ClearPageTail", tail)\n', replacement="",
         description="__vcompound_free leaves PG_tail on the tails"),
    dict(name="page_vcompound_any_compound", module="impl.series.reference",
         function="PageVcompound",
         snippet="k.PageHead(page) and", replacement="k.PageCompound(page) and",
         description="PageVcompound tests PageCompound instead of PageHead",
         survives="equivalent on both arches: the only pages PageCompound adds "
                  "are tails, whose private word is first_page, a struct page "
                  "address in mem_map (vmemmap on x86_64, lowmem on i386), never "
                  "in the vmalloc range, so is_vmalloc_addr() fails for them as "
                  "PageHead did"),
    dict(name="compound_order_reads_head", module="impl.series.reference",
         function="compound_order",
         snippet="k.vmalloc_to_page(k.private[page] + k.PAGE_SIZE)",
         replacement="k.vmalloc_to_page(k.private[page])",
         description="compound_order of a virtual object reads the head's "
                     "lru.prev instead of pages[1]'s"),
    # --- converted users (base clients) ------------------------------------------------------
    dict(name="free_thread_info_order0", module="impl.clients.thread_info",
         function="free_thread_info",
         snippet="k.free_pages(ti, THREAD_ORDER)", replacement="k.free_pages(ti, 0)",
         description="free_thread_info frees the stack as order 0"),
    dict(name="xor_frees_order1", module="impl.clients.xor",
         function="calibrate_xor_blocks",
         snippet="k.free_pages(b1, 2)", replacement="k.free_pages(b1, 1)",
         description="calibrate_xor_blocks frees its order-2 buffer as order 1"),
]
