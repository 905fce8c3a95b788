#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of `make run SCENARIO=... ARGS=...`: one scenario, KTAP out.
#
#   selftests/run_scenario.sh SCENARIO [key=value ...]   (words may also come as one string)
#
# qemu/run.sh marks the test phase on the console. Passed → exit 0; failed, error or timeout → exit 1. The result file (with
# each violation and the `run ...` line that reproduces it) is printed.
set -euo pipefail
# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/lib.sh"

scenario=${1:?usage: run_scenario.sh SCENARIO [ARGS]}
read -r -a args <<< "${*:2}"

ktap_print_header
ktap_set_plan 1
mmt_load
rc=0
mmt_run "$scenario" "${args[@]}" || rc=$?
if [ "$rc" = 0 ]; then
	ktap_test_pass "$scenario"
else
	ktap_test_fail "$scenario"
fi
mmt_unload
echo "$((rc == 0 ? 1 : 0)) passed, $((rc == 0 ? 0 : 1)) failed, 0 skipped"
exit $((rc == 0 ? 0 : 1))
