#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# mmtorture busted test: the "busted" scenario breaks one piece of real mm
# state on purpose (like locktorture's busted ops), one busted op per bug=N
# (src/scenarios/busted.rs). The checker named for that op must catch it:
# this test PASSES when each run ends "failed" and its result names a
# violation of that checker, and FAILS when busted "passes" (the checker is
# blind). bug=7 wedges a worker in an uninterruptible sleep: the verdict must
# come within 30 s, rmmod must be refused while the worker is out, and the
# module must be released once it returns.
# Runs inside the guest as root; KTAP on stdout.
#
# No "set -e": every step's status is checked and reported as a KTAP result.
set -uo pipefail
# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/lib.sh"

# bug=N:checker[+checker]: each busted op and the checkers that must fire.
bugs=(0:data-pattern 1:folio-node 2:folio-released 3:vmstat-baseline
      4:page-present 5:mapcount+rmap-mappings 6:vmstat-baseline 7:worker-stuck)
STALL_S=${MMT_BUSTED_STALL_S:-5}
mmt_selftest_begin $((1 + 1 + 2 * ${#bugs[@]} + 2))

# bug=8 is the guest's bug, not the kernel's: the migrator's 200 us nap never
# gets its timer interrupt (what TCG did to mix: docs/findings/
# 2026-12-01-mix-workers-never-woke.md). The watchdog must wake it after
# 1 s (nap_kicks 1) and the run must pass, long before stall_s.
rc=0
t0=$SECONDS
mmt_run busted bug=8 duration=3 stall_s=20 "$@" || rc=$?
took=$((SECONDS - t0))
kicks=$(sed -n 's/^# nap_kicks: //p' "$MMT_DIR/result" 2>/dev/null)
if [ "$rc" = 0 ] && [ "${kicks:-0}" -ge 1 ] && ! grep -q '^# stuck:\|worker-stuck' "$MMT_DIR/result"; then
	ktap_test_pass "busted bug=8: a nap that lost its timer interrupt is woken (nap_kicks $kicks), the run passes in ${took} s"
else
	sed 's/^/# /' "$MMT_DIR/result" 2>/dev/null | tail -20
	ktap_test_fail "busted bug=8: a nap that lost its timer interrupt is woken (rc $rc, nap_kicks ${kicks:-none}, ${took} s)"
fi

for b in "${bugs[@]}"; do
	bug=${b%%:*} checkers=${b#*:}
	args=("bug=$bug" "duration=${MMT_BUSTED_DURATION:-3}")
	[ "$bug" != 7 ] || args+=("stall_s=$STALL_S")
	rc=0
	t0=$SECONDS
	mmt_run busted "${args[@]}" "$@" || rc=$?
	took=$((SECONDS - t0))
	state=$(mmt_state)
	case $rc in
	1)
		if [ "$state" = failed ]; then
			ktap_test_pass "busted bug=$bug ends in state failed"
		else
			ktap_test_fail "busted bug=$bug ends in state failed (state $state)"
		fi
		;;
	0) ktap_test_fail "busted bug=$bug ends in state failed (it passed: the checker missed the bug)" ;;
	*) ktap_test_fail "busted bug=$bug ends in state failed (rc $rc, state $state)" ;;
	esac
	named=1
	for c in ${checkers//+/ }; do
		grep -q "^# violation: $c:" "$MMT_DIR/result" 2>/dev/null || named=0
	done
	if [ "$named" = 1 ] && grep -qx 'not ok 1 busted' "$MMT_DIR/result" &&
		grep -q '^# reproduce: run busted' "$MMT_DIR/result"; then
		ktap_test_pass "busted bug=$bug: result names a ${checkers//+/ and } violation and a reproduce line"
	else
		ktap_test_fail "busted bug=$bug: result names a ${checkers//+/ and } violation and a reproduce line"
	fi
done

# bug=7, continued: the verdict came promptly; the stuck worker pins the
# module (rmmod refused, not hung) until it returns, then lets go.
ktap_print_msg "bug=7 verdict after ${took} s (stall_s=$STALL_S)"
if [ "$took" -lt 30 ] && grep -q '^pinned:' "$MMT_DIR/status"; then
	if rmmod mmtorture 2>&1 | ktap_comment; [ "${PIPESTATUS[0]}" != 0 ]; then
		ktap_test_pass "busted bug=7: verdict in ${took} s < 30 s; rmmod refused while the worker is stuck"
	else
		ktap_test_fail "busted bug=7: verdict in ${took} s < 30 s; rmmod refused while the worker is stuck (rmmod succeeded)"
		mmt_load > /dev/null
	fi
else
	mmt_print_status
	ktap_test_fail "busted bug=7: verdict in ${took} s < 30 s; rmmod refused while the worker is stuck"
fi
refs=unknown
for _ in $(seq $((6 * STALL_S + 90))); do
	refs=$(cat /sys/module/mmtorture/refcnt 2>/dev/null || echo gone)
	[ "$refs" != 0 ] || break
	sleep 1
done
if [ "$refs" = 0 ] && ! grep -q '^pinned:' "$MMT_DIR/status"; then
	ktap_test_pass "busted bug=7: the worker returned and released the module (refcnt 0)"
else
	mmt_print_status
	ktap_test_fail "busted bug=7: the worker returned and released the module (refcnt $refs)"
fi

ktap_finished
