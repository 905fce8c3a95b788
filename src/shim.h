/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mmtorture shim interface: every C function src/ffi/ calls. The Rust
 * declarations in src/ffi/ must match these prototypes and structs.
 */
#ifndef MMTORTURE_SHIM_H
#define MMTORTURE_SHIM_H

#include <linux/types.h>

struct file;
struct folio;
struct list_head;
struct mm_struct;
struct task_struct;
struct vm_area_struct;

/* What one user address resolves to in the page tables (src/ffi/pte.rs). */
enum mmt_pte_kind {
	MMT_PTE_NONE = 0,	/* no table or pte_none */
	MMT_PTE_PRESENT = 1,	/* present pte */
	MMT_PTE_MIGRATION = 2,	/* migration entry in a pte */
	MMT_PTE_SWAP = 3,	/* any other non-present pte */
	MMT_PMD_PRESENT = 4,	/* present huge pmd (THP) */
	MMT_PMD_MIGRATION = 5,	/* migration entry in a pmd */
};

struct mmt_pte_info {
	int kind;
	bool writable;
	unsigned long pfn;
	struct folio *folio; /* with a reference, if asked for and present */
};

struct mmt_folio_info {
	unsigned long pfn;
	int nid;
	int order;
	int mapcount;
	int refcount;
	int mlock_count; /* -1 unless on the unevictable LRU (where it is kept) */
	bool anon;
	bool lru;
	bool mlocked;
	bool locked;
	bool unevictable;
};

int mmt_resolve_symbols(const char **missing, bool ibt_force);
struct mm_struct *mmt_mm_create(void);
struct mmt_park;
struct mmt_park *mmt_park_register(struct mm_struct *mm,
				   void (*on_start)(void *),
				   void (*on_end)(void *), void *arg);
/* mmt_park_arm's @clear: where in a CLEAR range the park is (0: UNMAP start). */
#define MMT_PARK_CLEAR_START 1U
#define MMT_PARK_CLEAR_END 2U
void mmt_park_arm(struct mmt_park *p, bool on, unsigned int clear);
void mmt_park_unregister(struct mmt_park *p);
struct file *mmt_shmem_file(loff_t size);
unsigned long mmt_vm_mmap_file_private(struct file *file, unsigned long len,
				       bool locked);
int mmt_file_truncate(struct file *file, loff_t size);
int mmt_file_punch_hole(struct file *file, loff_t off, loff_t len);
void mmt_fput(struct file *file);
unsigned long mmt_vm_mmap_anon(unsigned long hint, unsigned long len,
			       bool growsdown);
long mmt_sys_mremap(unsigned long addr, unsigned long old_len,
		    unsigned long new_len, unsigned long flags,
		    unsigned long new_addr);
long mmt_sys_mlock(unsigned long start, unsigned long len, bool lock);
long mmt_sys_mlock2(unsigned long start, unsigned long len, int flags);
long mmt_sys_madvise(unsigned long start, unsigned long len, int advice);
long mmt_sys_mprotect(unsigned long start, unsigned long len,
		      unsigned long prot);
int mmt_vma_set_temp_stack(struct mm_struct *mm, unsigned long addr, bool on);
int mmt_relocate_vma_down(struct mm_struct *mm, unsigned long addr,
			  unsigned long shift);
struct task_struct *mmt_kthread_start(int (*fn)(void *), void *data, int cpu,
				      const char *name);
int mmt_task_set_cpu(struct task_struct *t, int cpu);
int mmt_kthread_stop(struct task_struct *t);
void mmt_task_show_stack(struct task_struct *t);
bool mmt_module_pin(void);
void mmt_module_unpin(void);
void mmt_task_put(struct task_struct *t);
void __noreturn mmt_module_put_and_exit(void);
bool mmt_kthread_should_stop(void);
void mmt_nap_us(u64 us);
void mmt_sleep_until_woken_us(u64 us);
void mmt_task_wake(struct task_struct *t);
int mmt_num_online_cpus(void);
bool mmt_cpu_online(int cpu);
bool mmt_node_online(int nid);
int mmt_pte_lookup(struct mm_struct *mm, unsigned long addr, bool get_folio,
		   struct mmt_pte_info *info);
void mmt_pte_lookup_rmap(struct vm_area_struct *vma, unsigned long addr,
			 struct mmt_pte_info *info);
void mmt_folio_info(struct folio *folio, struct mmt_folio_info *info);
void mmt_folio_get(struct folio *folio);
void mmt_folio_put(struct folio *folio);
void mmt_folio_lock(struct folio *folio);
void mmt_folio_unlock(struct folio *folio);
int mmt_folio_split(struct folio *folio);
void mmt_rmap_walk(struct folio *folio,
		   bool (*rmap_one)(struct folio *, struct vm_area_struct *,
				    unsigned long, void *),
		   void *arg);
struct mm_struct *mmt_vma_mm(struct vm_area_struct *vma);
void mmt_list_init(struct list_head *list);
bool mmt_isolate_folio_to_list(struct folio *folio, struct list_head *list);
void mmt_lru_add_drain_all(void);
bool mmt_folio_isolate_lru(struct folio *folio);
void mmt_folio_putback_lru(struct folio *folio);
void mmt_putback_movable_pages(struct list_head *list);
int mmt_migrate_pages_to_node(struct list_head *list, int nid, bool sync,
			      unsigned int *succeeded);
struct page;
struct page *mmt_gup_page(struct mm_struct *mm, unsigned long addr, bool pin);
void mmt_gup_release(struct page *page, bool pin);
unsigned long mmt_page_pfn(struct page *page);
void mmt_page_write(struct page *page, size_t off, const void *src, size_t len);
int mmt_migrate_misplaced(struct mm_struct *mm, unsigned long addr,
			  struct folio *folio, int nid, bool *isolated);
struct folio *mmt_alloc_migration_target(struct folio *src, int nid);
int mmt_migrate_pages_cb(struct list_head *list,
			 struct folio *(*get_new)(struct folio *, unsigned long),
			 unsigned long private, unsigned int *succeeded);
void mmt_rcu_barrier(void);
int mmt_migrate_mm(struct mm_struct *mm, int from_nid, int to_nid);
long mmt_node_stat(int item);
long mmt_zone_stat(int item);
int mmt_nr_mlock(void);
int mmt_nr_unevictable(void);
int mmt_nr_isolated_anon(void);
int mmt_nr_isolated_file(void);
int mmt_nr_anon_mapped(void);
void mmt_cond_resched(void);
unsigned long mmt_report_taints(void);
void mmt_mod_isolated_anon(int nid, long delta);
unsigned long mmt_vm_mmap_file_shared(struct file *file, unsigned long addr,
				      unsigned long len);
u64 mmt_ktime_fast_ns(void);
u64 mmt_random_u64(void);

int mmt_mlt_start(void);
void mmt_mlt_stop(void);
void mmt_mlt_dump(unsigned long lo, unsigned long hi, unsigned int max);

#endif /* MMTORTURE_SHIM_H */
