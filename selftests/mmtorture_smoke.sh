#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# mmtorture smoke test: load the module, run the "smoke" scenario briefly and
# expect it to pass. Runs inside the guest as root; KTAP on stdout.
#
# No "set -e": every step's status is checked and reported as a KTAP result.
set -uo pipefail
# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/lib.sh"

DURATION=${MMT_SMOKE_DURATION:-5}

ktap_print_header
ktap_set_plan 3

[ "$(id -u)" = 0 ] || ktap_exit_fail_msg "must run as root"

if mmt_load; then
	ktap_test_pass "module loaded"
else
	ktap_test_fail "module loaded"
	ktap_exit_fail_msg "cannot load $MMT_KO"
fi

rc=0
mmt_run smoke "duration=$DURATION" || rc=$?
case $rc in
0) ktap_test_pass "smoke duration=$DURATION passed" ;;
2) ktap_test_fail "smoke duration=$DURATION passed (timed out)" ;;
*) ktap_test_fail "smoke duration=$DURATION passed (state $(mmt_state))" ;;
esac

# The result file must agree with the state and report no violation.
if grep -qx 'ok 1 smoke' "$MMT_DIR/result" 2>/dev/null &&
	! grep -q 'violation' "$MMT_DIR/result"; then
	ktap_test_pass "smoke result is 'ok 1 smoke' without violations"
else
	ktap_test_fail "smoke result is 'ok 1 smoke' without violations"
fi

ktap_finished
