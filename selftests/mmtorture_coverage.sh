#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# mmtorture coverage test: a run that passes its checks without proving its
# race ran is not a pass. munlock_truncate with isolate=0 starves its race
# (the isolator takes no folio off the LRU), so it must end "failed" with a
# no-coverage verdict naming the counter that fell short; with its defaults
# it meets every need and passes. Runs inside the guest as root; KTAP.
set -uo pipefail
# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/lib.sh"

mmt_selftest_begin 3

rc=0
mmt_run munlock_truncate isolate=0 duration=3 || rc=$?
if [ "$rc" = 1 ] && [ "$(mmt_state)" = failed ] &&
	grep -q '^# no-coverage: isolated 0 < ' "$MMT_DIR/result" &&
	grep -q '^not ok 1 munlock_truncate # no-coverage: isolated' "$MMT_DIR/result" &&
	! grep -q '^# violation:' "$MMT_DIR/result"; then
	ktap_test_pass "munlock_truncate isolate=0 ends not ok with no-coverage: isolated"
else
	ktap_test_fail "munlock_truncate isolate=0 ends not ok with no-coverage: isolated (rc $rc, state $(mmt_state))"
fi

rc=0
mmt_run munlock_truncate duration=3 || rc=$?
if [ "$rc" = 0 ] && grep -qx 'ok 1 munlock_truncate' "$MMT_DIR/result"; then
	ktap_test_pass "munlock_truncate with defaults meets its coverage needs"
else
	ktap_test_fail "munlock_truncate with defaults meets its coverage needs (rc $rc)"
fi

ktap_finished
