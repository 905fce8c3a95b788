/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers of the userspace seed-race drivers (bench/race_*.c, run by
 * ci/bench.sh in the guest as root). Each driver prints exactly one line:
 *
 *   race NAME: DETECTED by WHAT after N ms (rounds=R, X rounds/s)   exit 0
 *   race NAME: MISSED (rounds=R in S s, X rounds/s)                 exit 1
 *   race NAME: SKIP: WHY                                            exit 4
 *
 * Besides its own check, every driver watches the kernel taint (B: bad page,
 * KASAN; D: oops; W: WARN): a taint bit that appears while it runs is a
 * kernel report it provoked ("DETECTED by kernel-taint ...").
 */
#ifndef BENCH_RACE_H
#define BENCH_RACE_H
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define TAINT_REPORT_MASK ((1UL << 5) | (1UL << 7) | (1UL << 9)) /* B D W */

static const char *race_name;
static double race_t0, race_secs;
static unsigned long race_taint0;
static unsigned long race_rounds;

static inline double race_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline unsigned long race_taint(void)
{
	unsigned long t = 0;
	FILE *f = fopen("/proc/sys/kernel/tainted", "r");

	if (f) {
		if (fscanf(f, "%lu", &t) != 1)
			t = 0;
		fclose(f);
	}
	return t & TAINT_REPORT_MASK;
}

static inline double race_rate(void)
{
	double el = race_now() - race_t0;

	return el > 0 ? race_rounds / el : 0;
}

static inline void race_skip(const char *fmt, ...)
{
	va_list ap;

	printf("race %s: SKIP: ", race_name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	_exit(4);
}

/* DETECTED: the process may hold a broken mapping: leave with _exit. */
static inline void race_detected(const char *what, const char *fmt, ...)
{
	va_list ap;

	printf("race %s: DETECTED by %s after %.0f ms (rounds=%lu, %.1f rounds/s)",
	       race_name, what, (race_now() - race_t0) * 1000, race_rounds, race_rate());
	if (fmt) {
		printf(": ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	printf("\n");
	fflush(stdout);
	_exit(0);
}

static inline void race_start(const char *name, int argc, char **argv)
{
	race_name = name;
	race_secs = argc > 1 ? atof(argv[1]) : 20;
	if (race_secs <= 0)
		race_secs = 20;
	race_taint0 = race_taint();
	race_t0 = race_now();
}

/* after every round: the taint watch; whether time is up */
static inline int race_round_done(void)
{
	unsigned long t;

	race_rounds++;
	t = race_taint();
	if (t & ~race_taint0)
		race_detected("kernel-taint", "taint %#lx -> %#lx (see the console)", race_taint0, t);
	return race_now() - race_t0 >= race_secs;
}

static inline void race_missed(void)
{
	printf("race %s: MISSED (rounds=%lu in %.1f s, %.1f rounds/s%s)\n", race_name, race_rounds,
	       race_now() - race_t0, race_rate(),
	       race_taint0 ? ", taint already set at start: the taint watch was blind" : "");
	fflush(stdout);
	exit(1);
}

static inline long race_move_pages(unsigned long count, void **pages, const int *nodes, int *status)
{
	return syscall(SYS_move_pages, 0, count, pages, nodes, status, 2 /* MPOL_MF_MOVE */);
}

/* the node of the page at addr (move_pages with nodes == NULL), or -errno */
static inline int race_node_of(void *addr)
{
	int status = -1;

	if (syscall(SYS_move_pages, 0, 1UL, &addr, NULL, &status, 0) < 0)
		return -errno;
	return status;
}

static inline void race_need_two_nodes(void)
{
	if (access("/sys/devices/system/node/node1", F_OK))
		race_skip("needs NUMA nodes 0 and 1");
}

/* pagemap entry of a virtual address of this process (0 on error) */
static inline uint64_t race_pagemap(int fd, const void *addr)
{
	uint64_t e = 0;

	if (pread(fd, &e, sizeof(e), ((uintptr_t)addr / 4096) * sizeof(e)) != sizeof(e))
		return 0;
	return e;
}
#define PM_PRESENT (1ULL << 63)
#define PM_SWAP (1ULL << 62)

static inline unsigned long race_xorshift(unsigned long *s)
{
	unsigned long x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}
#endif
