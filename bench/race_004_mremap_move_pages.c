// SPDX-License-Identifier: GPL-2.0
/*
 * race_004_mremap_move_pages [SECONDS] [PAGES]: seed 004 from userspace,
 * mremap(2) moving a range back into the vma it came from (copy_vma()
 * merges it) against move_pages(2) of the same pages.
 *
 * Layout: one anonymous vma of 2*PAGES base pages (default 64 per half,
 * MADV_NOHUGEPAGE), every page holding a stamp. Each round the mover
 * mremap()s the upper half away to a hole X (a new vma sharing the anon_vma),
 * then a second thread move_pages() those pages (at X) to the other node
 * while the mover, after a random delay in [0, the migrator's last duration],
 * mremap()s them back, where copy_vma() merges the destination into the lower
 * half's vma. move_pages() looks the pages up under mmap_lock but migrates
 * them without it, so the migration's rmap walks (try_to_migrate,
 * remove_migration_ptes) run against the move. On 7.3 copy_vma() sets
 * need_rmap_locks for this merge and move_ptes() takes the rmap locks, so the
 * walk never sees the pte between the two vmas.
 *
 * Detection, after both finished a round (no migration in flight):
 * "stale-migration-entry" (a pte of the range is a swap-type entry in
 * /proc/self/pagemap: no swap is configured, so it is a migration entry
 * remove_migration_ptes() missed, seed 004's symptom), "page-lost" (pte
 * none), "data-pattern", or a kernel taint. The range is read only after its
 * ptes were checked (touching a stale migration entry would spin in
 * migration_entry_wait()).
 */
#include "race.h"
#include <pthread.h>
#include <sys/mman.h>

static char *base, *hole;
static size_t half;
static unsigned long npages;
static volatile int go, done, stop;
static volatile double mig_us = 200;
static unsigned long moved_total;

static void *migrator(void *arg)
{
	void **addrs = calloc(npages, sizeof(void *));
	int *nodes = calloc(npages, sizeof(int)), *status = calloc(npages, sizeof(int));
	int seen = 0;

	(void)arg;
	for (;;) {
		double t;
		unsigned long i;

		while (go == seen && !stop)
			;
		if (stop)
			break;
		seen = go;
		for (i = 0; i < npages; i++) {
			addrs[i] = hole + i * 4096;
			nodes[i] = seen & 1;
			status[i] = -1;
		}
		t = race_now();
		race_move_pages(npages, addrs, nodes, status);
		mig_us = (race_now() - t) * 1e6;
		for (i = 0; i < npages; i++)
			moved_total += status[i] == (seen & 1);
		__atomic_store_n(&done, seen, __ATOMIC_RELEASE);
	}
	return NULL;
}

static uint64_t stamp(unsigned long round, unsigned long i)
{
	return (round << 20) | i | 0x4000000000000000ULL;
}

int main(int argc, char **argv)
{
	unsigned long i, rng = 0x9e3779b97f4a7c15ULL ^ (unsigned long)getpid(), round = 0;
	pthread_t th;
	uint64_t *pmbuf;
	char *res;
	int pm;

	race_start("004-mremap-move-pages", argc, argv);
	race_need_two_nodes();
	npages = argc > 2 ? strtoul(argv[2], NULL, 0) : 64;
	if (!npages)
		npages = 64;
	half = npages * 4096;
	pmbuf = calloc(2 * npages, sizeof(*pmbuf));
	if (!pmbuf)
		race_skip("calloc");
	pm = open("/proc/self/pagemap", O_RDONLY);
	if (pm < 0)
		race_skip("/proc/self/pagemap: %s", strerror(errno));
	/* the hole X between two PROT_NONE guards, then the range itself */
	res = mmap(NULL, 3 * half, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	base = mmap(NULL, 2 * half, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED || base == MAP_FAILED)
		race_skip("mmap: %s", strerror(errno));
	hole = res + half;
	munmap(hole, half);
	madvise(base, 2 * half, MADV_NOHUGEPAGE);
	for (i = 0; i < 2 * npages; i++)
		*(uint64_t *)(base + i * 4096) = stamp(0, i);
	if (pthread_create(&th, NULL, migrator, NULL))
		race_skip("pthread_create");
	for (;;) {
		double delay;

		round++;
		if (mremap(base + half, half, half, MREMAP_MAYMOVE | MREMAP_FIXED, hole) != hole)
			race_skip("mremap away: %s", strerror(errno));
		delay = (race_xorshift(&rng) % 1000) / 1000.0 * mig_us;
		__atomic_store_n(&go, (int)round, __ATOMIC_RELEASE);
		for (double t = race_now() + delay / 1e6; race_now() < t;)
			;
		if (mremap(hole, half, half, MREMAP_MAYMOVE | MREMAP_FIXED, base + half) != base + half)
			race_skip("mremap back: %s", strerror(errno));
		while (__atomic_load_n(&done, __ATOMIC_ACQUIRE) != (int)round)
			;
		if (pread(pm, pmbuf, 2 * npages * sizeof(uint64_t),
			  (uintptr_t)base / 4096 * sizeof(uint64_t)) != (ssize_t)(2 * npages * sizeof(uint64_t)))
			race_skip("pagemap read: %s", strerror(errno));
		for (i = 0; i < 2 * npages; i++) {
			uint64_t e = pmbuf[i];

			if (e & PM_SWAP)
				race_detected("stale-migration-entry", "page %lu of %lu: pagemap %#llx "
					      "(a migration entry after every migration ended)", i,
					      2 * npages, (unsigned long long)e);
			if (!(e & PM_PRESENT))
				race_detected("page-lost", "page %lu: pte none (pagemap %#llx)", i,
					      (unsigned long long)e);
		}
		for (i = 0; i < 2 * npages; i++) {
			uint64_t *w = (uint64_t *)(base + i * 4096);

			if (*w != stamp(round - 1, i))
				race_detected("data-pattern", "page %lu: %#llx, not %#llx", i,
					      (unsigned long long)*w, (unsigned long long)stamp(round - 1, i));
			*w = stamp(round, i);
		}
		if (race_round_done())
			break;
	}
	stop = 1;
	pthread_join(th, NULL);
	fprintf(stderr, "race 004: %lu pages moved by move_pages in %lu rounds\n", moved_total, round);
	if (!moved_total)
		race_skip("move_pages never moved a page: the race never ran");
	race_missed();
	return 1;
}
