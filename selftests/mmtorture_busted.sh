#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# mmtorture busted test: the "busted" scenario breaks an invariant on
# purpose (like rcutorture's torture_type=busted). The checker must catch it:
# this test PASSES when the run ends "failed" and its result names a
# violation, and FAILS when busted "passes" (the checker is blind).
# Runs inside the guest as root; KTAP on stdout.
#
# No "set -e": every step's status is checked and reported as a KTAP result.
set -uo pipefail
# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/lib.sh"

mmt_selftest_begin 4

rc=0
mmt_run busted "$@" || rc=$?
state=$(mmt_state)
case $rc in
1)
	if [ "$state" = failed ]; then
		ktap_test_pass "busted run ends in state failed"
	else
		ktap_test_fail "busted run ends in state failed (state $state)"
	fi
	;;
0) ktap_test_fail "busted run ends in state failed (it passed: the checker missed the bug)" ;;
*) ktap_test_fail "busted run ends in state failed (timed out, state $state)" ;;
esac

if grep -q 'violation' "$MMT_DIR/result" 2>/dev/null; then
	ktap_test_pass "busted result names a violation"
else
	ktap_test_fail "busted result names a violation"
fi

if grep -qx 'not ok 1 busted' "$MMT_DIR/result" 2>/dev/null &&
	grep -q '^# reproduce: run busted' "$MMT_DIR/result"; then
	ktap_test_pass "busted result is 'not ok 1 busted' with a reproduce line"
else
	ktap_test_fail "busted result is 'not ok 1 busted' with a reproduce line"
fi

ktap_finished
