"""Workloads for ``vcpcheck simulate``: seeded generators of kernel calls at
real sizes.

A workload is a class whose ``step(sim, rng)`` makes one call into the
kernel through the simulator (checks/simulate.py): an allocation or a free
of the page cache, of slab pages, or of one of the series' users through
the vcompound API.  The simulator counts the calls, keeps what is live, and
plays kswapd (it reclaims the page cache when a zone falls below its low
watermark).  Every random choice comes from ``rng`` (random.Random(seed)),
so the same seed gives the same calls.

The sizes of the series' users are those of impl/clients/ (the model of
each caller the series converts, checks/clients.py drives them one at a
time):

* kernel stacks, THREAD_ORDER 1 (8 KiB, include/asm-x86/thread_info_{32,64}.h),
  on fork and freed on exit (V3 11/14);
* e1000 tx and rx buffer_info rings: count * sizeof(struct e1000_buffer)
  (32 bytes on x86_64, 16 on i386), 256 descriptors each, the driver's
  default (drivers/net/e1000/e1000_param.c, E1000_DEFAULT_TXD/RXD), at
  boot and on every ifup (V3 12/14);
* the zone wait tables, wait_table_hash_nr_entries(present pages) entries
  of sizeof(wait_queue_head_t) (mm/page_alloc.c#L2401: pages / 256 rounded
  up to a power of two, at most 4096), at boot, kept (V3 08/14);
* SLUB's loc_track table for /sys/slab/*/alloc_calls, PAGE_SIZE /
  sizeof(struct location) entries doubled as call sites are found
  (mm/slub.c alloc_loc_track), allocated and freed per read (V3 10/14).

Rates are per workload call, and are stated in each class.  They are
modelling choices, not measurements: a build machine forks on the order of
a hundred processes a second while it reads files at tens of MB/s (tens of
thousands of pages), so a fork every 50 calls is already a fork-heavy mix.
"""
from __future__ import annotations

from vcpcheck.impl.clients.e1000 import sizeof_e1000_buffer
from vcpcheck.impl.clients.slub_loc import sizeof_location
from vcpcheck.impl.clients.thread_info import THREAD_ORDER
from vcpcheck.impl.clients.wait_table import wait_queue_head_size
from vcpcheck.impl.gfp import GFP_KERNEL, __GFP_RECLAIMABLE, __GFP_ZERO

# Module-level names: inside a class body Python would mangle __GFP_*.
GFP_KERNEL_ZERO = GFP_KERNEL | __GFP_ZERO
GFP_KERNEL_RECLAIMABLE = GFP_KERNEL | __GFP_RECLAIMABLE

E1000_DEFAULT_DESC = 256          # drivers/net/e1000/e1000_hw.h E1000_DEFAULT_TXD/RXD
PAGES_PER_WAITQUEUE = 256         # mm/page_alloc.c#L2398
WAIT_TABLE_MAX_ENTRIES = 4096     # mm/page_alloc.c#L2403 (4096UL cap)


def wait_table_hash_nr_entries(pages: int) -> int:
    """wait_table_hash_nr_entries() (mm/page_alloc.c#L2401-L2432): pages /
    PAGES_PER_WAITQUEUE rounded up to a power of two, in [4, 4096]."""
    size = 1
    pages //= PAGES_PER_WAITQUEUE
    while size < pages:
        size <<= 1
    return max(4, min(size, WAIT_TABLE_MAX_ENTRIES))


class SeriesUsers:
    """The series' users at their rates, shared by every workload.

    Per call: a fork with probability 1/50 while fewer than
    ``max_tasks`` (200) tasks live, else an exit of a random task; an
    e1000 ifdown/ifup (the oldest ring freed, and allocated again on the
    next call) every 100,000 calls; a read of /sys/slab/*/alloc_calls (a loc_track table of order
    0-2, allocated and freed) every 10,000 calls.  Boot: both e1000 rings
    and a wait table for each zone, kept."""

    fork_every = 50
    max_tasks = 200
    ifup_every = 100_000
    slub_read_every = 10_000

    def boot(self, sim):
        k = sim.k
        for zone in k.zones:
            entries = wait_table_hash_nr_entries(zone.spanned_pages)
            order = k.get_order(entries * wait_queue_head_size(k))
            sim.alloc_vcompound("wait_table", GFP_KERNEL, order)
        self.ifup(sim)

    def ifup(self, sim):
        k = sim.k
        order = k.get_order(E1000_DEFAULT_DESC * sizeof_e1000_buffer(k))
        sim.alloc_vcompound("e1000", GFP_KERNEL_ZERO, order)   # tx
        sim.alloc_vcompound("e1000", GFP_KERNEL, order)                # rx

    def step(self, sim, rng) -> bool:
        """Make one call if a user is due; return whether one was made."""
        n = sim.calls
        if n and n % self.ifup_every == 0 and sim.live["e1000"]:
            sim.free_oldest("e1000")           # ifdown: the oldest ring goes
            self.ifup_pending = True
            return True
        if getattr(self, "ifup_pending", False):
            self.ifup_pending = False          # ifup: and comes back
            sim.alloc_vcompound("e1000", GFP_KERNEL, sim.k.get_order(
                E1000_DEFAULT_DESC * sizeof_e1000_buffer(sim.k)))
            return True
        if n and n % self.slub_read_every == 0:
            size = (sim.k.PAGE_SIZE // sizeof_location(sim.k)) << rng.randrange(3)
            order = sim.k.get_order(size * sizeof_location(sim.k))
            sim.alloc_vcompound("slub_loc", GFP_KERNEL, order, transient=True)
            return True
        if rng.randrange(self.fork_every) == 0:
            if len(sim.live["stack"]) < self.max_tasks:
                sim.alloc_vcompound("stack", GFP_KERNEL, THREAD_ORDER)
            else:
                sim.free_random("stack", rng)
            return True
        return False


class PageCache:
    """Movable churn: page-cache pages (GFP_HIGHUSER_MOVABLE, order 0, the
    mask of page_cache_alloc for a file's mapping, include/linux/pagemap.h).

    Per call: read a page in (probability ``read``, 0.7), else drop a
    random cached page (truncate or unlink).  Pages stay on the
    simulator's LRU until dropped or reclaimed, so memory fills with page
    cache, as it does on a machine that has run for a while: at 0.7 the
    cache grows by 0.4 pages a call, and memory is full after about 2.5
    calls per page of RAM when the page cache has all the calls."""

    read = 0.7

    def __init__(self, read=None):
        if read is not None:
            self.read = read

    def step(self, sim, rng):
        if rng.random() < self.read or not sim.pagecache_size():
            sim.pagecache_add()
        else:
            sim.pagecache_drop_random(rng)


class Slab:
    """Unmovable churn: slab pages as SLUB allocates them (GFP_KERNEL, or
    GFP_KERNEL | __GFP_RECLAIMABLE for SLAB_RECLAIM_ACCOUNT caches such as
    dentries and inodes).

    Orders: 0 with probability 0.7, 1: 0.15, 2: 0.10, 3: 0.05 (SLUB in
    2.6.25 picks orders up to slub_max_order = PAGE_ALLOC_COSTLY_ORDER, 3,
    mm/slub.c calculate_order); a third of the order-0 pages reclaimable.
    Lifetimes: a slab page is freed when its last object is; one in five
    is long-lived (kept until the slab share reaches ``max_share`` of
    memory), the rest are freed at random.  Per call: allocate with
    probability 0.55 while slab holds less than ``max_share`` (0.3) of
    memory, else free."""

    orders = ((0, 0.70), (1, 0.15), (2, 0.10), (3, 0.05))
    long_lived = 0.2
    alloc = 0.55
    max_share = 0.3

    def step(self, sim, rng):
        share = sim.slab_pages / sim.k.nr_pages
        if share < self.max_share and (rng.random() < self.alloc
                                       or not sim.live["slab"]):
            r, order = rng.random(), 0
            for o, p in self.orders:
                if r < p:
                    order = o
                    break
                r -= p
            gfp = GFP_KERNEL
            if order == 0 and rng.random() < 1 / 3:
                gfp = GFP_KERNEL_RECLAIMABLE
            user = "slab_long" if rng.random() < self.long_lived else "slab"
            sim.alloc_pages(user, gfp, order)
        elif sim.live["slab"]:
            sim.free_random("slab", rng)
        else:
            sim.alloc_pages("slab", GFP_KERNEL, 0)


class Workload:
    """A named mix; ``step`` makes exactly one kernel call."""
    name = ""

    def __init__(self):
        self.users = SeriesUsers()

    def boot(self, sim):
        self.users.boot(sim)

    def step(self, sim, rng):
        raise NotImplementedError


class PageCacheWorkload(Workload):
    """page-cache: movable churn (PageCache) and the series' users."""
    name = "page-cache"

    def __init__(self):
        super().__init__()
        self.pc = PageCache()

    def step(self, sim, rng):
        if not self.users.step(sim, rng):
            self.pc.step(sim, rng)


class SlabWorkload(Workload):
    """slab: unmovable churn (Slab) over a page cache that fills the rest
    (one call in two is page cache), and the series' users."""
    name = "slab"

    def __init__(self):
        super().__init__()
        self.pc, self.slab = PageCache(), Slab()

    def step(self, sim, rng):
        if self.users.step(sim, rng):
            return
        if rng.random() < 0.5:
            self.slab.step(sim, rng)
        else:
            self.pc.step(sim, rng)


class UsersWorkload(Workload):
    """users: the series' users at four times their SeriesUsers rates (a
    fork every 12 calls, up to 800 tasks) over page-cache churn, so their
    orders meet a full, churning memory."""
    name = "users"

    def __init__(self):
        super().__init__()
        self.users.fork_every = 12
        self.users.max_tasks = 800
        self.users.ifup_every = 25_000
        self.users.slub_read_every = 2_500
        self.pc = PageCache()

    def step(self, sim, rng):
        if not self.users.step(sim, rng):
            self.pc.step(sim, rng)


class StressHighalloc(Workload):
    """stress-highalloc, after Mel Gorman's anti-fragmentation tests
    (bench-stresshighalloc in his VM regression tests, used for the
    grouping-by-mobility series of 2.6.23/24): fragment memory with a mixed
    load, then attempt many high-order allocations while it runs.

    Phase 1, until lowmem is full (ZONE_NORMAL, where GFP_KERNEL requests
    are met, has fewer than 2 * pages_min free pages: kswapd, which runs
    every 64 calls, keeps it just above its high watermark of 1.5 *
    pages_min once it is full) but for no more than the first
    ``fill`` share of the calls (0.6): page cache and
    slab interleaved, 7 to 3, as parallel kernel builds mix file reads and
    dentry/inode/buffer slab; the series' users at their rates.  The page
    cache reads in 19 calls of 20 here (PageCache(read=0.95)), so memory is
    full after about 2.5 calls per page of RAM (600,000 calls fill 1 GiB).
    Phase 2: every other call is a high-order attempt through the
    vcompound API, __alloc_vcompound(GFP_KERNEL, order), orders 1 to 6
    in turn (8 KiB stacks up to the 256 KiB of the larger wait tables and
    rings); what it gets is held, up to a quarter of lowmem, the oldest
    freed first beyond that.  The other calls keep the phase-1 load
    running."""
    name = "stress-highalloc"
    fill = 0.6
    orders = (1, 2, 3, 4, 5, 6)

    def __init__(self):
        super().__init__()
        self.pc, self.slab = PageCache(read=0.95), Slab()
        self.attempt = 0

    def load(self, sim, rng):
        if self.users.step(sim, rng):
            return
        if rng.random() < 0.3:
            self.slab.step(sim, rng)
        else:
            self.pc.step(sim, rng)

    def step(self, sim, rng):
        marks = sim.result.marks
        if "lowmem full from call" not in marks:
            normal = sim.k.zones[0]
            if normal.NR_FREE_PAGES < 2 * normal.pages_min:
                marks["lowmem full from call"] = sim.calls
        if "high-order attempts from call" not in marks:
            if ("lowmem full from call" not in marks
                    and sim.calls < self.fill * sim.total_calls):
                self.load(sim, rng)
                return
            marks["high-order attempts from call"] = sim.calls
        if sim.calls % 2:
            self.load(sim, rng)
            return
        k = sim.k
        if sim.held_pages["highalloc"] > k.lowmem_pages // 4:
            sim.free_oldest("highalloc")
            return
        order = self.orders[self.attempt % len(self.orders)]
        self.attempt += 1
        sim.alloc_vcompound("highalloc", GFP_KERNEL, min(order, k.MAX_ORDER - 1))


WORKLOADS = {w.name: w for w in (PageCacheWorkload, SlabWorkload, UsersWorkload,
                                 StressHighalloc)}
