#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# mmtorture debugfs interface test: malformed control input fails with
# EINVAL, a second run fails with EBUSY, stop works, scenarios lists the
# scenarios, and the module unloads in the middle of a run. Leaves the module
# loaded for the tests after it. Runs inside the guest as root; KTAP on stdout.
#
# No "set -e": every step's status is checked and reported as a KTAP result.
set -uo pipefail
# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/lib.sh"

EINVAL_MSG='Invalid argument'
EBUSY_MSG='Device or resource busy'

mmt_selftest_begin 14

# Make sure no run is in progress (a previous test may have left one).
if [ "$(mmt_state)" = running ]; then
	mmt_write stop || true
	mmt_wait_done 60 > /dev/null || true
fi

# scenarios: one line per scenario, "<name> key=default ... # description"
if [ -r "$MMT_DIR/scenarios" ]; then
	sed 's/^/scenarios: /' "$MMT_DIR/scenarios" | ktap_comment
fi
if grep -q '^smoke\([[:space:]]\|$\)' "$MMT_DIR/scenarios" 2>/dev/null &&
	grep -q '^busted\([[:space:]]\|$\)' "$MMT_DIR/scenarios"; then
	ktap_test_pass "scenarios lists smoke and busted"
else
	ktap_test_fail "scenarios lists smoke and busted"
fi

# expect_errno MSG DESC INPUT: writing INPUT to control must fail with MSG
expect_errno() {
	local msg=$1 desc=$2 input=$3
	if mmt_write "$input"; then
		ktap_print_msg "writing '$input' to control succeeded"
		ktap_test_fail "$desc"
	elif [[ "$MMT_WRITE_ERR" != *"$msg"* ]]; then
		ktap_print_msg "writing '$input' failed, but not with '$msg'"
		ktap_test_fail "$desc"
	else
		ktap_test_pass "$desc"
	fi
	# a rejected line must not have started anything
	if [ "$msg" = "$EINVAL_MSG" ] && [ "$(mmt_state)" = running ]; then
		ktap_print_msg "a run started after '$input'; stopping it"
		mmt_write stop || true
		mmt_wait_done 60 > /dev/null || true
	fi
}

expect_errno "$EINVAL_MSG" "control: 'bogus' fails with EINVAL" bogus
expect_errno "$EINVAL_MSG" "control: 'run nosuch' fails with EINVAL" "run nosuch"
expect_errno "$EINVAL_MSG" "control: 'run smoke duration=abc' fails with EINVAL" "run smoke duration=abc"
expect_errno "$EINVAL_MSG" "control: 'run smoke pages=0' fails with EINVAL" "run smoke pages=0"
expect_errno "$EINVAL_MSG" "control: 'run smoke unknownkey=1' fails with EINVAL" "run smoke unknownkey=1"
expect_errno "$EINVAL_MSG" "control: 'run smoke duration=1 duration=2' (a repeated key) fails with EINVAL" "run smoke duration=1 duration=2"

# A flood of rejected writes is warned about at a limited rate (10 per 5 s,
# then one "suppressed" line), not once per write.
before=$(dmesg | grep -c 'mmtorture: control: bad command' || true)
for i in $(seq 200); do
	printf 'bogus%s\n' "$i" > "$MMT_DIR/control" 2> /dev/null
done
after=$(dmesg | grep -c 'mmtorture: control: bad command' || true)
ktap_print_msg "200 rejected writes: $((after - before)) warnings on the console"
if [ $((after - before)) -ge 1 ] && [ $((after - before)) -le 20 ]; then
	ktap_test_pass "rejected writes warn rate-limited ($((after - before)) lines for 200 writes)"
else
	ktap_test_fail "rejected writes warn rate-limited ($((after - before)) lines for 200 writes)"
fi

# A second run while one is in progress: EBUSY. Then stop the first one.
if mmt_write "run smoke duration=20"; then
	expect_errno "$EBUSY_MSG" "control: 'run' while running fails with EBUSY" "run smoke duration=1"
	mmt_write stop || ktap_print_msg "writing 'stop' failed"
	st=$(mmt_wait_done 60)
	case "$st" in
	passed | failed | stopped) ktap_test_pass "stop ends the run (state $st)" ;;
	*)
		mmt_print_status
		ktap_test_fail "stop ends the run (state $st after 60 s)"
		;;
	esac
else
	ktap_test_fail "control: 'run' while running fails with EBUSY (could not start the first run)"
	ktap_test_fail "stop ends the run (no run)"
fi

# Unload in the middle of a run: rmmod must finish within 60 s and take the
# module and its debugfs directory away.
if mmt_write "run smoke duration=30"; then
	sleep 1
	ktap_print_msg "state before rmmod: $(mmt_state)"
	rmmod mmtorture &
	pid=$!
	i=0
	while kill -0 "$pid" 2> /dev/null && [ "$i" -lt 120 ]; do
		sleep 0.5
		i=$((i + 1))
	done
	if kill -0 "$pid" 2> /dev/null; then
		ktap_test_fail "rmmod during a run finishes within 60 s (still running)"
		ktap_test_fail "module gone after rmmod"
		ktap_exit_fail_msg "rmmod mmtorture hangs; not reloading"
	fi
	rc=0
	wait "$pid" || rc=$?
	if [ "$rc" = 0 ]; then
		ktap_test_pass "rmmod during a run finishes within 60 s (after $((i / 2)) s)"
	else
		ktap_test_fail "rmmod during a run finishes within 60 s (rmmod exit $rc)"
	fi
	if ! mmt_is_loaded && [ ! -e "$MMT_DIR" ]; then
		ktap_test_pass "module and $MMT_DIR gone after rmmod"
	else
		ktap_test_fail "module and $MMT_DIR gone after rmmod"
	fi
else
	ktap_test_fail "rmmod during a run finishes within 60 s (could not start the run)"
	ktap_test_fail "module and $MMT_DIR gone after rmmod"
fi

# Reload for the tests that follow.
if mmt_load && [ "$(mmt_state)" = idle ]; then
	ktap_test_pass "module reloads and is idle"
else
	ktap_test_fail "module reloads and is idle (state $(mmt_state))"
fi

ktap_finished
