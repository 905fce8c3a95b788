#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Seed 002 scenario "munlock_truncate" on the clean kernel: must pass, console clean.
# (Its zoo mutation must make it fail: make zoo PATCH=qemu/zoo/002-*.patch.)
set -uo pipefail
# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/lib.sh"

mmt_scenario_selftest munlock_truncate "duration=${MMT_SEED_DURATION:-8}"
