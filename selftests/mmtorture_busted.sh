#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# mmtorture busted test: the "busted" scenario breaks an invariant on
# purpose (like rcutorture's torture_type=busted), one busted op per bug=N.
# The checker of that invariant must catch it: this test PASSES when each run
# ends "failed" and its result names a violation of that invariant, and FAILS
# when busted "passes" (the checker is blind).
# Runs inside the guest as root; KTAP on stdout.
#
# No "set -e": every step's status is checked and reported as a KTAP result.
set -uo pipefail
# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/lib.sh"

# Each busted op (bug=N) must be caught by the checker of its invariant.
bugs=(0:data-pattern 1:folio-node 2:folio-released 3:vmstat-baseline 4:page-present)
mmt_selftest_begin $((1 + 2 * ${#bugs[@]}))

for b in "${bugs[@]}"; do
	bug=${b%%:*} invariant=${b#*:}
	rc=0
	mmt_run busted "bug=$bug" "duration=${MMT_BUSTED_DURATION:-3}" "$@" || rc=$?
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
	*) ktap_test_fail "busted bug=$bug ends in state failed (timed out, state $state)" ;;
	esac
	if grep -q "^# violation: $invariant:" "$MMT_DIR/result" 2>/dev/null &&
		grep -qx 'not ok 1 busted' "$MMT_DIR/result" &&
		grep -q '^# reproduce: run busted' "$MMT_DIR/result"; then
		ktap_test_pass "busted bug=$bug: result names a $invariant violation and a reproduce line"
	else
		ktap_test_fail "busted bug=$bug: result names a $invariant violation and a reproduce line"
	fi
done

ktap_finished
