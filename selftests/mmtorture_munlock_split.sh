#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# "munlock_split": the reproducer of two kernel bugs mmtorture found in
# 7.3.4. munlock(2) racing a THP split leaves PG_mlocked on the split's
# pages (docs/findings/2026-12-02-munlock-vs-thp-split-strands-mlocked.md);
# munlock(2) racing a THP migration that fails and retries leaves the THP
# PG_mlocked (docs/findings/2026-12-02-thp-head-mlocked-after-munlock.md).
# Three runs: park=1 (the split freezes the PMD between munlock(2)'s
# clearing of VM_LOCKED and its walk, and stays frozen until munlock(2)
# returns), park=0 (the two race freely; on 7.3.4 that too hits the bug
# within a few rounds) and via=1 (a failing migration instead of the
# split). Each passes on a kernel with its bug fixed (or one the race did
# not hit); on a kernel with it, the one violation munlocked-when-unmapped
# is the known bug reproduced, reported "ok ... # XFAIL". Anything else
# fails: another violation, no coverage (the race never ran), an error, a
# kernel report.
set -uo pipefail
# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/lib.sh"

KNOWN='^# violation: munlocked-when-unmapped: pages still PG_mlocked in a vma munlock(2) unlocked while a'

# known_bug_or_pass ARGS...: run munlock_split ARGS, one KTAP test.
known_bug_or_pass() {
	local desc="munlock_split $*" rc=0 r=$MMT_DIR/result
	local finding=docs/findings/2026-12-02-munlock-vs-thp-split-strands-mlocked.md
	local known="$KNOWN split"
	case " $* " in *" via=1 "*)
		finding=docs/findings/2026-12-02-thp-head-mlocked-after-munlock.md
		known="$KNOWN failing migration" ;;
	esac
	mmt_run munlock_split "$@" || rc=$?
	if [ "$rc" = 0 ]; then
		ktap_test_pass "$desc passed"
	elif [ "$rc" = 4 ]; then
		mmt_test_skip "$desc passed" "$MMT_RUN_REASON"
	elif [ "$rc" = 1 ] && grep -q "$known" "$r" &&
		[ "$(grep -c '^# violation:' "$r")" = 1 ]; then
		ktap_test_xfail "$desc: the known kernel bug ($(sed -n 's/^# violation: .* found=/found=/p' "$r") pages), $finding"
	else
		ktap_test_fail "$desc passed (state $(mmt_state): $MMT_RUN_REASON)"
	fi
}

: "${MMT_NEEDS_THP:=1}" "${MMT_NEEDS_NUMA:=0}"
mmt_selftest_begin 4
known_bug_or_pass park=1 duration=10
known_bug_or_pass park=0 "duration=${MMT_SEED_DURATION:-8}"
known_bug_or_pass via=1 "duration=${MMT_SEED_DURATION:-8}"
ktap_finished
