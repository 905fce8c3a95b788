#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Seed 004 scenario "mremap_merge_migrate" on the clean kernel: must pass, console clean.
# (Its zoo mutation must make it fail: make zoo PATCH=qemu/zoo/004-*.patch.)
set -uo pipefail
# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/lib.sh"

mmt_scenario_selftest mremap_merge_migrate "duration=${MMT_SEED_DURATION:-8}"
