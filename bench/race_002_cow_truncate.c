// SPDX-License-Identifier: GPL-2.0
/*
 * race_002_cow_truncate [SECONDS] [PAGES]: seed 002 from userspace, the
 * COW pages of a MAP_PRIVATE | MAP_LOCKED shmem file (memfd) unmapped by
 * truncation. No second thread: the mutation needs no race, only the path.
 *
 * Each round: a memfd of PAGES pages (default 16) with data, mapped
 * MAP_PRIVATE | MAP_LOCKED, every page written (COW: anon folios in a
 * VM_LOCKED file vma, mlocked at fault), then ftruncate(0) (unmaps them,
 * even the COW copies) and munmap. On 7.3 __folio_remove_rmap() munlocks
 * every unmapped folio, so no folio reaches the page allocator still
 * PG_mlocked. Detection: "mlocked-page-freed" (/proc/vmstat
 * unevictable_pgs_cleared grew: the free-time safety net cleared PG_mlocked
 * of a freed page, seed 002's symptom), or a kernel taint.
 */
#include "race.h"
#include <sys/mman.h>

static long vmstat(const char *name)
{
	char key[64];
	long v, ret = -1;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &v) == 2)
		if (!strcmp(key, name)) {
			ret = v;
			break;
		}
	fclose(f);
	return ret;
}

int main(int argc, char **argv)
{
	unsigned long i, npages;
	long c0, c;
	size_t len;
	char *buf;

	race_start("002-cow-truncate", argc, argv);
	npages = argc > 2 ? strtoul(argv[2], NULL, 0) : 16;
	if (!npages)
		npages = 16;
	len = npages * 4096;
	c0 = vmstat("unevictable_pgs_cleared");
	if (c0 < 0)
		race_skip("no unevictable_pgs_cleared in /proc/vmstat");
	buf = malloc(len);
	if (!buf)
		race_skip("malloc");
	memset(buf, 0x33, len);
	for (;;) {
		int fd = memfd_create("race002", 0);
		char *p;

		if (fd < 0)
			race_skip("memfd_create: %s", strerror(errno));
		if (write(fd, buf, len) != (ssize_t)len)
			race_skip("write: %s", strerror(errno));
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_LOCKED, fd, 0);
		if (p == MAP_FAILED)
			race_skip("mmap MAP_LOCKED: %s", strerror(errno));
		for (i = 0; i < npages; i++)
			p[i * 4096] = (char)race_rounds;
		if (ftruncate(fd, 0))
			race_skip("ftruncate: %s", strerror(errno));
		munmap(p, len);
		close(fd);
		c = vmstat("unevictable_pgs_cleared");
		if (c > c0)
			race_detected("mlocked-page-freed", "unevictable_pgs_cleared %ld -> %ld: freed "
				      "pages were still PG_mlocked", c0, c);
		if (race_round_done())
			break;
	}
	race_missed();
	return 1;
}
