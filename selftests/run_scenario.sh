#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of `make run SCENARIO=... ARGS=...` and of `make zoo`: one
# scenario, KTAP out.
#
#   selftests/run_scenario.sh SCENARIO [key=value ...]   (words may also come as one string)
#
# qemu/run.sh marks the test phase on the console. The result file (with
# each violation and the `run ...` line that reproduces it) is printed as
# KTAP comments, then one test line, the module unloaded, and the counts line
# "N passed, N failed, N skipped". Exit: 0 passed; 4 (KSFT_SKIP) the module
# skipped the run (a machine precondition it checks); 1 anything else
# (failed, error, timed out, rejected, the module did not load).
set -uo pipefail
# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/lib.sh"

scenario=${1:?usage: run_scenario.sh SCENARIO [ARGS]}
read -r -a args <<< "${*:2}"
desc="$scenario${args[*]:+ ${args[*]}}"

ktap_print_header
ktap_set_plan 1
rc=0
if ! mmt_load; then
	ktap_test_fail "$desc (the module did not load)"
	echo "0 passed, 1 failed, 0 skipped"
	exit "$KSFT_FAIL"
fi
mmt_run "$scenario" "${args[@]}" || rc=$?
case $rc in
0) ktap_test_pass "$desc" ;;
4) mmt_test_skip "$desc" "$MMT_RUN_REASON" ;;
*) ktap_test_fail "$desc${MMT_RUN_REASON:+ ($MMT_RUN_REASON)}" ;;
esac
mmt_unload || true
case $rc in
0) echo "1 passed, 0 failed, 0 skipped"; exit "$KSFT_PASS" ;;
4) echo "0 passed, 0 failed, 1 skipped"; exit "$KSFT_SKIP" ;;
*) echo "0 passed, 1 failed, 0 skipped"; exit "$KSFT_FAIL" ;;
esac
