/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel prototypes src/shim.c was written for: one per symbol it
 * resolves at load time (MMT_SYMS), checked at compile time against the
 * declaration of the tree being built against. Included by src/shim.c right
 * after MMT_SYMS, so every entry of MMT_SYMS must have its mmt_proto_<sym>
 * here (a new one without it fails the build with "unknown type name
 * 'mmt_proto_<sym>'").
 *
 * typeof(&sym) already makes the call through the resolved pointer use the
 * tree's own types; these asserts make *any* change of a prototype fail the
 * build with a message naming the symbol, so that someone reads the new
 * prototype (and the kernel change behind it) before the shim calls it: a
 * parameter whose type stays compatible but whose meaning changed compiles
 * silently otherwise.
 *
 * Where supported releases differ, the expected type comes from a probe of
 * the tree (Kbuild, "release differences": -DMMT_<NAME>), never from a
 * version number; README, "Kernel releases", lists every difference.
 */
#ifndef MMTORTURE_KAPI_H
#define MMTORTURE_KAPI_H

/*
 * migrate_pages()'s reason: "int reason" up to 7.2, "enum migrate_reason
 * reason" from 7.3 (the shim passes MR_SYSCALL / MR_COMPACTION either way).
 */
#ifdef MMT_MIGRATE_REASON_ENUM
typedef enum migrate_reason mmt_migrate_reason_t;
#else
typedef int mmt_migrate_reason_t;
#endif

typedef struct mm_struct *mmt_proto_mm_alloc(void);
typedef void mmt_proto_arch_pick_mmap_layout(struct mm_struct *mm,
					     const struct rlimit *rlim_stack);
typedef void mmt_proto_rmap_walk(struct folio *folio,
				 struct rmap_walk_control *rwc);
typedef int mmt_proto_migrate_pages(struct list_head *l, new_folio_t new,
				    free_folio_t free, unsigned long private,
				    enum migrate_mode mode,
				    mmt_migrate_reason_t reason,
				    unsigned int *ret_succeeded);
typedef struct folio *mmt_proto_alloc_migration_target(struct folio *src,
							 unsigned long private);
typedef bool mmt_proto_isolate_folio_to_list(struct folio *folio,
					     struct list_head *list);
typedef void mmt_proto_putback_movable_pages(struct list_head *l);
typedef int mmt_proto_do_migrate_pages(struct mm_struct *mm,
				       const nodemask_t *from,
				       const nodemask_t *to, int flags);
typedef bool mmt_proto_folio_isolate_lru(struct folio *folio);
typedef void mmt_proto_folio_putback_lru(struct folio *folio);
typedef int mmt_proto_relocate_vma_down(struct vm_area_struct *vma,
					unsigned long shift);
typedef int mmt_proto_migrate_misplaced_folio_prepare(struct folio *folio,
						      struct vm_area_struct *vma,
						      int node);
typedef int mmt_proto_migrate_misplaced_folio(struct folio *folio, int node);
typedef void mmt_proto_lru_add_drain_all(void);
typedef pte_t *mmt_proto_pte_offset_map_lock(struct mm_struct *mm, pmd_t *pmd,
					     unsigned long addr,
					     spinlock_t **ptlp);
typedef int mmt_proto_split_folio_to_list(struct folio *folio,
					  struct list_head *list);

#define MMT_CHECK_PROTO(sym)                                                  \
	_Static_assert(__builtin_types_compatible_p(typeof(sym),              \
						    mmt_proto_##sym),         \
		       "mmtorture: the kernel's prototype of " #sym "() is not " \
		       "the one src/shim.c calls (src/kapi.h): read the "     \
		       "kernel change, then adapt the call and its expected " \
		       "prototype (or a Kbuild probe)");
MMT_SYMS(MMT_CHECK_PROTO)

/* The rmap_one callback mmt_rmap_walk() installs. */
_Static_assert(__builtin_types_compatible_p(
		       typeof(((struct rmap_walk_control *)0)->rmap_one),
		       bool (*)(struct folio *, struct vm_area_struct *,
				unsigned long, void *)),
	       "mmtorture: the kernel's rmap_walk_control.rmap_one is not the "
	       "callback type src/shim.c installs (src/kapi.h)");

#endif /* MMTORTURE_KAPI_H */
