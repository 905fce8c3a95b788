#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# mmtorture smoke test: load the module, run the "smoke" scenario briefly and
# expect it to pass with no violation. Runs inside the guest as root; KTAP.
set -uo pipefail
# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/lib.sh"

mmt_scenario_selftest smoke "duration=${MMT_SMOKE_DURATION:-5}"
