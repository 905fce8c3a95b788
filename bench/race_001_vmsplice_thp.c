// SPDX-License-Identifier: GPL-2.0
/*
 * race_001_vmsplice_thp [SECONDS]: seed 001 from userspace, move_pages(2)
 * against a GUP reference held by a pipe (vmsplice(2)) on an anonymous THP.
 *
 * Each round: write a fresh stamp into the first 4 KiB of the THP, vmsplice
 * that 4 KiB into a pipe (the pipe now holds a reference to the THP, taken by
 * iov_iter_get_pages2()), move_pages() the THP to the other node, write a
 * second stamp through the mapping, then read the 4 KiB back from the pipe.
 * The pipe references the page the process maps, so it must read the second
 * stamp; migration must refuse a folio with an extra reference (on 7.3,
 * __migrate_folio()'s refcount check: -EAGAIN).
 *
 * Detection: "lost-write" (the pipe still sees the first stamp: the THP was
 * replaced while referenced, seed 001's symptom), "data-pattern" (neither
 * stamp), or a kernel taint; not the page's node (see below). A THP that
 * is not PMD-mapped is refaulted; a run that never had one is SKIP.
 */
#include "race.h"
#include <sys/mman.h>
#include <sys/uio.h>

#define THP (2UL << 20)

static char *map_thp(void)
{
	char *raw = mmap(NULL, 2 * THP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p;

	if (raw == MAP_FAILED)
		race_skip("mmap: %s", strerror(errno));
	p = (char *)(((uintptr_t)raw + THP - 1) & ~(THP - 1));
	madvise(p, THP, MADV_HUGEPAGE);
	memset(p, 0x5a, THP);
	return p;
}

/* whether the 2 MiB at p is one PMD-mapped THP: /proc/self/smaps AnonHugePages */
static int is_thp(const char *p)
{
	char line[256];
	unsigned long start, end, kb;
	int in = 0, ret = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in = start <= (uintptr_t)p && (uintptr_t)p < end;
		else if (in && sscanf(line, "AnonHugePages: %lu kB", &kb) == 1) {
			ret = kb >= 2048;
			break;
		}
	}
	fclose(f);
	return ret;
}

int main(int argc, char **argv)
{
	unsigned long thp_rounds = 0, busy = 0, moved_free = 0, split = 0, node_changed = 0;
	char *p, buf[4096];
	int pfd[2];

	race_start("001-vmsplice-thp", argc, argv);
	race_need_two_nodes();
	if (pipe(pfd))
		race_skip("pipe: %s", strerror(errno));
	p = map_thp();
	for (;;) {
		uint64_t s1 = (race_rounds << 1) | 0x1000000000ULL, s2 = s1 | 1;
		struct iovec iov = { p, 4096 };
		int node, target, after, status = -1;
		void *addr = p;

		if (!is_thp(p)) {
			/* get a THP again: drop the range, refault it */
			madvise(p, THP, MADV_DONTNEED);
			memset(p, 0x5a, THP);
			if (!is_thp(p)) {
				if (race_round_done())
					break;
				continue;
			}
		}
		thp_rounds++;
		node = race_node_of(p);
		target = node == 0 ? 1 : 0;
		memcpy(p, &s1, sizeof(s1));
		if (vmsplice(pfd[1], &iov, 1, 0) != 4096)
			race_skip("vmsplice: %s", strerror(errno));
		if (race_move_pages(1, &addr, &target, &status) < 0 && errno != ENOENT)
			race_skip("move_pages: %s", strerror(errno));
		memcpy(p, &s2, sizeof(s2));
		if (read(pfd[0], buf, sizeof(buf)) != sizeof(buf))
			race_skip("pipe read: %s", strerror(errno));
		if (!memcmp(buf, &s1, sizeof(s1)))
			race_detected("lost-write", "the pipe's reference kept the old THP (stamp %#llx, "
				      "move_pages status %d, node %d -> %d)", (unsigned long long)s1,
				      status, node, race_node_of(p));
		if (memcmp(buf, &s2, sizeof(s2)))
			race_detected("data-pattern", "the pipe read neither stamp");
		/*
		 * Not a detection: the page's node changing with the data intact.
		 * Seen on the clean 7.3.4 kernel (move_pages' status and a node
		 * query both said the target node while the pipe still shared
		 * the page with the mapping), so only lost data counts.
		 */
		after = race_node_of(p);
		if (node >= 0 && after == target)
			node_changed++;
		split += status == target;
		busy++;
		/* and migrate it unreferenced, so the next round starts elsewhere */
		if (race_move_pages(1, &addr, &target, &status) == 0 && race_node_of(p) == target)
			moved_free++;
		if (race_round_done())
			break;
	}
	if (!thp_rounds)
		race_skip("never got a PMD-mapped THP in %lu rounds", race_rounds);
	fprintf(stderr, "race 001: %lu THP rounds, %lu kept the data (%lu with a status of the target "
		"node, %lu with the page on the target node after), %lu moved unreferenced\n", thp_rounds,
		busy, split, node_changed, moved_free);
	if (!moved_free)
		race_skip("no unreferenced THP migration succeeded either: the race never ran");
	race_missed();
	return 1;
}
