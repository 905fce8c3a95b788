// SPDX-License-Identifier: GPL-2.0
/*
 * The shim's ABI as numbers, asm-offsets style: Kbuild compiles this file
 * to assembly and turns each DEFINE() into a Rust constant
 * (src/abi_gen.rs, generated, not in git). src/ffi/mod.rs asserts at
 * compile time that the #[repr(C)] mirrors (src/ffi/pte.rs, folio.rs) have
 * these sizes and offsets, and src/ffi/ uses these constants, so a change to
 * shim.h that the Rust side does not follow fails the build instead of
 * silently reading the wrong bytes.
 */
#include <linux/kbuild.h>
#include <linux/stddef.h>
#include "shim.h"

#define MMT_FIELD(name, str, mem) OFFSET(name, str, mem)

void mmt_abi(void);
void mmt_abi(void)
{
	DEFINE(MMT_PTE_INFO_SIZE, sizeof(struct mmt_pte_info));
	MMT_FIELD(MMT_PTE_INFO_KIND, mmt_pte_info, kind);
	MMT_FIELD(MMT_PTE_INFO_WRITABLE, mmt_pte_info, writable);
	MMT_FIELD(MMT_PTE_INFO_PFN, mmt_pte_info, pfn);
	MMT_FIELD(MMT_PTE_INFO_FOLIO, mmt_pte_info, folio);

	DEFINE(MMT_FOLIO_INFO_SIZE, sizeof(struct mmt_folio_info));
	MMT_FIELD(MMT_FOLIO_INFO_PFN, mmt_folio_info, pfn);
	MMT_FIELD(MMT_FOLIO_INFO_NID, mmt_folio_info, nid);
	MMT_FIELD(MMT_FOLIO_INFO_ORDER, mmt_folio_info, order);
	MMT_FIELD(MMT_FOLIO_INFO_MAPCOUNT, mmt_folio_info, mapcount);
	MMT_FIELD(MMT_FOLIO_INFO_REFCOUNT, mmt_folio_info, refcount);
	MMT_FIELD(MMT_FOLIO_INFO_MLOCK_COUNT, mmt_folio_info, mlock_count);
	MMT_FIELD(MMT_FOLIO_INFO_ANON, mmt_folio_info, anon);
	MMT_FIELD(MMT_FOLIO_INFO_LRU, mmt_folio_info, lru);
	MMT_FIELD(MMT_FOLIO_INFO_MLOCKED, mmt_folio_info, mlocked);
	MMT_FIELD(MMT_FOLIO_INFO_LOCKED, mmt_folio_info, locked);
	MMT_FIELD(MMT_FOLIO_INFO_UNEVICTABLE, mmt_folio_info, unevictable);

	DEFINE(MMT_PTE_NONE, MMT_PTE_NONE);
	DEFINE(MMT_PTE_PRESENT, MMT_PTE_PRESENT);
	DEFINE(MMT_PTE_MIGRATION, MMT_PTE_MIGRATION);
	DEFINE(MMT_PTE_SWAP, MMT_PTE_SWAP);
	DEFINE(MMT_PMD_PRESENT, MMT_PMD_PRESENT);
	DEFINE(MMT_PMD_MIGRATION, MMT_PMD_MIGRATION);
	DEFINE(MMT_PARK_CLEAR_START, MMT_PARK_CLEAR_START);
	DEFINE(MMT_PARK_CLEAR_END, MMT_PARK_CLEAR_END);
}
