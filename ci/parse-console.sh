#!/usr/bin/env bash
# Scan a guest console log (as written by qemu/run.sh) for kernel badness.
#
#   ci/parse-console.sh LOGFILE     scan LOGFILE
#   ci/parse-console.sh --self-test feed synthetic logs through the scanner
#                                   and check its verdicts
#
# The log is split in two phases by the first line containing the marker
# MMTORTURE-TEST-PHASE-BEGIN, which the guest writes to /dev/kmsg right
# before it starts the tests: everything before it is "boot", everything from
# it on (test run, module unload, shutdown) is "test". A log without the
# marker is all "boot" (the guest never got to the tests).
#
# Every report found is printed as "PHASE: LOG:LINE: text" followed by some
# context, then one summary line "console-summary: boot=N test=M" (qemu/run.sh
# reads it).
#
# Exit: 0 clean; 1 badness in the test phase (whatever the boot phase had);
#       3 badness only in the boot phase; 2 usage error or unreadable log.
#
# What counts as badness follows tools/testing/selftests/rcutorture/bin/
# console-badness.sh, adapted to the mm debug options of our kernel (KASAN,
# lockdep, DEBUG_VM, PAGE_TABLE_CHECK, DEBUG_LIST, hung task, soft lockup,
# RCU stalls). "Call Trace:" is not a report of its own (every WARNING, BUG,
# lockdep splat and hung-task report carries one): it counts only when no
# other report started in the 100 lines before it, i.e. a bare dump_stack()
# or a report format this list does not know.
set -euo pipefail

# Extended regexps, matched case-sensitively against each line with the
# printk timestamp and CR removed.
BADNESS_RE='BUG:|kernel BUG at|WARNING:|Oops|general protection fault|KASAN|UBSAN|'\
'KFENCE:|Kernel panic|possible circular locking dependency|possible recursive locking|'\
'inconsistent lock state|suspicious RCU usage|possible irq lock inversion|'\
'lock held when returning to user space|DEBUG_LOCKS_WARN_ON|Bad page state|'\
'Bad page map|Bad rss-counter|page_table_check|list_add corruption|list_del corruption|'\
'hung_task|blocked for more than|soft lockup|hard LOCKUP|self-detected stall|'\
'detected stalls on CPUs|RCU stall|rcu_.*kthread starved for|stack-protector|'\
'stack guard page was hit|double fault|Badness'
# Lines that match the above but are not reports.
IGNORE_RE='Kernel command line:|^Command line:|ODEBUG: |This means that this is a DEBUG kernel|'\
'Warning: unable to open an initial console|'\
'NOHZ tick-stop error: Non-RCU local softirq work is pending|'\
'KernelAddressSanitizer initialized|kasan: .* init done|'\
'page_table_check: .*(on|enabled)|hung_task_timeout_secs|'\
'NMI watchdog:|watchdog: .*soft lockup detector|'\
'virtme\.exec='
CALLTRACE_RE='Call Trace:|Call trace:'
# mmtorture's own stall diagnostic: the header it prints right before
# sched_show_task() dumps a stuck worker's stack. That dump is the module's
# worker-stuck report (which fails the run by itself), not a kernel report:
# a Call Trace within 5 lines after this header does not count.
OWN_DUMP_RE='mmtorture: .* made no progress for [0-9]+ ms .*its stack:'
MARKER=MMTORTURE-TEST-PHASE-BEGIN

scan() {
	local log=$1
	[ -r "$log" ] || { echo "parse-console: cannot read $log" >&2; return 2; }
	awk -v bad="$BADNESS_RE" -v ign="$IGNORE_RE" -v ct="$CALLTRACE_RE" -v own="$OWN_DUMP_RE" \
		-v marker="$MARKER" -v logname="$log" '
	function clean(s) {
		sub(/\r+$/, "", s)
		gsub(/\r/, "", s)
		gsub(/\033\[[0-9;?]*[A-Za-z]/, "", s)
		return s
	}
	function body(s) {
		# drop the printk timestamp and caller id: "[   1.234567][  T1] "
		sub(/^<[0-9]+>/, "", s)
		sub(/^\[ *[0-9]+\.[0-9]+\] */, "", s)
		sub(/^\[ *[TC][0-9]+\] */, "", s)
		return s
	}
	{ line[NR] = clean($0) }
	END {
		phase = "boot"; nboot = 0; ntest = 0; last = -1000; shown = 0; lastown = -1000
		for (i = 1; i <= NR; i++) {
			b = body(line[i])
			if (phase == "boot" && index(b, marker)) phase = "test"
			hit = 0
			if (b ~ own) lastown = i
			if (b ~ bad && b !~ ign) {
				hit = 1; last = i
			} else if (b ~ ct && i - last > 100 && i - lastown > 5) {
				hit = 1; last = i
			}
			if (!hit) continue
			if (phase == "boot") nboot++; else ntest++
			if (i <= shown) {
				# already printed as context of the report before
				continue
			}
			from = i - 3; if (from < 1) from = 1; if (from <= shown) from = shown + 1
			to = i + 25; if (to > NR) to = NR
			printf "%s: %s:%d: %s\n", phase, logname, i, b
			for (j = from; j <= to; j++)
				printf "    %s %6d| %s\n", (j == i ? ">" : " "), j, line[j]
			shown = to
		}
		printf "console-summary: boot=%d test=%d\n", nboot, ntest
		if (ntest) exit 1
		if (nboot) exit 3
		exit 0
	}' "$log"
}

self_test() {
	local dir fails=0 n=0 rc
	dir=$(mktemp -d)
	# shellcheck disable=SC2064 # expand now: dir is local
	trap "rm -rf '$dir'" EXIT
	cat > "$dir/clean.log" <<-'EOF'
	[    0.000000] Linux version 7.3.4 (root@host) #1 SMP PREEMPT_DYNAMIC
	[    0.000000] Kernel command line: console=ttyS0 page_table_check=on kasan_multi_shot hung_task_timeout_secs=300
	[    0.012000] kasan: KernelAddressSanitizer initialized
	[    0.100000] page_table_check: enabled
	Warning: unable to open an initial console.
	[    5.000000] MMTORTURE-TEST-PHASE-BEGIN
	[    6.000000] mmtorture: run smoke seed=1 duration=5
	[    6.500000] mmtorture: violation counters: 0
	[    7.000000] MMTORTURE-EXIT=0
	EOF
	cat > "$dir/boot.log" <<-'EOF'
	[    0.000000] Linux version 7.3.4 (root@host) #1 SMP PREEMPT_DYNAMIC
	[    0.007000] ==================================================================
	[    0.007000] BUG: KASAN: wild-memory-access in do_raw_spin_lock+0x5e/0x1e0
	[    0.007000] Read of size 4 at addr 1fffffff8a2e5a3c by task swapper/0/0
	[    0.007000] Call Trace:
	[    0.007000]  <IRQ>
	[    0.007000]  handle_edge_irq+0x3d/0x540
	[    5.000000] MMTORTURE-TEST-PHASE-BEGIN
	[    7.000000] MMTORTURE-EXIT=0
	EOF
	cat > "$dir/test.log" <<-'EOF'
	[    0.000000] Linux version 7.3.4 (root@host) #1 SMP PREEMPT_DYNAMIC
	[    5.000000] MMTORTURE-TEST-PHASE-BEGIN
	[    6.000000] ------------[ cut here ]------------
	[    6.000000] WARNING: mm/rmap.c:1234 at folio_add_anon_rmap_ptes+0x1/0x2, CPU#1: mmtorture/123
	[    6.000000] Call Trace:
	[    7.000000] MMTORTURE-EXIT=0
	EOF
	# a report in both phases: the test phase decides
	cat "$dir/boot.log" > "$dir/both.log"
	printf '[    8.000000] Bad rss-counter state mm:ffff888 type:MM_ANONPAGES val:1\r\n' >> "$dir/both.log"
	# no marker at all: an oops is a boot report
	cat > "$dir/nomarker.log" <<-'EOF'
	[    3.000000] Oops: general protection fault, probably for non-canonical address 0xdead: 0000 [#1] SMP KASAN
	[    3.000000] Kernel panic - not syncing: Fatal exception
	EOF
	# a bare stack dump counts, a Call Trace inside a report does not count twice
	cat > "$dir/calltrace.log" <<-'EOF'
	[    5.000000] MMTORTURE-TEST-PHASE-BEGIN
	[    6.000000] CPU: 1 UID: 0 PID: 77 Comm: mmtorture
	[    6.000000] Call Trace:
	[    6.000000]  <TASK>
	EOF
	# mmtorture's own stuck-worker stack dump is not a kernel report
	cat > "$dir/owndump.log" <<-'EOF'
	[    5.000000] MMTORTURE-TEST-PHASE-BEGIN
	[    9.000000] mmtorture: busted: worker mmt_migrator made no progress for 7544 ms (stall_s=5); its stack:
	[    9.000000] task:mmt_migrator    state:D stack:0     pid:338   tgid:338   ppid:2
	[    9.000000] Call Trace:
	[    9.000000]  <TASK>
	EOF
	# lockdep, hung task, RCU stall, page table check, sysrq crash
	cat > "$dir/lockdep.log" <<-'EOF'
	[    5.000000] MMTORTURE-TEST-PHASE-BEGIN
	[    9.000000] WARNING: possible circular locking dependency detected
	EOF
	cat > "$dir/hung.log" <<-'EOF'
	[    5.000000] MMTORTURE-TEST-PHASE-BEGIN
	[  300.000000] INFO: task mmtorture-0:99 blocked for more than 120 seconds.
	EOF
	cat > "$dir/rcu.log" <<-'EOF'
	[    5.000000] MMTORTURE-TEST-PHASE-BEGIN
	[   60.000000] rcu: INFO: rcu_preempt self-detected stall on CPU
	EOF
	cat > "$dir/ptc.log" <<-'EOF'
	[    5.000000] MMTORTURE-TEST-PHASE-BEGIN
	[   10.000000] kernel BUG at mm/page_table_check.c:118!
	EOF
	cat > "$dir/sysrq.log" <<-'EOF'
	[    5.000000] MMTORTURE-TEST-PHASE-BEGIN
	[    6.000000] sysrq: Trigger a crash
	[    6.000000] Kernel panic - not syncing: sysrq triggered crash
	EOF
	# the marker line itself may arrive with a syslog prefix or CRs
	printf '<5>[    5.000000] MMTORTURE-TEST-PHASE-BEGIN\r\n[ 6.0] BUG: test\r\n' > "$dir/cr.log"

	local t want
	for t in clean:0 boot:3 test:1 both:1 nomarker:3 calltrace:1 owndump:0 lockdep:1 hung:1 \
		rcu:1 ptc:1 sysrq:1 cr:1 missing:2; do
		want=${t#*:}
		t=${t%%:*}
		n=$((n + 1))
		rc=0
		scan "$dir/$t.log" > "$dir/$t.out" 2>&1 || rc=$?
		if [ "$rc" = "$want" ]; then
			echo "ok $n $t (exit $rc)"
		else
			echo "not ok $n $t (exit $rc, want $want)"
			sed 's/^/# /' "$dir/$t.out"
			fails=$((fails + 1))
		fi
	done
	# the summary line counts reports, not context
	n=$((n + 1))
	if grep -qx 'console-summary: boot=1 test=1' "$dir/both.out"; then
		echo "ok $n summary counts"
	else
		echo "not ok $n summary counts"
		sed 's/^/# /' "$dir/both.out"
		fails=$((fails + 1))
	fi
	echo "$((n - fails)) passed, $fails failed"
	[ "$fails" = 0 ]
}

case "${1:-}" in
--self-test) self_test ;;
-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
'') echo "usage: $0 LOGFILE | --self-test" >&2; exit 2 ;;
*) scan "$1" ;;
esac
