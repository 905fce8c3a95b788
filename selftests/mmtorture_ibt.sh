#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# mmtorture IBT load check: on a kernel built with CONFIG_X86_KERNEL_IBT,
# objtool seals the ENDBR of functions whose address is never taken, and an
# indirect call to one faults ("Missing ENDBR") on a CPU that enforces IBT.
# The module checks every resolved function at load. This test loads it
# with ibt_force=1 (act as if the CPU enforced IBT): when the plain load
# named sealed functions, the forced load must fail with ENOEXEC and a
# message naming them and the remedy; when it named none, it must load.
# Then the module is reloaded normally for the tests after this one.
set -uo pipefail
# shellcheck source=selftests/lib.sh
. "$(dirname "$0")/lib.sh"

mmt_selftest_begin 3

if [ "$(mmt_state)" = running ]; then
	mmt_write stop || true
	mmt_wait_done 60 > /dev/null || true
fi
mmt_unload
mark="mmtorture-ibt-test-$$"
echo "$mark" > /dev/kmsg
insmod "$MMT_KO" 2>&1 | ktap_comment
sealed=$(dmesg | sed -n "/$mark/,\$p" | grep -c 'has no ENDBR' || true)
mmt_unload
ktap_print_msg "plain load: $sealed resolved function(s) without ENDBR"
ibt=$( (grep -qw ibt /proc/cpuinfo && echo enforced) || echo not-enforced)
ktap_print_msg "CPU: IBT $ibt"

echo "$mark-forced" > /dev/kmsg
rc=0
out=$(LC_ALL=C insmod "$MMT_KO" ibt_force=1 2>&1) || rc=$?
printf '%s\n' "$out" | ktap_comment
dmesg | sed -n "/$mark-forced/,\$p" | grep 'mmtorture' | ktap_comment
if [ "$sealed" -gt 0 ]; then
	# ENOEXEC: insmod says "Invalid module format" (strerror: "Exec format error")
	if [ "$rc" != 0 ] && [[ "$out" == *"Invalid module format"* || "$out" == *"Exec format error"* ]] &&
		dmesg | sed -n "/$mark-forced/,\$p" | grep -q "^.*mmtorture: $sealed function(s) above cannot be called under kernel IBT (ibt_force=1); boot the test kernel with ibt=off"; then
		ktap_test_pass "insmod ibt_force=1 refuses: $sealed sealed function(s) named, remedy given"
	else
		ktap_test_fail "insmod ibt_force=1 refuses: $sealed sealed function(s) named, remedy given (rc $rc)"
	fi
else
	if [ "$rc" = 0 ]; then
		ktap_test_pass "insmod ibt_force=1 loads: every resolved function has an ENDBR"
	else
		ktap_test_fail "insmod ibt_force=1 loads: every resolved function has an ENDBR (rc $rc)"
	fi
fi
mmt_unload
if mmt_load; then
	ktap_test_pass "module reloads without ibt_force"
else
	ktap_test_fail "module reloads without ibt_force"
fi
ktap_finished
