#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Seed 003 scenario "migrate_teardown_anon_vma" on the clean kernel: must pass, console clean.
# (Its zoo mutation must make it fail: make zoo PATCH=qemu/zoo/003-*.patch.)
set -uo pipefail
# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/lib.sh"

mmt_scenario_selftest migrate_teardown_anon_vma "duration=${MMT_SEED_DURATION:-8}"
