// SPDX-License-Identifier: GPL-2.0
/*
 * race_003_munmap_move_pages [SECONDS]: seed 003 from userspace, munmap(2)
 * of a range against move_pages(2) migrating it.
 *
 * Each round maps a fresh 2 MiB anonymous range between two PROT_NONE guards
 * (MADV_HUGEPAGE, so it has its own anon_vma: no neighbour can lend one) and
 * writes it (a THP when available: its copy keeps the migration window
 * open). A second thread move_pages() it to the other node while the main
 * thread, after a random delay in [0, the migrator's last duration],
 * munmap()s it. move_pages() looks the pages up under mmap_lock and migrates
 * without it: after try_to_migrate() the source folio is unmapped and only
 * migration's own anon_vma reference (folio_get_anon_vma() in
 * migrate_folio_unmap()) keeps the anon_vma alive for
 * remove_migration_ptes(); munmap() frees the vma's anon_vma meanwhile.
 *
 * Detection: only the kernel can see the use-after-free (KASAN
 * slab-use-after-free in the rmap walk): the taint watch ("kernel-taint",
 * taint B from KASAN) after every round.
 */
#include "race.h"
#include <pthread.h>
#include <sys/mman.h>

#define THP (2UL << 20)
#define NPAGES (THP / 4096)

static char *volatile range;
static volatile int go, done, stop;
static volatile double mig_us = 500;
static unsigned long moved_total;

static void *migrator(void *arg)
{
	static void *addrs[NPAGES];
	static int nodes[NPAGES], status[NPAGES];
	int seen = 0;

	(void)arg;
	for (;;) {
		unsigned long i;
		double t;

		while (go == seen && !stop)
			;
		if (stop)
			break;
		seen = go;
		for (i = 0; i < NPAGES; i++) {
			addrs[i] = range + i * 4096;
			nodes[i] = seen & 1;
		}
		t = race_now();
		race_move_pages(NPAGES, addrs, nodes, status);
		mig_us = (race_now() - t) * 1e6;
		for (i = 0; i < NPAGES; i++)
			moved_total += status[i] == (seen & 1);
		__atomic_store_n(&done, seen, __ATOMIC_RELEASE);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned long rng = 0x2545f4914f6cdd1dULL ^ (unsigned long)getpid(), round = 0;
	char *res;
	pthread_t th;

	race_start("003-munmap-move-pages", argc, argv);
	race_need_two_nodes();
	/* guard | 2 MiB-aligned range | guard */
	res = mmap(NULL, 4 * THP, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED)
		race_skip("mmap: %s", strerror(errno));
	range = (char *)((((uintptr_t)res + THP - 1) & ~(THP - 1)) + THP);
	if (pthread_create(&th, NULL, migrator, NULL))
		race_skip("pthread_create");
	for (;;) {
		double delay;

		round++;
		if (mmap(range, THP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != range)
			race_skip("mmap range: %s", strerror(errno));
		madvise(range, THP, MADV_HUGEPAGE);
		memset(range, (int)round, THP);
		delay = (race_xorshift(&rng) % 1000) / 1000.0 * mig_us;
		__atomic_store_n(&go, (int)round, __ATOMIC_RELEASE);
		for (double t = race_now() + delay / 1e6; race_now() < t;)
			;
		if (munmap(range, THP))
			race_skip("munmap: %s", strerror(errno));
		/* the guard again (PROT_NONE: no anon_vma to share) */
		if (mmap(range, THP, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != range)
			race_skip("remap guard: %s", strerror(errno));
		while (__atomic_load_n(&done, __ATOMIC_ACQUIRE) != (int)round)
			;
		if (race_round_done())
			break;
	}
	stop = 1;
	pthread_join(th, NULL);
	fprintf(stderr, "race 003: %lu pages moved by move_pages in %lu rounds\n", moved_total, round);
	if (!moved_total)
		race_skip("move_pages never moved a page: the race never ran");
	race_missed();
	return 1;
}
