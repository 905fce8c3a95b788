#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# "mix" (random layout ops vs migration, rmap probes, pins, isolation, with a
# shadow model checked at checkpoints) on the clean kernel: must pass,
# console clean. A short run here; ci/mix-bench.sh runs the long ones.
set -uo pipefail
# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/lib.sh"

mmt_scenario_selftest mix "duration=${MMT_MIX_DURATION:-15}"
