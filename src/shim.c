// SPDX-License-Identifier: GPL-2.0
/*
 * mmtorture C shim: the only C in the module.
 *
 * It does two things and nothing else (no test logic lives here):
 *  1. resolves the unexported mm functions mmtorture drives, at load time,
 *     through kallsyms_lookup_name (itself found with a kprobe). Every
 *     pointer is declared with typeof() of the tree's own declaration, so a
 *     prototype change in the kernel is a compile error here, not a crash.
 *  2. wraps static inlines and macros that Rust cannot call (page-table
 *     walking, folio accessors, vmstat snapshots, nodemasks, kthreads).
 *
 * Every function is prefixed mmt_ and declared in src/ffi/ (in the file of
 * the object that calls it), which wraps it in a safe Rust function with its
 * safety contract.
 */
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/falloc.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <linux/shmem_fs.h>
#include <linux/highmem.h>
#include <linux/kprobes.h>
#include <linux/kthread.h>
#include <linux/uaccess.h>
#include <asm/ibt.h>
#include <linux/leafops.h>
#include <linux/mempolicy.h>
#include <linux/mman.h>
#include <linux/mmu_notifier.h>
#include <linux/migrate.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/module.h>
#include <linux/nodemask.h>
#include <linux/pagemap.h>
#include <linux/pgtable.h>
#include <linux/rmap.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/task.h>
#include <linux/sched/debug.h>
#include <linux/vmstat.h>
#include <asm/syscall.h>

/* mm/internal.h and mm/vma.h: Kbuild adds -I$(srctree)/mm. */
#include "internal.h"
#include "vma.h"

#include "shim.h"

/*
 * Resolved symbols. MMT_SYMS lists each once; the X-macro expands it into
 * typed pointers and into the resolution table, so the two cannot diverge.
 */
#define MMT_SYMS(X)                                                          \
	X(mm_alloc)                                                          \
	X(arch_pick_mmap_layout)                                             \
	X(rmap_walk)                                                         \
	X(migrate_pages)                                                     \
	X(alloc_migration_target)                                            \
	X(isolate_folio_to_list)                                             \
	X(putback_movable_pages)                                             \
	X(do_migrate_pages)                                                  \
	X(folio_isolate_lru)                                                 \
	X(folio_putback_lru)                                                 \
	X(relocate_vma_down)                                                 \
	X(migrate_misplaced_folio_prepare)                                   \
	X(migrate_misplaced_folio)                                           \
	X(lru_add_drain_all)                                                 \
	X(pte_offset_map_lock)                                               \
	X(split_folio_to_list)

#define MMT_DECLARE(sym) static typeof(&sym) p_##sym;
MMT_SYMS(MMT_DECLARE)

/* Each one's expected prototype, checked against the tree's: src/kapi.h. */
#include "kapi.h"

struct mmt_sym {
	const char *name;
	void **slot;
};

/*
 * Syscalls whose do_*() worker is static (do_mremap()): their x86-64 entry,
 * typed as the syscall table types it.
 */
#define MMT_SYSCALLS(X) \
	X(mremap) X(mlock) X(mlock2) X(munlock) X(madvise) X(mprotect)

#define MMT_DECLARE_SYSCALL(name) static sys_call_ptr_t p_sys_##name;
MMT_SYSCALLS(MMT_DECLARE_SYSCALL)

#define MMT_ENTRY(sym) { #sym, (void **)&p_##sym },
#define MMT_SYSCALL_ENTRY(name) { "__x64_sys_" #name, (void **)&p_sys_##name },
static const struct mmt_sym mmt_syms[] = {
	MMT_SYMS(MMT_ENTRY)
	MMT_SYSCALLS(MMT_SYSCALL_ENTRY)
};

typedef unsigned long (*kallsyms_lookup_name_t)(const char *name);

#ifdef CONFIG_X86_KERNEL_IBT
/* An ENDBR64/32 at @addr: an indirect call may land there under IBT. */
static bool mmt_endbr_at(const void *addr)
{
	u32 v;

	if (get_kernel_nofault(v, (const u32 *)addr))
		return false;
	return (v & ~0x01000000U) == gen_endbr();
}

/* ENDBR, or the NOP objtool's seal list left in its place. */
static bool mmt_endbr_or_sealed_at(const void *addr)
{
	u32 v;

	if (get_kernel_nofault(v, (const u32 *)addr))
		return false;
	return v == gen_endbr_poison() || (v & ~0x01000000U) == gen_endbr();
}
#endif

static kallsyms_lookup_name_t mmt_find_kallsyms_lookup_name(void)
{
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	unsigned long addr;

	if (register_kprobe(&kp) < 0)
		return NULL;
	addr = (unsigned long)kp.addr;
	unregister_kprobe(&kp);
#ifdef CONFIG_X86_KERNEL_IBT
	/*
	 * A kprobe at a function's entry sits after its ENDBR (or the seal
	 * that replaced it): the function itself starts 4 bytes earlier.
	 */
	if (mmt_endbr_or_sealed_at((void *)(addr - ENDBR_INSN_SIZE)))
		addr -= ENDBR_INSN_SIZE;
#endif
	return (kallsyms_lookup_name_t)addr;
}

/*
 * Kernel IBT: an indirect call must land on an ENDBR. objtool seals (NOPs
 * out) the ENDBR of every function whose address the kernel never takes,
 * so calling such a function through a resolved pointer takes a #CP
 * ("Missing ENDBR") on a CPU that enforces IBT. Name each resolved target
 * without ENDBR; refuse to load if the CPU enforces IBT or @force says to
 * act as if it did (a test knob: under TCG no CPU enforces it).
 * @lookup_only: check kallsyms_lookup_name alone (before it is called).
 */
static int mmt_ibt_check_one(const char *name, void *addr, bool refuse)
{
#ifdef CONFIG_X86_KERNEL_IBT
	if (mmt_endbr_at(addr))
		return 0;
	if (refuse)
		pr_err("mmtorture: %s (%pS) has no ENDBR (sealed: the kernel never takes its address); an indirect call to it faults under IBT\n",
		       name, addr);
	else
		pr_info("mmtorture: %s (%pS) has no ENDBR; harmless here, this CPU does not enforce IBT\n",
			name, addr);
	return 1;
#else
	return 0;
#endif
}

static bool mmt_ibt_refuse(bool force)
{
#ifdef CONFIG_X86_KERNEL_IBT
	return force || cpu_feature_enabled(X86_FEATURE_IBT);
#else
	return false;
#endif
}

static int mmt_ibt_verdict(int bad, bool force)
{
	if (!bad || !mmt_ibt_refuse(force))
		return 0;
	pr_err("mmtorture: %d function(s) above cannot be called under kernel IBT (%s); boot the test kernel with ibt=off, or build it without CONFIG_X86_KERNEL_IBT\n",
	       bad, force ? "ibt_force=1" : "enforced by this CPU");
	return -ENOEXEC;
}

/*
 * Resolve every symbol in MMT_SYMS. On failure, the name of the first
 * missing symbol is stored in *missing and -ENOENT is returned; -ENOEXEC if
 * kernel IBT forbids calling a resolved function (see above).
 */
int mmt_resolve_symbols(const char **missing, bool ibt_force)
{
	kallsyms_lookup_name_t lookup = mmt_find_kallsyms_lookup_name();
	bool refuse = mmt_ibt_refuse(ibt_force);
	int bad;
	size_t i;

	if (!lookup) {
		*missing = "kallsyms_lookup_name";
		return -ENOENT;
	}
	/*
	 * Checked before it is called: calling it would be the first #CP. On
	 * a CPU that enforces IBT that ends the check; with only ibt_force (no
	 * CPU enforcement) calling it is safe, and the rest are named too.
	 */
	bad = mmt_ibt_check_one("kallsyms_lookup_name", lookup, refuse);
	if (bad && mmt_ibt_refuse(false)) {
		pr_err("mmtorture: the other resolved functions were not checked\n");
		return mmt_ibt_verdict(bad, ibt_force);
	}
	for (i = 0; i < ARRAY_SIZE(mmt_syms); i++) {
		*mmt_syms[i].slot = (void *)lookup(mmt_syms[i].name);
		if (!*mmt_syms[i].slot) {
			*missing = mmt_syms[i].name;
			return -ENOENT;
		}
		bad += mmt_ibt_check_one(mmt_syms[i].name, *mmt_syms[i].slot, refuse);
	}
	return mmt_ibt_verdict(bad, ibt_force);
}

/* ---- test mm ---------------------------------------------------------- */

/* Returns an mm with mm_users == 1 (drop with mmput()), as kunit_attach_mm(). */
struct mm_struct *mmt_mm_create(void)
{
	struct mm_struct *mm = p_mm_alloc();

	if (!mm)
		return NULL;
	mm->task_size = TASK_SIZE;
	p_arch_pick_mmap_layout(mm, &current->signal->rlim[RLIMIT_STACK]);
	return mm;
}

/*
 * mmap(hint, len, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS
 * [|MAP_FIXED_NOREPLACE if hint][|MAP_GROWSDOWN]) in current->mm.
 */
unsigned long mmt_vm_mmap_anon(unsigned long hint, unsigned long len,
			       bool growsdown)
{
	unsigned long flags = MAP_PRIVATE | MAP_ANONYMOUS;

	if (hint)
		flags |= MAP_FIXED_NOREPLACE;
	if (growsdown)
		flags |= MAP_GROWSDOWN;
	return vm_mmap(NULL, hint, len, PROT_READ | PROT_WRITE, flags, 0);
}

/*
 * mremap(2) in current->mm, through the syscall entry (do_mremap() is
 * static): the same path a process takes, copy_vma() and
 * move_page_tables() included.
 */
long mmt_sys_mremap(unsigned long addr, unsigned long old_len,
		    unsigned long new_len, unsigned long flags,
		    unsigned long new_addr)
{
	struct pt_regs regs = {
		.di = addr, .si = old_len, .dx = new_len, .r10 = flags,
		.r8 = new_addr,
	};

	return p_sys_mremap(&regs);
}

/* mlock(2) / munlock(2) in current->mm, through their syscall entries. */
long mmt_sys_mlock(unsigned long start, unsigned long len, bool lock)
{
	struct pt_regs regs = { .di = start, .si = len };

	return lock ? p_sys_mlock(&regs) : p_sys_munlock(&regs);
}

/* mlock2(2) in current->mm, through its syscall entry (MLOCK_ONFAULT). */
long mmt_sys_mlock2(unsigned long start, unsigned long len, int flags)
{
	struct pt_regs regs = { .di = start, .si = len, .dx = flags };

	return p_sys_mlock2(&regs);
}

/* madvise(2) in current->mm, through its syscall entry. */
long mmt_sys_madvise(unsigned long start, unsigned long len, int advice)
{
	struct pt_regs regs = { .di = start, .si = len, .dx = advice };

	return p_sys_madvise(&regs);
}

/* mprotect(2) in current->mm, through its syscall entry. */
long mmt_sys_mprotect(unsigned long start, unsigned long len,
		      unsigned long prot)
{
	struct pt_regs regs = { .di = start, .si = len, .dx = prot };

	return p_sys_mprotect(&regs);
}

/*
 * Mark (or unmark) the vma at @addr as exec's temporary stack, as
 * __bprm_mm_init() and setup_arg_pages() do with VM_STACK_INCOMPLETE_SETUP.
 */
int mmt_vma_set_temp_stack(struct mm_struct *mm, unsigned long addr, bool on)
{
	struct vm_area_struct *vma;
	int ret = 0;

	mmap_write_lock(mm);
	vma = vma_lookup(mm, addr);
	if (!vma)
		ret = -EFAULT;
	else if (on)
		vm_flags_set(vma, VM_STACK_INCOMPLETE_SETUP);
	else
		vm_flags_clear(vma, VM_STACK_INCOMPLETE_SETUP);
	mmap_write_unlock(mm);
	return ret;
}

/*
 * relocate_vma_down() of the vma at @addr by @shift bytes under the mmap
 * write lock: exec's stack shift, as setup_arg_pages() does it.
 */
int mmt_relocate_vma_down(struct mm_struct *mm, unsigned long addr,
			  unsigned long shift)
{
	struct vm_area_struct *vma;
	int ret;

	mmap_write_lock(mm);
	vma = vma_lookup(mm, addr);
	ret = vma ? p_relocate_vma_down(vma, shift) : -EFAULT;
	mmap_write_unlock(mm);
	return ret;
}

/* ---- park point: an mmu_notifier on the test mm ------------------------ */

/*
 * move_page_tables() calls mmu_notifier_invalidate_range_start() (event
 * MMU_NOTIFY_UNMAP, blockable) after the vma was expanded (relocate_vma_down)
 * or copied/merged (copy_vma) and before any pte moves, and
 * invalidate_range_end() once they moved. A notifier registered on the test
 * mm alone sees exactly that mm's invalidations, so nothing outside the test
 * mm is slowed, and it may sleep there: the armed task's first blockable
 * UNMAP range after arming calls mmtorture's on_start (ParkPoint,
 * src/ffi/park.rs), which sleeps while the gate is closed; the end of that
 * same range calls on_end. Later ranges of the same arming (the zap of the
 * old range after an mremap) pass straight through.
 *
 * Armed for a clear range (@clear: MMT_PARK_CLEAR_START and/or
 * MMT_PARK_CLEAR_END), the park is in the armed task's first blockable
 * MMU_NOTIFY_CLEAR range instead, at its start (try_to_migrate_one():
 * nothing unmapped yet, before the page-table lock) and/or at its end
 * (every pte of the vma a migration entry: for a split,
 * split_huge_pmd_locked(freeze) has replaced the PMD; the page-table lock
 * dropped). The task holds the folio lock and the anon_vma lock there
 * (sleepable, both). on_start is the park (called at each); on_end runs at
 * the end.
 *
 * @task, @state, @range and @clear are only read and written by the
 * armed task itself (mmt_park_arm is called by the task that arms), so
 * they need no lock; READ_ONCE on @task because every thread's
 * invalidations read it.
 */
#ifdef CONFIG_MMU_NOTIFIER
enum { MMT_PARK_IDLE, MMT_PARK_IN, MMT_PARK_DONE };

struct mmt_park {
	struct mmu_notifier mn;
	struct mm_struct *mm;
	struct task_struct *task;
	int state;
	unsigned int clear;
	const struct mmu_notifier_range *range;
	void (*on_start)(void *arg);
	void (*on_end)(void *arg);
	void *arg;
};

static int mmt_park_start(struct mmu_notifier *mn,
			  const struct mmu_notifier_range *range)
{
	struct mmt_park *p = container_of(mn, struct mmt_park, mn);
	enum mmu_notifier_event want;

	if (READ_ONCE(p->task) != current || p->state != MMT_PARK_IDLE)
		return 0;
	want = p->clear ? MMU_NOTIFY_CLEAR : MMU_NOTIFY_UNMAP;
	if (range->event != want || !mmu_notifier_range_blockable(range))
		return 0;
	p->state = MMT_PARK_IN;
	p->range = range;
	if (!p->clear || (p->clear & MMT_PARK_CLEAR_START))
		p->on_start(p->arg);
	return 0;
}

static void mmt_park_end(struct mmu_notifier *mn,
			 const struct mmu_notifier_range *range)
{
	struct mmt_park *p = container_of(mn, struct mmt_park, mn);

	if (READ_ONCE(p->task) != current || p->state != MMT_PARK_IN ||
	    p->range != range)
		return;
	p->state = MMT_PARK_DONE;
	if (p->clear & MMT_PARK_CLEAR_END)
		p->on_start(p->arg);
	p->on_end(p->arg);
}

static const struct mmu_notifier_ops mmt_park_ops = {
	.invalidate_range_start = mmt_park_start,
	.invalidate_range_end = mmt_park_end,
};

struct mmt_park *mmt_park_register(struct mm_struct *mm,
				   void (*on_start)(void *),
				   void (*on_end)(void *), void *arg)
{
	struct mmt_park *p = kzalloc(sizeof(*p), GFP_KERNEL);
	int ret;

	if (!p)
		return ERR_PTR(-ENOMEM);
	p->mn.ops = &mmt_park_ops;
	p->mm = mm;
	p->on_start = on_start;
	p->on_end = on_end;
	p->arg = arg;
	ret = mmu_notifier_register(&p->mn, mm);
	if (ret) {
		kfree(p);
		return ERR_PTR(ret);
	}
	return p;
}

/*
 * Arm for the current task (or disarm): the next UNMAP range parks once at
 * its start, or with @clear the next CLEAR range where @clear says.
 */
void mmt_park_arm(struct mmt_park *p, bool on, unsigned int clear)
{
	p->state = MMT_PARK_IDLE;
	p->range = NULL;
	p->clear = clear;
	WRITE_ONCE(p->task, on ? current : NULL);
}

/* Waits for running callbacks (SRCU) before it returns. */
void mmt_park_unregister(struct mmt_park *p)
{
	mmu_notifier_unregister(&p->mn, p->mm);
	kfree(p);
}
#else
struct mmt_park *mmt_park_register(struct mm_struct *mm,
				   void (*on_start)(void *),
				   void (*on_end)(void *), void *arg)
{
	return ERR_PTR(-EOPNOTSUPP);
}

void mmt_park_arm(struct mmt_park *p, bool on, unsigned int clear)
{
}

void mmt_park_unregister(struct mmt_park *p)
{
}
#endif

/* ---- files ----------------------------------------------------------- */

/* An unlinked shmem file of @size bytes, as memfd_create() makes. */
struct file *mmt_shmem_file(loff_t size)
{
	return shmem_file_setup("mmtorture", size, mk_vma_flags(VMA_NORESERVE_BIT));
}

/*
 * mmap(NULL, len, PROT_READ|PROT_WRITE, MAP_PRIVATE[|MAP_LOCKED], file, 0)
 * in current->mm. MAP_LOCKED sets VM_LOCKED and populates, as mlock() does.
 */
unsigned long mmt_vm_mmap_file_private(struct file *file, unsigned long len,
				       bool locked)
{
	unsigned long flags = MAP_PRIVATE | (locked ? MAP_LOCKED : 0);

	return vm_mmap(file, 0, len, PROT_READ | PROT_WRITE, flags, 0);
}

/* @file mapped MAP_SHARED at exactly @addr (busted ops: a page mapped twice). */
unsigned long mmt_vm_mmap_file_shared(struct file *file, unsigned long addr,
				      unsigned long len)
{
	return vm_mmap(file, addr, len, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_FIXED, 0);
}

/* truncate(2) on @file: vfs_truncate(), the syscall's own path. */
int mmt_file_truncate(struct file *file, loff_t size)
{
	return vfs_truncate(&file->f_path, size);
}

/*
 * fallocate(2) FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE on @file:
 * vfs_fallocate(), the syscall's own path (shmem_fallocate() unmaps the
 * range from every shared mapping, not the private COW copies).
 */
int mmt_file_punch_hole(struct file *file, loff_t off, loff_t len)
{
	return vfs_fallocate(file, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			     off, len);
}

void mmt_fput(struct file *file)
{
	fput(file);
}

/* ---- kthreads --------------------------------------------------------- */

/*
 * Create a kthread allowed to run on @cpu only (changeable later with
 * mmt_task_set_cpu(), unlike kthread_bind()), take a reference on its
 * task_struct so mmt_kthread_stop() is safe even after it exited, and wake it.
 */
struct task_struct *mmt_kthread_start(int (*fn)(void *), void *data, int cpu,
				      const char *name)
{
	struct task_struct *t = kthread_create(fn, data, "%s", name);

	if (IS_ERR(t))
		return t;
	get_task_struct(t);
	if (cpu >= 0 && cpu_online(cpu))
		set_cpus_allowed_ptr(t, cpumask_of(cpu));
	wake_up_process(t);
	return t;
}

int mmt_task_set_cpu(struct task_struct *t, int cpu)
{
	if (cpu < 0 || !cpu_online(cpu))
		return -EINVAL;
	return set_cpus_allowed_ptr(t, cpumask_of(cpu));
}

/* Stop and release a thread started by mmt_kthread_start(). */
int mmt_kthread_stop(struct task_struct *t)
{
	return kthread_stop_put(t);
}

/*
 * A worker's nap: usleep_range(@us, @us + @us/4), TASK_UNINTERRUPTIBLE, one
 * hrtimer on this CPU, except that a wake_up_process() ends it once the
 * time is up even if the hrtimer interrupt never came. That is the
 * watchdog's remedy for a vCPU that lost its timer interrupt
 * (docs/findings/2026-12-01-mix-workers-never-woke.md): the woken sleeper
 * cancels its hrtimer, which reprograms the CPU's clockevent.
 */
void mmt_nap_us(u64 us)
{
	ktime_t exp = ktime_add_us(ktime_get(), us);
	u64 slack = (us >> 2) * NSEC_PER_USEC;

	do {
		set_current_state(TASK_UNINTERRUPTIBLE);
	} while (schedule_hrtimeout_range(&exp, slack, HRTIMER_MODE_ABS) &&
		 ktime_before(ktime_get(), exp));
}

/*
 * One hrtimer sleep of @us that any wake_up_process() ends: how a nap
 * looks when its timer interrupt is lost (the busted op that proves the
 * watchdog's remedy).
 */
void mmt_sleep_until_woken_us(u64 us)
{
	ktime_t exp = ktime_add_us(ktime_get(), us);

	set_current_state(TASK_UNINTERRUPTIBLE);
	schedule_hrtimeout(&exp, HRTIMER_MODE_ABS);
}

/* Wake @t whatever it sleeps in (the watchdog, on an overslept nap). */
void mmt_task_wake(struct task_struct *t)
{
	wake_up_process(t);
}

/* The stack of @t on the console (a stuck worker's report). */
void mmt_task_show_stack(struct task_struct *t)
{
	sched_show_task(t);
}

/*
 * A worker the runner gives up on keeps running module code whenever it
 * returns: it holds a module reference (refused once the module is going
 * away) and releases it with module_put_and_kthread_exit().
 */
bool mmt_module_pin(void)
{
	return try_module_get(THIS_MODULE);
}

void mmt_module_unpin(void)
{
	module_put(THIS_MODULE);
}

void mmt_task_put(struct task_struct *t)
{
	put_task_struct(t);
}

void __noreturn mmt_module_put_and_exit(void)
{
	module_put_and_kthread_exit(0);
}

bool mmt_kthread_should_stop(void)
{
	return kthread_should_stop();
}

int mmt_num_online_cpus(void)
{
	return num_online_cpus();
}

bool mmt_cpu_online(int cpu)
{
	return cpu >= 0 && cpu < nr_cpu_ids && cpu_online(cpu);
}

bool mmt_node_online(int nid)
{
	return nid >= 0 && nid < MAX_NUMNODES && node_online(nid);
}

/* ---- page tables ------------------------------------------------------ */

/*
 * Look up @addr in @mm's page tables. The caller holds @mm's mmap_lock (read
 * or write). The PTE is read under its page-table lock. If @get_folio and the
 * entry is present, a reference on the mapped folio is taken and returned in
 * info->folio (drop it with mmt_folio_put()).
 */
static int __mmt_pte_lookup(struct mm_struct *mm, unsigned long addr,
			    bool get_folio, struct mmt_pte_info *info);

int mmt_pte_lookup(struct mm_struct *mm, unsigned long addr, bool get_folio,
		   struct mmt_pte_info *info)
{
	mmap_assert_locked(mm);
	return __mmt_pte_lookup(mm, addr, get_folio, info);
}

/*
 * The same from an rmap_one callback: no mmap_lock (another task may hold
 * it for write), but the walk's anon_vma/i_mmap lock keeps @vma's page
 * tables from being freed, as for page_vma_mapped_walk().
 */
void mmt_pte_lookup_rmap(struct vm_area_struct *vma, unsigned long addr,
			 struct mmt_pte_info *info)
{
	__mmt_pte_lookup(vma->vm_mm, addr, false, info);
}

static int __mmt_pte_lookup(struct mm_struct *mm, unsigned long addr,
			    bool get_folio, struct mmt_pte_info *info)
{
	pgd_t *pgd;
	p4d_t *p4d;
	pud_t *pud;
	pmd_t *pmd, pmdval;
	pte_t *ptep, pte;
	spinlock_t *ptl;

	memset(info, 0, sizeof(*info));
	pgd = pgd_offset(mm, addr);
	if (pgd_none(*pgd) || pgd_bad(*pgd))
		return 0;
	p4d = p4d_offset(pgd, addr);
	if (p4d_none(*p4d) || p4d_bad(*p4d))
		return 0;
	pud = pud_offset(p4d, addr);
	if (pud_none(*pud) || pud_leaf(*pud))
		return 0;
	pmd = pmd_offset(pud, addr);
again:
	pmdval = pmdp_get_lockless(pmd);
	if (pmd_none(pmdval))
		return 0;
	if (pmd_is_migration_entry(pmdval) || pmd_trans_huge(pmdval)) {
		ptl = pmd_lock(mm, pmd);
		pmdval = pmdp_get(pmd);
		if (pmd_is_migration_entry(pmdval)) {
			info->kind = MMT_PMD_MIGRATION;
			info->pfn = softleaf_to_pfn(softleaf_from_pmd(pmdval)) +
				    ((addr & ~HPAGE_PMD_MASK) >> PAGE_SHIFT);
		} else if (pmd_trans_huge(pmdval)) {
			info->kind = MMT_PMD_PRESENT;
			info->writable = pmd_write(pmdval);
			info->pfn = pmd_pfn(pmdval) +
				    ((addr & ~HPAGE_PMD_MASK) >> PAGE_SHIFT);
		} else {
			spin_unlock(ptl);
			goto again;
		}
		goto found;
	}
	ptep = p_pte_offset_map_lock(mm, pmd, addr, &ptl);
	if (!ptep)
		goto again; /* the pmd changed under us: retry */
	pte = ptep_get(ptep);
	if (pte_none(pte)) {
		info->kind = MMT_PTE_NONE;
	} else if (pte_present(pte)) {
		info->kind = MMT_PTE_PRESENT;
		info->writable = pte_write(pte);
		info->pfn = pte_pfn(pte);
	} else {
		softleaf_t entry = softleaf_from_pte(pte);

		if (softleaf_is_migration(entry)) {
			info->kind = MMT_PTE_MIGRATION;
			info->pfn = softleaf_to_pfn(entry);
		} else {
			info->kind = MMT_PTE_SWAP;
		}
	}
	if (info->kind == MMT_PTE_PRESENT && get_folio && pfn_valid(info->pfn)) {
		struct folio *folio = page_folio(pfn_to_page(info->pfn));

		if (folio_try_get(folio))
			info->folio = folio;
	}
	pte_unmap_unlock(ptep, ptl);
	return 0;
found:
	if (info->kind == MMT_PMD_PRESENT && get_folio && pfn_valid(info->pfn)) {
		struct folio *folio = page_folio(pfn_to_page(info->pfn));

		if (folio_try_get(folio))
			info->folio = folio;
	}
	spin_unlock(ptl);
	return 0;
}

/* ---- folios ----------------------------------------------------------- */

void mmt_folio_info(struct folio *folio, struct mmt_folio_info *info)
{
	info->pfn = folio_pfn(folio);
	info->nid = folio_nid(folio);
	info->order = folio_order(folio);
	info->mapcount = folio_mapcount(folio);
	info->refcount = folio_ref_count(folio);
	/* folio->mlock_count overlays lru.prev: meaningful only while the
	 * folio sits on the unevictable LRU (mm/mlock.c) */
	info->mlock_count = folio_test_lru(folio) && folio_test_unevictable(folio) ?
		(int)READ_ONCE(folio->mlock_count) : -1;
	info->anon = folio_test_anon(folio);
	info->lru = folio_test_lru(folio);
	info->mlocked = folio_test_mlocked(folio);
	info->locked = folio_test_locked(folio);
	info->unevictable = folio_test_unevictable(folio);
}

void mmt_folio_get(struct folio *folio)
{
	folio_get(folio);
}

void mmt_folio_put(struct folio *folio)
{
	folio_put(folio);
}

void mmt_folio_lock(struct folio *folio)
{
	folio_lock(folio);
}

void mmt_folio_unlock(struct folio *folio)
{
	folio_unlock(folio);
}

/*
 * split_folio(): split a large @folio (locked, referenced by the caller)
 * into order-0 folios: unmap (PMD split, migration entries), split, remap.
 * The caller's page (the head) stays locked and referenced. 0 for a small
 * folio; -EBUSY / -EAGAIN when the kernel refuses (extra references, no
 * anon_vma, ...).
 */
int mmt_folio_split(struct folio *folio)
{
	if (!folio_test_large(folio))
		return 0;
	return p_split_folio_to_list(folio, NULL);
}

/*
 * rmap_walk() with a caller-supplied rmap_one callback and default anon_vma
 * locking. The folio must be locked (rmap_walk_file() requires it, and it
 * keeps folio->mapping stable for anon folios too).
 */
void mmt_rmap_walk(struct folio *folio,
		   bool (*rmap_one)(struct folio *, struct vm_area_struct *,
				    unsigned long, void *),
		   void *arg)
{
	struct rmap_walk_control rwc = {
		.rmap_one = rmap_one,
		.arg = arg,
	};

	p_rmap_walk(folio, &rwc);
}

struct mm_struct *mmt_vma_mm(struct vm_area_struct *vma)
{
	return vma->vm_mm;
}

/* ---- extra references (GUP) ----------------------------------------- */

/*
 * Take one extra reference on the page mapped at @addr in @mm, as O_DIRECT
 * or an RDMA driver would: get_user_pages_remote(FOLL_WRITE) or, with @pin,
 * pin_user_pages_remote(FOLL_WRITE). The caller holds @mm's mmap_lock.
 */
struct page *mmt_gup_page(struct mm_struct *mm, unsigned long addr, bool pin)
{
	struct page *page;
	long n;

	mmap_assert_locked(mm);
	if (pin)
		n = pin_user_pages_remote(mm, addr, 1, FOLL_WRITE, &page, NULL);
	else
		n = get_user_pages_remote(mm, addr, 1, FOLL_WRITE, &page, NULL);
	return n == 1 ? page : NULL;
}

void mmt_gup_release(struct page *page, bool pin)
{
	if (pin)
		unpin_user_page(page);
	else
		put_page(page);
}

unsigned long mmt_page_pfn(struct page *page)
{
	return page_to_pfn(page);
}

/* Write through the kernel mapping of @page, as a DMA engine would. */
void mmt_page_write(struct page *page, size_t off, const void *src, size_t len)
{
	void *kaddr = kmap_local_page(page);

	memcpy(kaddr + off, src, len);
	kunmap_local(kaddr);
}

/* ---- migration -------------------------------------------------------- */

void mmt_list_init(struct list_head *list)
{
	INIT_LIST_HEAD(list);
}

/* isolate_folio_to_list(): LRU isolation plus NR_ISOLATED_* accounting. */
bool mmt_isolate_folio_to_list(struct folio *folio, struct list_head *list)
{
	return p_isolate_folio_to_list(folio, list);
}

void mmt_lru_add_drain_all(void)
{
	p_lru_add_drain_all();
}

void mmt_putback_movable_pages(struct list_head *list)
{
	p_putback_movable_pages(list);
}

/*
 * migrate_pages() of an isolated list to @nid, with alloc_migration_target()
 * as the allocator, as the migrate_pages(2)/move_pages(2) paths do. Folios
 * left on @list afterwards are still isolated: putback is the caller's.
 */
int mmt_migrate_pages_to_node(struct list_head *list, int nid, bool sync,
			      unsigned int *succeeded)
{
	struct migration_target_control mtc = {
		.nid = nid,
		.gfp_mask = GFP_HIGHUSER_MOVABLE | __GFP_THISNODE,
		.reason = MR_SYSCALL,
	};

	return p_migrate_pages(list, p_alloc_migration_target, NULL,
			       (unsigned long)&mtc,
			       sync ? MIGRATE_SYNC : MIGRATE_ASYNC, MR_SYSCALL,
			       succeeded);
}

/*
 * The NUMA-balancing path for one folio, as do_numa_page() drives it:
 * migrate_misplaced_folio_prepare() (isolation + NR_ISOLATED accounting),
 * then migrate_misplaced_folio(), which consumes the isolation. The caller
 * holds a reference on @folio (dropped here once isolated, as the fault path
 * holds none across the migration) and @mm's mmap_lock for the vma lookup.
 * Returns 0 if migrated, -EAGAIN/-EACCES/-EFAULT if not.
 */
int mmt_migrate_misplaced(struct mm_struct *mm, unsigned long addr,
			  struct folio *folio, int nid, bool *isolated)
{
	struct vm_area_struct *vma = vma_lookup(mm, addr);
	int ret;

	*isolated = false;
	mmap_assert_locked(mm);
	if (!vma)
		return -EFAULT;
	ret = p_migrate_misplaced_folio_prepare(folio, vma, nid);
	if (ret)
		return ret;
	*isolated = true;
	folio_put(folio);
	return p_migrate_misplaced_folio(folio, nid);
}

/* alloc_migration_target() on @nid: what migrate_pages(2) allocates. */
struct folio *mmt_alloc_migration_target(struct folio *src, int nid)
{
	struct migration_target_control mtc = {
		.nid = nid,
		.gfp_mask = GFP_HIGHUSER_MOVABLE | __GFP_THISNODE,
		.reason = MR_COMPACTION,
	};

	return p_alloc_migration_target(src, (unsigned long)&mtc);
}

/*
 * migrate_pages(MIGRATE_SYNC, MR_COMPACTION) of an isolated list with a
 * caller-supplied allocator: kernel-initiated migration, no mmap_lock held.
 */
int mmt_migrate_pages_cb(struct list_head *list, new_folio_t *get_new,
			 unsigned long private, unsigned int *succeeded)
{
	return p_migrate_pages(list, get_new, NULL, private, MIGRATE_SYNC,
			       MR_COMPACTION, succeeded);
}

void mmt_rcu_barrier(void)
{
	rcu_barrier();
}

/* do_migrate_pages(): the migrate_pages(2) path over a whole mm. */
int mmt_migrate_mm(struct mm_struct *mm, int from_nid, int to_nid)
{
	nodemask_t from = NODE_MASK_NONE, to = NODE_MASK_NONE;

	node_set(from_nid, from);
	node_set(to_nid, to);
	return p_do_migrate_pages(mm, &from, &to, MPOL_MF_MOVE);
}

bool mmt_folio_isolate_lru(struct folio *folio)
{
	return p_folio_isolate_lru(folio);
}

void mmt_folio_putback_lru(struct folio *folio)
{
	p_folio_putback_lru(folio);
}

/* ---- vmstat ----------------------------------------------------------- */

/*
 * Exact global value of a node_stat_item: the atomic plus every CPU's
 * not-yet-folded delta (as zone_page_state_snapshot() does for zones), so a
 * leak of one page is not hidden by per-cpu drift.
 */
long mmt_node_stat(int item)
{
	long sum = 0;
	int nid, cpu;

	for_each_online_node(nid) {
		struct pglist_data *pgdat = NODE_DATA(nid);

		sum += atomic_long_read(&pgdat->vm_stat[item]);
		for_each_online_cpu(cpu)
			sum += per_cpu_ptr(pgdat->per_cpu_nodestats, cpu)
				       ->vm_node_stat_diff[item];
	}
	return sum;
}

/* Exact global value of a zone_stat_item (NR_MLOCK lives in zones). */
long mmt_zone_stat(int item)
{
	long sum = 0;
	int nid, z, cpu;

	/* for_each_populated_zone() needs unexported helpers: walk by node. */
	for_each_online_node(nid) {
		for (z = 0; z < MAX_NR_ZONES; z++) {
			struct zone *zone = &NODE_DATA(nid)->node_zones[z];

			if (!populated_zone(zone))
				continue;
			sum += atomic_long_read(&zone->vm_stat[item]);
			for_each_online_cpu(cpu)
				sum += per_cpu_ptr(zone->per_cpu_zonestats, cpu)
					       ->vm_stat_diff[item];
		}
	}
	return sum;
}

/*
 * Busted op only: moves NR_ISOLATED_ANON of node @nid by @delta without any
 * isolation (the counter underflow a double putback would leave).
 */
void mmt_mod_isolated_anon(int nid, long delta)
{
	if (nid >= 0 && nid < MAX_NUMNODES && node_online(nid))
		mod_node_page_state(NODE_DATA(nid), NR_ISOLATED_ANON, delta);
}

int mmt_nr_mlock(void) { return NR_MLOCK; }
int mmt_nr_unevictable(void) { return NR_LRU_BASE + LRU_UNEVICTABLE; }
int mmt_nr_isolated_anon(void) { return NR_ISOLATED_ANON; }
int mmt_nr_isolated_file(void) { return NR_ISOLATED_FILE; }
int mmt_nr_anon_mapped(void) { return NR_ANON_MAPPED; }

/* ---- misc ------------------------------------------------------------- */

void mmt_cond_resched(void)
{
	cond_resched();
}

/*
 * Which of the taints a kernel report leaves are set: BAD_PAGE (KASAN,
 * "Bad page state"), WARN (WARN/VM_WARN), DIE (oops). Bit i = taint i.
 */
unsigned long mmt_report_taints(void)
{
	static const unsigned int flags[] = { TAINT_BAD_PAGE, TAINT_WARN, TAINT_DIE };
	unsigned long mask = 0;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(flags); i++)
		if (test_taint(flags[i]))
			mask |= 1UL << flags[i];
	return mask;
}

/* NMI-safe clock: kprobe handlers run in int3 context. */
u64 mmt_ktime_fast_ns(void)
{
	return ktime_get_mono_fast_ns();
}

u64 mmt_random_u64(void)
{
	return get_random_u64();
}

/* ---- mlock trace: who raised or dropped a folio's mlock ---------------- */

/*
 * A debugging aid for mlock-count findings (mix's trace_mlock=1): entry
 * kprobes on the three mlock entry points record every call (folio pfn,
 * the caller's return address, the folio's mlock state before the call)
 * in a ring; mmt_mlt_dump() prints a pfn range's entries. Off unless a run
 * asks for it.
 */
struct mmt_mlt_ent {
	u64 ns;
	unsigned long pfn;
	unsigned long caller;
	unsigned long flags;
	unsigned int count;
	u8 fn;
	u8 cpu;
};

#define MMT_MLT_N 32768
static struct mmt_mlt_ent mmt_mlt[MMT_MLT_N];
static atomic_t mmt_mlt_next = ATOMIC_INIT(0);
static const char *const mmt_mlt_name[] = {
	"mlock_folio", "munlock_folio", "mlock_new_folio",
};
static struct kprobe mmt_mlt_kp[ARRAY_SIZE(mmt_mlt_name)];
static struct kprobe *mmt_mlt_kps[] = {
	&mmt_mlt_kp[0], &mmt_mlt_kp[1], &mmt_mlt_kp[2],
};
static_assert(ARRAY_SIZE(mmt_mlt_kps) == ARRAY_SIZE(mmt_mlt_name));

static int mmt_mlt_pre(struct kprobe *kp, struct pt_regs *regs)
{
	struct folio *folio = (struct folio *)regs->di;
	unsigned int i = (unsigned int)atomic_inc_return(&mmt_mlt_next) % MMT_MLT_N;
	struct mmt_mlt_ent *e = &mmt_mlt[i];
	unsigned long flags = READ_ONCE(folio->flags.f);

	/* not ktime_get_ns(): its seqcount is not NMI-safe (lockdep: IN-NMI) */
	e->ns = ktime_get_mono_fast_ns();
	e->pfn = folio_pfn(folio);
	/* at a function's entry kprobe, sp points at the return address */
	e->caller = *(unsigned long *)regs->sp;
	e->flags = flags;
	e->count = (flags & (1UL << PG_lru)) && (flags & (1UL << PG_unevictable)) ?
		   READ_ONCE(folio->mlock_count) : ~0U;
	e->fn = kp - mmt_mlt_kp;
	e->cpu = raw_smp_processor_id();
	return 0;
}

int mmt_mlt_start(void)
{
	size_t i;

	memset(mmt_mlt, 0, sizeof(mmt_mlt));
	atomic_set(&mmt_mlt_next, 0);
	for (i = 0; i < ARRAY_SIZE(mmt_mlt_name); i++) {
		/* a kprobe is registered afresh: no state of an earlier run */
		memset(&mmt_mlt_kp[i], 0, sizeof(mmt_mlt_kp[i]));
		mmt_mlt_kp[i].symbol_name = mmt_mlt_name[i];
		mmt_mlt_kp[i].pre_handler = mmt_mlt_pre;
	}
	return register_kprobes(mmt_mlt_kps, ARRAY_SIZE(mmt_mlt_kps));
}

void mmt_mlt_stop(void)
{
	unregister_kprobes(mmt_mlt_kps, ARRAY_SIZE(mmt_mlt_kps));
}

/* Print the last @max (at most 64) entries for pfns in [@lo, @hi), oldest first. */
void mmt_mlt_dump(unsigned long lo, unsigned long hi, unsigned int max)
{
	unsigned int last = (unsigned int)atomic_read(&mmt_mlt_next);
	unsigned int idx[64], n = 0, i;

	max = min(max, 64U);
	for (i = 0; i < MMT_MLT_N && n < max; i++) {
		unsigned int k = (last - i) % MMT_MLT_N;
		struct mmt_mlt_ent *e = &mmt_mlt[k];

		if (e->ns && e->pfn >= lo && e->pfn < hi)
			idx[n++] = k;
	}
	pr_info("mmtorture: mlock-trace of pfns %#lx-%#lx: last %u calls (%u traced)\n",
		lo, hi, n, last);
	while (n--) {
		struct mmt_mlt_ent *e = &mmt_mlt[idx[n]];

		pr_info("mmtorture: mlock-trace %llu.%06llu cpu%u %-15s pfn=%#lx count=%d mlocked=%d lru=%d unevictable=%d head=%d from %pS\n",
			e->ns / NSEC_PER_SEC, (e->ns % NSEC_PER_SEC) / NSEC_PER_USEC,
			e->cpu, mmt_mlt_name[e->fn], e->pfn, (int)e->count,
			!!(e->flags & (1UL << PG_mlocked)), !!(e->flags & (1UL << PG_lru)),
			!!(e->flags & (1UL << PG_unevictable)),
			!!(e->flags & (1UL << PG_head)), (void *)e->caller);
	}
}
