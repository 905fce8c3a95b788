# shellcheck shell=bash
# shellcheck disable=SC2034 # KSFT_* and MMT_WRITE_ERR are for the sourcing scripts
# Helpers for the mmtorture selftests. Sourced, never run; run inside the
# guest as root.
#
# KTAP output, modelled on tools/testing/selftests/kselftest/ktap_helpers.sh
# (Linux 7.3): ktap_print_header, ktap_set_plan, ktap_test_pass/fail/skip,
# ktap_print_msg, ktap_finished. Unlike the kernel's helpers this one prints
# "KTAP version 1" and exits KSFT_SKIP when every test was skipped.
#
# mmtorture helpers (debugfs contract: /sys/kernel/debug/mmtorture/{control,
# scenarios,status,result}): mmt_load, mmt_unload, mmt_run, mmt_state,
# mmt_wait_done.

KSFT_PASS=0
KSFT_FAIL=1
KSFT_XFAIL=2
KSFT_XPASS=3
KSFT_SKIP=4

KTAP_TESTNO=1
KTAP_CNT_PASS=0
KTAP_CNT_FAIL=0
KTAP_CNT_XFAIL=0
KTAP_CNT_SKIP=0
KSFT_NUM_TESTS=0

MMT_ROOT=${MMT_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
MMT_KO=${MMT_KO:-$MMT_ROOT/mmtorture.ko}
MMT_DEBUGFS=${MMT_DEBUGFS:-/sys/kernel/debug}
MMT_DIR=$MMT_DEBUGFS/mmtorture
# Extra seconds mmt_run waits beyond a run's duration= (TCG is slow).
MMT_SLACK=${MMT_SLACK:-120}
# duration used for the timeout when a run does not say duration=
MMT_DEFAULT_DURATION=${MMT_DEFAULT_DURATION:-30}

ktap_print_header() {
	echo "KTAP version 1"
}

ktap_print_msg() {
	echo "# $*"
}

ktap_set_plan() {
	KSFT_NUM_TESTS=$1
	echo "1..$KSFT_NUM_TESTS"
}

ktap_skip_all() {
	echo "1..0 # SKIP $*"
}

__ktap_test() {
	local result=$1 description=$2 directive=${3:-}
	if [ -n "$directive" ]; then
		echo "$result $KTAP_TESTNO $description # $directive"
	else
		echo "$result $KTAP_TESTNO $description"
	fi
	KTAP_TESTNO=$((KTAP_TESTNO + 1))
}

ktap_test_pass() {
	__ktap_test ok "$1"
	KTAP_CNT_PASS=$((KTAP_CNT_PASS + 1))
}

# ktap_test_skip DESC [REASON]
ktap_test_skip() {
	__ktap_test ok "$1" "SKIP${2:+ $2}"
	KTAP_CNT_SKIP=$((KTAP_CNT_SKIP + 1))
}

ktap_test_xfail() {
	__ktap_test ok "$1" XFAIL
	KTAP_CNT_XFAIL=$((KTAP_CNT_XFAIL + 1))
}

ktap_test_fail() {
	__ktap_test "not ok" "$1"
	KTAP_CNT_FAIL=$((KTAP_CNT_FAIL + 1))
}

# ktap_test_result DESC CMD...: pass if CMD succeeds
ktap_test_result() {
	local description=$1
	shift
	if "$@"; then
		ktap_test_pass "$description"
	else
		ktap_test_fail "$description"
	fi
}

ktap_print_totals() {
	echo "# Totals: pass:$KTAP_CNT_PASS fail:$KTAP_CNT_FAIL xfail:$KTAP_CNT_XFAIL xpass:0 skip:$KTAP_CNT_SKIP error:0"
}

ktap_exit_fail_msg() {
	echo "Bail out! $*"
	ktap_print_totals
	exit "$KSFT_FAIL"
}

# Print the totals and exit: KSFT_FAIL if a test failed or the plan was not
# met, KSFT_SKIP if every planned test was skipped, KSFT_PASS otherwise.
ktap_finished() {
	ktap_print_totals
	if [ "$KTAP_CNT_FAIL" -gt 0 ] ||
		[ $((KTAP_CNT_PASS + KTAP_CNT_SKIP + KTAP_CNT_XFAIL)) -ne "$KSFT_NUM_TESTS" ]; then
		exit "$KSFT_FAIL"
	fi
	if [ "$KSFT_NUM_TESTS" -gt 0 ] && [ "$KTAP_CNT_SKIP" -eq "$KSFT_NUM_TESTS" ]; then
		exit "$KSFT_SKIP"
	fi
	exit "$KSFT_PASS"
}

# Print stdin as KTAP comment lines.
ktap_comment() {
	local l
	while IFS= read -r l || [ -n "$l" ]; do
		echo "# $l"
	done
}

# ---------------------------------------------------------------- mmtorture

mmt_is_loaded() {
	grep -q '^mmtorture ' /proc/modules
}

mmt_mount_debugfs() {
	if [ ! -d "$MMT_DEBUGFS" ] || ! grep -q " $MMT_DEBUGFS debugfs " /proc/mounts; then
		mount -t debugfs debugfs "$MMT_DEBUGFS" || {
			ktap_print_msg "cannot mount debugfs at $MMT_DEBUGFS"
			return 1
		}
	fi
}

# Load the module (if not loaded) and make sure its debugfs files are there.
# MMT_MODULE_PARAMS (words) are passed to insmod as module parameters.
mmt_load() {
	local params=()
	mmt_mount_debugfs || return 1
	if ! mmt_is_loaded; then
		if [ ! -f "$MMT_KO" ]; then
			ktap_print_msg "no module at $MMT_KO (build it first)"
			return 1
		fi
		read -ra params <<< "${MMT_MODULE_PARAMS:-}"
		insmod "$MMT_KO" "${params[@]}" 2>&1 | ktap_comment
		[ "${PIPESTATUS[0]}" = 0 ] || {
			ktap_print_msg "insmod $MMT_KO failed"
			return 1
		}
	fi
	[ -w "$MMT_DIR/control" ] || {
		ktap_print_msg "module loaded but $MMT_DIR/control is missing"
		return 1
	}
}

mmt_unload() {
	if mmt_is_loaded; then
		rmmod mmtorture 2>&1 | ktap_comment
		return "${PIPESTATUS[0]}"
	fi
}

# mmt_write STRING: write STRING to control in one write(2); the exit status
# is that of the write (EINVAL, EBUSY make it fail). The error message goes
# to stdout as a KTAP comment; MMT_WRITE_ERR holds it (C locale, e.g.
# "...: Invalid argument").
mmt_write() {
	local out rc=0
	out=$(LC_ALL=C; (printf '%s\n' "$1" > "$MMT_DIR/control") 2>&1) || rc=$?
	# "/path/lib.sh: line 12: printf: write error: Invalid argument"
	out=$(printf '%s\n' "$out" | sed 's/^.*: line [0-9]*: //; s/^printf: //')
	[ -z "$out" ] || out="control: $out"
	MMT_WRITE_ERR=$out
	[ -z "$out" ] || printf '%s\n' "$out" | ktap_comment
	return "$rc"
}

# The value of the state: line of status (empty if unreadable).
mmt_state() {
	sed -n 's/^state:[[:space:]]*//p' "$MMT_DIR/status" 2>/dev/null | head -n 1
}

# mmt_wait_done SECONDS: poll status every 0.5 s until the state is no longer
# running; print the final state. Returns 0 when done, 1 on timeout. "idle"
# (or an unreadable status) during the first 10 s counts as "not started yet".
mmt_wait_done() {
	local limit=$(( $1 * 2 )) i=0 st
	while :; do
		st=$(mmt_state)
		case "$st" in
		running) ;;
		idle | '') [ "$i" -ge 20 ] && { echo "${st:-unreadable}"; return 0; } ;;
		*) echo "$st"; return 0 ;;
		esac
		[ "$i" -lt "$limit" ] || { echo "${st:-unknown}"; return 1; }
		sleep 0.5
		i=$((i + 1))
	done
}

mmt_print_result() {
	if [ -r "$MMT_DIR/result" ]; then
		ktap_comment < "$MMT_DIR/result"
	fi
}

mmt_print_status() {
	if [ -r "$MMT_DIR/status" ]; then
		sed 's/^/status: /' "$MMT_DIR/status" | ktap_comment
	fi
}

# mmt_scenario_default SCENARIO KEY: print KEY's default from the scenarios
# file ("<name> key=default ... # description"); fails if not listed.
mmt_scenario_default() {
	local name key=$2 w
	# shellcheck disable=SC2034 # name is the first word
	while read -r name w; do
		[ "$name" = "$1" ] || continue
		w=${w%%#*}
		for w in $w; do
			case "$w" in
			"$key"=*) echo "${w#*=}"; return 0 ;;
			esac
		done
	done < "$MMT_DIR/scenarios"
	return 1
}

# mmt_run SCENARIO [key=value ...]: start a run, wait for it, print its result
# as KTAP comments. Returns 0 passed, 1 failed (or could not be started, or
# ended in another state), 2 timed out (the run is then stopped).
# The timeout is the run's duration= (else the scenario's default duration,
# else MMT_DEFAULT_DURATION) plus MMT_SLACK seconds.
mmt_run() {
	local scenario=$1 duration a st
	shift
	duration=$(mmt_scenario_default "$scenario" duration 2>/dev/null) || true
	case "$duration" in
	'' | *[!0-9]*) duration=$MMT_DEFAULT_DURATION ;;
	esac
	for a in "$@"; do
		case "$a" in
		duration=*[!0-9]* | duration=) ;;
		duration=*) duration=${a#duration=} ;;
		esac
	done
	ktap_print_msg "run $scenario${*:+ $*}"
	mmt_write "run $scenario${*:+ $*}" || {
		ktap_print_msg "writing 'run $scenario${*:+ $*}' to control failed"
		return 1
	}
	if ! st=$(mmt_wait_done $((duration + MMT_SLACK))); then
		ktap_print_msg "run $scenario: still $st after $((duration + MMT_SLACK)) s; stopping it"
		mmt_print_status
		mmt_write stop || true
		st=$(mmt_wait_done 60) || ktap_print_msg "run $scenario: did not stop within 60 s (state $st)"
		mmt_print_result
		return 2
	fi
	mmt_print_result
	case "$st" in
	passed) return 0 ;;
	failed) return 1 ;;
	*)
		ktap_print_msg "run $scenario ended in state '$st'"
		mmt_print_status
		return 1
		;;
	esac
}

# mmt_selftest_begin PLAN: KTAP header and plan, root check, and the module
# loaded as test 1 of PLAN (a failure to load ends the selftest).
mmt_selftest_begin() {
	ktap_print_header
	ktap_set_plan "$1"
	[ "$(id -u)" = 0 ] || ktap_exit_fail_msg "must run as root"
	if mmt_load; then
		ktap_test_pass "module loaded"
	else
		ktap_test_fail "module loaded"
		ktap_exit_fail_msg "cannot load $MMT_KO"
	fi
}

# mmt_scenario_selftest NAME [key=value ...]: a whole selftest for one
# scenario expected to pass on a clean kernel: load the module, run it, and
# require state "passed" and a result without violations. KTAP, 3 tests;
# exits with the KTAP verdict.
mmt_scenario_selftest() {
	local name=$1 rc=0
	shift
	mmt_selftest_begin 3
	mmt_run "$name" "$@" || rc=$?
	case $rc in
	0) ktap_test_pass "$name $* passed" ;;
	2) ktap_test_fail "$name $* passed (timed out)" ;;
	*) ktap_test_fail "$name $* passed (state $(mmt_state))" ;;
	esac
	if grep -qx "ok 1 $name" "$MMT_DIR/result" 2>/dev/null &&
		! grep -q 'violation' "$MMT_DIR/result"; then
		ktap_test_pass "$name result is 'ok 1 $name' without violations"
	else
		ktap_test_fail "$name result is 'ok 1 $name' without violations"
	fi
	ktap_finished
}
