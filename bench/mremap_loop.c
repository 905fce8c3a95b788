// SPDX-License-Identifier: GPL-2.0
/*
 * mremap_loop SECONDS [PAGES]: an unrelated process's mremap rate.
 *
 * Maps PAGES (default 16) anonymous pages, writes them, then moves them
 * back and forth between two addresses with mremap(MREMAP_MAYMOVE |
 * MREMAP_FIXED) for SECONDS; each move runs move_page_tables(). Prints
 * "mremap_loop: moves=N seconds=S rate=R/s". Used by ci/park-cost.sh to
 * measure what mmtorture's park point costs other mms.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 3;
	long pages = argc > 2 ? atol(argv[2]) : 16;
	size_t len = pages * 4096;
	unsigned long moves = 0;
	double t0, t;
	char *a, *b, *cur, *other;

	if (secs <= 0 || pages <= 0) {
		fprintf(stderr, "usage: %s SECONDS [PAGES]\n", argv[0]);
		return 2;
	}
	/* two slots: reserve 2*len, keep the first, free the second */
	a = mmap(NULL, 2 * len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	b = a + len;
	munmap(b, len);
	memset(a, 0x5a, len);
	cur = a;
	other = b;
	t0 = now();
	do {
		for (int i = 0; i < 64; i++) {
			char *to = mremap(cur, len, len,
					  MREMAP_MAYMOVE | MREMAP_FIXED, other);

			if (to == MAP_FAILED) {
				perror("mremap");
				return 1;
			}
			other = cur;
			cur = to;
			moves++;
		}
		t = now() - t0;
	} while (t < secs);
	if (cur[len - 1] != 0x5a) {
		fprintf(stderr, "mremap_loop: data lost\n");
		return 1;
	}
	printf("mremap_loop: moves=%lu seconds=%.3f rate=%.0f/s\n", moves, t,
	       moves / t);
	return 0;
}
