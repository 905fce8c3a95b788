# shellcheck shell=bash
# shellcheck disable=SC2034 # KSFT_* and MMT_WRITE_ERR are for the sourcing scripts
# Helpers for the mmtorture selftests. Sourced, never run; run inside the
# guest as root.
#
# KTAP output: when the tests run from a kernel tree or an installed
# kselftest tree (../kselftest/ktap_helpers.sh next to this directory), the
# kernel's own helpers are sourced; otherwise this file's implementation,
# modelled on tools/testing/selftests/kselftest/ktap_helpers.sh (Linux 7.3):
# ktap_print_header, ktap_set_plan, ktap_skip_all, ktap_test_pass/fail/skip,
# ktap_print_msg, ktap_print_totals, ktap_finished. Ours prints
# "KTAP version 1" and exits KSFT_SKIP when every test was skipped; the
# kernel's prints "TAP version 13" and exits KSFT_PASS then (a whole-scenario
# skip exits KSFT_SKIP explicitly below, with either).
#
# mmtorture helpers (debugfs contract: /sys/kernel/debug/mmtorture/{control,
# scenarios,status,result}): mmt_load, mmt_unload, mmt_run, mmt_state,
# mmt_wait_done, mmt_selftest_begin, mmt_scenario_selftest.
#
# Preconditions (mmt_selftest_begin): a missing one ends the selftest with
# "1..0 # SKIP <reason>" and exit 4 (KSFT_SKIP): not root; no debugfs; fewer
# than 2 NUMA nodes (no /sys/devices/system/node/node1; a test that does not
# migrate sets MMT_NEEDS_NUMA=0); THP disabled ("[never]") when
# MMT_NEEDS_THP=1 (mmt_scenario_selftest sets it for the scenario that needs
# it). A kernel without CONFIG_MMU_NOTIFIER (the park point) is seen by the
# module itself: the park scenarios end "skipped" with that reason.
# A missing module file is a failure, not a skip: it is our own build.

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

MMT_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MMT_ROOT=${MMT_ROOT:-$(cd "$MMT_HERE/.." && pwd)}
# The module: beside the tests when installed (make -C selftests install
# MMT_KO=...), else the repository's build.
if [ -z "${MMT_KO:-}" ]; then
	MMT_KO=$MMT_ROOT/mmtorture.ko
	[ ! -f "$MMT_HERE/mmtorture.ko" ] || MMT_KO=$MMT_HERE/mmtorture.ko
fi
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

# The kernel's own helpers when we run from a kernel (or installed kselftest)
# tree; they replace the definitions above. MMT_OWN_KTAP=1 keeps ours.
MMT_KTAP_HELPERS=$MMT_HERE/../kselftest/ktap_helpers.sh
if [ -z "${MMT_OWN_KTAP:-}" ] && [ -r "$MMT_KTAP_HELPERS" ]; then
	# shellcheck source=/dev/null
	. "$MMT_KTAP_HELPERS"
fi

# mmt_test_skip DESC REASON: "ok N DESC # SKIP REASON" with either helpers.
mmt_test_skip() {
	__ktap_test ok "$1" "SKIP${2:+ $2}"
	KTAP_CNT_SKIP=$((KTAP_CNT_SKIP + 1))
}

# ---------------------------------------------------------------- mmtorture

# mmt_kmsg TEXT: a line on the kernel log (the console), if we may write it.
mmt_kmsg() {
	{ echo "$*" > /dev/kmsg; } 2> /dev/null || true
}

mmt_is_loaded() {
	grep -q '^mmtorture ' /proc/modules
}

mmt_mount_debugfs() {
	if ! grep -q " $MMT_DEBUGFS debugfs " /proc/mounts; then
		mount -t debugfs debugfs "$MMT_DEBUGFS" 2> /dev/null || {
			ktap_print_msg "cannot mount debugfs at $MMT_DEBUGFS"
			return 1
		}
	fi
}

# mmt_missing_precondition: print why this machine cannot run the selftest
# (see the header) and succeed, or print nothing and fail.
mmt_missing_precondition() {
	local thp=/sys/kernel/mm/transparent_hugepage/enabled
	if [ "$(id -u)" != 0 ]; then
		echo "must run as root (uid $(id -u))"
	elif ! grep -qw debugfs /proc/filesystems 2> /dev/null; then
		echo "no debugfs in this kernel (CONFIG_DEBUG_FS)"
	elif ! mmt_mount_debugfs > /dev/null; then
		echo "cannot mount debugfs at $MMT_DEBUGFS"
	elif [ "${MMT_NEEDS_NUMA:-1}" != 0 ] && [ ! -d /sys/devices/system/node/node1 ]; then
		echo "needs 2 NUMA nodes online (no /sys/devices/system/node/node1)"
	elif [ "${MMT_NEEDS_THP:-0}" = 1 ] && { [ ! -r "$thp" ] || grep -q '\[never\]' "$thp"; }; then
		echo "needs transparent hugepages ($thp: $(cat "$thp" 2> /dev/null || echo missing))"
	else
		return 1
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

# Unload the module. Never hangs: rmmod runs in the background and is left
# behind after MMT_RMMOD_WAIT seconds (default 60). A module pinned by a
# worker thread that never returned (a worker-stuck violation) makes rmmod
# fail at once with EBUSY; that is reported as a KTAP comment.
mmt_unload() {
	local out pid i=0 rc=0 wait=${MMT_RMMOD_WAIT:-60}
	mmt_is_loaded || return 0
	out=$(mktemp 2> /dev/null) || out=/dev/null
	rmmod mmtorture > "$out" 2>&1 &
	pid=$!
	while kill -0 "$pid" 2> /dev/null && [ "$i" -lt $((wait * 2)) ]; do
		sleep 0.5
		i=$((i + 1))
	done
	if kill -0 "$pid" 2> /dev/null; then
		ktap_print_msg "rmmod mmtorture still running after $wait s; left behind (pid $pid)"
		return 1
	fi
	wait "$pid" || rc=$?
	if [ "$out" != /dev/null ]; then
		ktap_comment < "$out"
		rm -f "$out"
	fi
	if [ "$rc" != 0 ] && mmt_is_loaded; then
		ktap_print_msg "rmmod mmtorture failed (exit $rc): the module stays loaded; EBUSY means a worker thread of a run has not returned (see the run's worker-stuck violation)"
	fi
	return "$rc"
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

# mmt_result_reason: why the last run ended as it did, from its result: the
# module's SKIP reason, its first violation, its no-coverage line, or its
# error (empty when none applies).
mmt_result_reason() {
	local r=$MMT_DIR/result l
	[ -r "$r" ] || return 0
	l=$(sed -n 's/^ok 1 [^ ]* # SKIP *//p' "$r" | sed -n 1p)
	[ -n "$l" ] || l=$(sed -n 's/^# \(violation: .*\)/\1/p' "$r" | sed -n 1p | cut -c1-160)
	[ -n "$l" ] || l=$(sed -n 's/^# \(no-coverage: .*\)/\1/p' "$r" | sed -n 1p)
	[ -n "$l" ] || l=$(sed -n 's/^not ok 1 [^ ]* # \(no-coverage.*\)/\1/p' "$r" | sed -n 1p)
	[ -n "$l" ] || l=$(sed -n 's/^# \(error: .*\)/\1/p' "$r" | sed -n 1p)
	printf '%s' "$l"
}

# mmt_run SCENARIO [key=value ...]: start a run, wait for it, print its result
# as KTAP comments. Returns 0 passed, 1 failed (or could not be started, or
# ended in another state), 2 timed out (the run is then stopped), 4 skipped
# (the module found a missing machine precondition). MMT_RUN_REASON says why
# a run did not pass, where the result says (mmt_result_reason).
# The timeout is the run's duration= (else the scenario's default duration,
# else MMT_DEFAULT_DURATION) plus MMT_SLACK seconds.
mmt_run() {
	local scenario=$1 duration a st
	shift
	MMT_RUN_REASON=
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
	# on the console too: tells a report's time relative to the run
	mmt_kmsg "mmtorture-selftest: run $scenario${*:+ $*}"
	mmt_write "run $scenario${*:+ $*}" || {
		ktap_print_msg "writing 'run $scenario${*:+ $*}' to control failed"
		MMT_RUN_REASON="rejected: $MMT_WRITE_ERR"
		return 1
	}
	if ! st=$(mmt_wait_done $((duration + MMT_SLACK))); then
		ktap_print_msg "run $scenario: still $st after $((duration + MMT_SLACK)) s; stopping it"
		mmt_print_status
		mmt_write stop || true
		st=$(mmt_wait_done 60) || ktap_print_msg "run $scenario: did not stop within 60 s (state $st)"
		mmt_print_result
		MMT_RUN_REASON=$(mmt_result_reason)
		MMT_RUN_REASON="timed out${MMT_RUN_REASON:+: $MMT_RUN_REASON}"
		return 2
	fi
	mmt_print_result
	MMT_RUN_REASON=$(mmt_result_reason)
	case "$st" in
	passed) return 0 ;;
	skipped) return 4 ;;
	failed) return 1 ;;
	*)
		ktap_print_msg "run $scenario ended in state '$st'"
		mmt_print_status
		MMT_RUN_REASON="state $st${MMT_RUN_REASON:+: $MMT_RUN_REASON}"
		return 1
		;;
	esac
}

# mmt_selftest_begin PLAN: KTAP header; a missing precondition skips the
# whole selftest (exit KSFT_SKIP); else the plan, and the module loaded as
# test 1 of PLAN (a failure to load ends the selftest as failed).
mmt_selftest_begin() {
	local why
	ktap_print_header
	if why=$(mmt_missing_precondition); then
		ktap_skip_all "$why"
		exit "$KSFT_SKIP"
	fi
	ktap_set_plan "$1"
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
# exits with the KTAP verdict: KSFT_SKIP when the module skipped the run
# (both scenario tests "ok ... # SKIP <reason>").
mmt_scenario_selftest() {
	local name=$1 desc rc=0 why
	shift
	desc="$name${*:+ $*}"
	case "$name" in
	thp_pin_migrate) : "${MMT_NEEDS_THP:=1}" ;;
	esac
	mmt_selftest_begin 3
	mmt_run "$name" "$@" || rc=$?
	why=$MMT_RUN_REASON
	case $rc in
	0) ktap_test_pass "$desc passed" ;;
	4)
		mmt_test_skip "$desc passed" "$why"
		mmt_test_skip "$name result is 'ok 1 $name' without violations" "$why"
		ktap_print_totals
		exit "$KSFT_SKIP"
		;;
	2) ktap_test_fail "$desc passed (${why:-timed out})" ;;
	*) ktap_test_fail "$desc passed (state $(mmt_state)${why:+: $why})" ;;
	esac
	if grep -qx "ok 1 $name" "$MMT_DIR/result" 2>/dev/null &&
		! grep -q 'violation' "$MMT_DIR/result"; then
		ktap_test_pass "$name result is 'ok 1 $name' without violations"
	else
		ktap_test_fail "$name result is 'ok 1 $name' without violations"
	fi
	# A stuck worker pins the module: say so now (rmmod fails at once).
	if grep -q '^# violation: worker-stuck:' "$MMT_DIR/result" 2> /dev/null; then
		mmt_unload || true
	fi
	ktap_finished
}
