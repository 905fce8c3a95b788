#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Guest entry point of the mmtorture selftests (run as root inside the test
# kernel, normally via: qemu/run.sh -- selftests/run_guest.sh).
#
#   selftests/run_guest.sh [NAME...]   run selftests/mmtorture_NAME.sh (all
#                                      mmtorture_*.sh when no NAME is given)
#
# Output is KTAP: one top-level test per script, its own KTAP output nested
# under it (indented by 4 spaces, "# Subtest:" line first), then the plain
# line "N passed, N failed, N skipped". A script exiting 0 is "ok", 4
# (KSFT_SKIP) is "ok ... # SKIP", anything else, or running longer than
# MMT_SELFTEST_TIMEOUT seconds (default: timeout= of selftests/settings, the
# kselftest runner's limit, else 900), is "not ok".
#
# Progress: a KTAP comment "# [n/N] NAME: start" before each script and
# "# [n/N] NAME: done in S s (exit RC)" after it (wall time in the guest), so
# a slow suite under TCG shows where it is; the same go to /dev/kmsg.
#
# Writes MMTORTURE-TEST-PHASE-BEGIN to /dev/kmsg first (boot-time console
# reports are told apart from test-time ones by it) and MMTORTURE-EXIT=<rc>
# last. Exits 0 iff no script failed.
set -euo pipefail
# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/lib.sh"

here=$(cd "$(dirname "$0")" && pwd)
TIMEOUT=${MMT_SELFTEST_TIMEOUT:-$(sed -n 's/^timeout=\([0-9][0-9]*\)$/\1/p' "$here/settings" 2> /dev/null)}
TIMEOUT=${TIMEOUT:-900}

kmsg() { { echo "$*" > /dev/kmsg; } 2> /dev/null || true; }

kmsg MMTORTURE-TEST-PHASE-BEGIN

tests=()
if [ $# -gt 0 ]; then
	for name in "$@"; do
		name=${name#mmtorture_}
		name=${name%.sh}
		tests+=("$here/mmtorture_$name.sh")
	done
else
	for t in "$here"/mmtorture_*.sh; do
		[ -e "$t" ] && tests+=("$t")
	done
fi

ktap_print_header
ktap_set_plan "${#tests[@]}"

pass=0 fail=0 skip=0 n=0
for t in "${tests[@]}"; do
	n=$((n + 1))
	name=$(basename "$t" .sh)
	echo "# [$n/${#tests[@]}] $name: start"
	echo "    # Subtest: $name"
	kmsg "mmtorture-selftest: $n $name start"
	t0=$SECONDS
	rc=0
	if [ ! -x "$t" ] && [ ! -f "$t" ]; then
		echo "    # no such test: $t"
		rc=$KSFT_FAIL
	else
		# the nested KTAP stream, indented; stdin closed so a test can't eat ours
		set +e
		timeout --kill-after=10 "$TIMEOUT" bash "$t" < /dev/null 2>&1 |
			sed -u 's/^/    /'
		rc=${PIPESTATUS[0]}
		set -e
	fi
	kmsg "mmtorture-selftest: $n $name exit $rc after $((SECONDS - t0)) s"
	echo "# [$n/${#tests[@]}] $name: done in $((SECONDS - t0)) s (exit $rc)"
	case $rc in
	"$KSFT_PASS") echo "ok $n $name"; pass=$((pass + 1)) ;;
	"$KSFT_SKIP") echo "ok $n $name # SKIP"; skip=$((skip + 1)) ;;
	124 | 137) echo "# $name: timed out after $TIMEOUT s"; echo "not ok $n $name"; fail=$((fail + 1)) ;;
	*) echo "# $name: exit code $rc"; echo "not ok $n $name"; fail=$((fail + 1)) ;;
	esac
done

echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
echo "$pass passed, $fail failed, $skip skipped"
rc=0
[ "$fail" = 0 ] || rc=1
kmsg "MMTORTURE-EXIT=$rc"
exit "$rc"
