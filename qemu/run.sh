#!/usr/bin/env bash
# Boot the test kernel under QEMU (virtme-ng; KVM when usable, else TCG) and
# run one command in it.
#
#   qemu/run.sh [--kdir DIR] [--timeout SEC] [--log FILE] [--retries N]
#               [--boot-timeout SEC] [--console] -- COMMAND...
#   qemu/run.sh --probe-accel   print the accelerator a boot would use
#                               ("accel: kvm" or "accel: tcg (why)"); exit 0,
#                               or 125 when MMT_ACCEL=kvm cannot be honoured
#
#   --kdir DIR     built kernel tree (default: $KDIR, else `ci/kernel.sh --path`)
#   --timeout SEC  kill the guest after SEC seconds per boot (default 900)
#   --log FILE     console log (default $MMT_CACHE/logs/console-<time>.log);
#                  the command's output is kept beside it as FILE.out
#   --retries N    reboots allowed after an unclean boot (default 2, or
#                  $MMT_BOOT_RETRIES)
#   --boot-timeout SEC
#                  a boot that has not reached the test phase after SEC
#                  seconds is killed and counts as unclean (default 300)
#   --console      also copy the console to stderr as it is written
#
# Environment: KDIR (as --kdir), MMT_BOOT_RETRIES (as --retries), MMT_KOPTS
# (extra kernel options), MMT_QEMU_CPU (qemu -cpu; default max,la57=off under
# TCG, host,la57=off under KVM), MMT_ACCEL (kvm or tcg: force one; default:
# KVM when usable).
#
# Accelerator: KVM is used when it really works, not when /dev/kvm merely
# exists: qemu/kvm-probe.py opens /dev/kvm, creates a VM and a vCPU and runs
# it to a HLT, then QEMU itself must bring up a KVM vCPU with the -cpu we
# would give it (`-S`, then quit: a sandbox's /dev/kvm can pass the first
# step and still refuse QEMU's MSRs). Otherwise TCG (vng --disable-kvm).
# MMT_ACCEL=kvm without a usable KVM exits 125 at once with the reason.
# The choice is logged and printed on stdout as the KTAP comment
# "# accel: kvm" or "# accel: tcg (...)".
# Test hook: MMT_INJECT_BOOT_REPORT=N makes the guest of each of the first N
# boots write a fake boot-phase report ("WARNING: mmtorture test hook: ...")
# to /dev/kmsg before MMTORTURE-TEST-PHASE-BEGIN, to exercise the retry
# policy below: `MMT_INJECT_BOOT_REPORT=1 qemu/run.sh -- true` is retried
# once and passes; `MMT_INJECT_BOOT_REPORT=1 qemu/run.sh -- exit 1` is not
# retried and exits 1.
#
# COMMAND (its words joined by spaces, like ssh) runs in the guest under
# `bash -c`, as root, in this repository (the guest sees the host's
# filesystem read-only, so /work/main/mmtorture.ko can be insmod'ed directly),
# with stdin from /dev/null. Its stdout and stderr go to FILE.out through a
# read-write 9p mount, and are copied to this script's stdout as they come.
#
# The guest: 4 vCPUs as 2 sockets x 2 cores, 2 GiB as 2 NUMA nodes of 1 GiB,
# node 0 = socket 0 = CPUs 0-1, node 1 = socket 1 = CPUs 2-3. (A plain
# `-smp 4` is 1 socket x 4 cores in QEMU 10, and splitting that socket across
# nodes makes the kernel WARN in set_cpu_sibling_map at every boot.)
# The CPU is vng's TCG `-cpu max` without LA57 (5-level paging): see below.
#
# Exit status:
#   0    the command exited 0 and the console is clean
#   N    the command's own non-zero exit status N
#   1    the command exited 0 but the console shows a report (WARNING, BUG,
#        KASAN, lockdep, ...) raised after the test phase began
#   2    the guest crashed: no MMTORTURE-EXIT marker on the console
#   3    every boot had a report before the test phase began (see below)
#   124  the guest hung: killed after --timeout seconds
#   125  usage or setup error (including MMT_ACCEL=kvm without usable KVM)
#
# How the status gets out: virtme-init cannot find its script I/O ports in
# our guest (no udevd to create /dev/virtio-ports/*), so it runs the command
# on the serial console and vng returns 255 whatever the command did. The
# guest side of this script (--in-guest) therefore writes
# MMTORTURE-TEST-PHASE-BEGIN to /dev/kmsg before the command and
# MMTORTURE-EXIT=<status> after it; the host reads the last marker from the
# console log. No marker means the guest died (panic, oops with
# panic_on_oops, triple fault) or hung.
#
# Boot-time reports, the policy: the console is scanned by
# ci/parse-console.sh, which splits it at MMTORTURE-TEST-PHASE-BEGIN. A report
# in the test phase fails the run. A report before it (the boot phase, before
# any test module is loaded) is not the tests' doing, but it makes the whole
# boot suspect (KASAN reports can corrupt state, and lockdep switches itself
# off after its first report), so such a boot is void: its report is printed
# loudly, the guest is booted again and the whole command rerun, up to
# --retries times, each with its own log (FILE-retryN.log). A boot that does
# not reach the test phase (a boot hang after --boot-timeout, or a crash
# before the marker) counts as unclean too. The run fails (status 3, or 124
# for a boot hang, 2 for a boot crash) when every boot was unclean.
# Only a boot whose test phase was clean may be retried: when the test phase
# itself failed (the command's status non-zero, a report after the marker, a
# crash or hang after it), that failure is the verdict even if the boot was
# also unclean: it is never retried away. Every boot's log is kept.
#
# The one boot-time report seen so far, and why it is gone: with vng's TCG
# `-cpu max` the guest has LA57 and boots with 5-level paging; then
# identify_cpu(&boot_cpu_data) memsets x86_capability before re-reading
# CPUID, so for a moment pgtable_l5_enabled() (X86_FEATURE_LA57, read
# dynamically before alternatives are patched) is false, KASAN computes its
# shadow start for 47-bit addresses, and a timer interrupt landing in that
# window takes desc->lock at a 5-level direct-map address (0xff11...) and
# gets `BUG: KASAN: wild-memory-access in do_raw_spin_lock` from
# handle_edge_irq (1 boot in 11 here, 3 in 15 in the reference; with
# kasan_multi_shot the reports storm and the boot livelocks). Giving the
# guest `-cpu max,la57=off` (4-level paging, LA57 never set) closes the
# window; the retry policy stays for whatever else an early boot may hit.
set -euo pipefail
# shellcheck source=ci/common.sh
. "$(dirname "$0")/../ci/common.sh"

SELF=$MMT_ROOT/qemu/run.sh
BEGIN_MARKER=MMTORTURE-TEST-PHASE-BEGIN
EXIT_MARKER=MMTORTURE-EXIT

# Kernel options on top of vng's (vng --verbose adds loglevel=7 and
# earlyprintk; script mode adds panic=-1 with qemu -no-reboot, so a panic
# ends the guest at once):
#   printk.time=1       timestamps (CONFIG_PRINTK_TIME is off in our config)
#   printk.devkmsg=on   no rate limit on /dev/kmsg, so the markers and the
#                       selftests' progress lines are never dropped
#   page_table_check=on CONFIG_PAGE_TABLE_CHECK is built but off by default
# Not kasan_multi_shot: one KASAN report already fails the run, and under TCG
# a report storm from a hot path (or an interrupt) can livelock the guest.
KOPTS=(printk.time=1 printk.devkmsg=on page_table_check=on)
# Extra kernel options for experiments: MMT_KOPTS="a=b c".
read -ra EXTRA_KOPTS <<< "${MMT_KOPTS:-}"

usage() {
	sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//'
}

kmsg() { { echo "$*" > /dev/kmsg; } 2> /dev/null || true; }

# ------------------------------------------------------------------ guest side
# qemu/run.sh --in-guest OUTDIR -- COMMAND...
guest_main() {
	local outdir=$1 out rc=0 inject=0
	shift
	if [ "${1:-}" = --inject-boot-report ]; then
		inject=1
		shift
	fi
	[ "${1:-}" = -- ] && shift
	cd "$MMT_ROOT"
	out=/dev/stdout
	if [ -d "$outdir" ] && : 2> /dev/null > "$outdir/guest.out"; then
		out=$outdir/guest.out
	else
		kmsg "mmtorture: cannot write $outdir/guest.out; command output goes to the console"
	fi
	if [ "$inject" = 1 ]; then
		# the test hook (MMT_INJECT_BOOT_REPORT): a boot-phase "report"
		kmsg "WARNING: mmtorture test hook: injected boot-phase report (MMT_INJECT_BOOT_REPORT)"
	fi
	kmsg "$BEGIN_MARKER"
	bash -c "$*" < /dev/null > "$out" 2>&1 || rc=$?
	sync
	kmsg "$EXIT_MARKER=$rc"
	exit "$rc"
}

# ------------------------------------------------------------------- host side
KDIR=${KDIR:-}
TIMEOUT=900
LOG=
RETRIES=${MMT_BOOT_RETRIES:-2}
BOOT_TIMEOUT=300
SHOW_CONSOLE=0
PROBE_ONLY=0

# choose_accel: set ACCEL (kvm|tcg) and ACCEL_WHY; 125 if MMT_ACCEL=kvm is
# impossible here.
choose_accel() {
	local why='' out
	case "${MMT_ACCEL:-}" in
	'' | kvm | tcg) ;;
	*) log "MMT_ACCEL must be kvm or tcg, not '$MMT_ACCEL'"; return 125 ;;
	esac
	if [ "${MMT_ACCEL:-}" = tcg ]; then
		ACCEL=tcg ACCEL_WHY="forced by MMT_ACCEL=tcg"
		return 0
	fi
	if ! out=$(python3 "$MMT_ROOT/qemu/kvm-probe.py" 2>&1); then
		why="/dev/kvm not usable: ${out:-probe failed}"
	elif ! out=$(printf 'quit\n' | timeout 30 qemu-system-x86_64 -accel kvm \
		-cpu "${MMT_QEMU_CPU:-host,la57=off}" -machine q35 -m 64 -smp 1 \
		-display none -nodefaults -no-reboot -S -monitor stdio 2>&1); then
		why="qemu cannot start a KVM vCPU: $(printf '%s\n' "$out" | grep -av '^QEMU\|^(qemu)' | head -1)"
	fi
	if [ -z "$why" ]; then
		ACCEL=kvm ACCEL_WHY=
		return 0
	fi
	if [ "${MMT_ACCEL:-}" = kvm ]; then
		log "MMT_ACCEL=kvm, but KVM is not usable here: $why"
		return 125
	fi
	ACCEL=tcg ACCEL_WHY=$why
}

[ $# -gt 0 ] || { usage >&2; exit 125; }
while [ $# -gt 0 ]; do
	case "$1" in
	--in-guest)
		shift
		[ $# -ge 1 ] || exit 125
		guest_main "$@"
		;;
	--kdir) KDIR=${2:?--kdir needs a value}; shift 2 ;;
	--kdir=*) KDIR=${1#*=}; shift ;;
	--timeout) TIMEOUT=${2:?--timeout needs a value}; shift 2 ;;
	--timeout=*) TIMEOUT=${1#*=}; shift ;;
	--log) LOG=${2:?--log needs a value}; shift 2 ;;
	--log=*) LOG=${1#*=}; shift ;;
	--retries) RETRIES=${2:?--retries needs a value}; shift 2 ;;
	--retries=*) RETRIES=${1#*=}; shift ;;
	--boot-timeout) BOOT_TIMEOUT=${2:?--boot-timeout needs a value}; shift 2 ;;
	--boot-timeout=*) BOOT_TIMEOUT=${1#*=}; shift ;;
	--console) SHOW_CONSOLE=1; shift ;;
	--probe-accel) PROBE_ONLY=1; shift; break ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	*) log "unknown option: $1"; usage >&2; exit 125 ;;
	esac
done
ACCEL="" ACCEL_WHY=""
choose_accel || exit $?
accel_line="accel: $ACCEL${ACCEL_WHY:+ ($ACCEL_WHY)}"
if [ "$PROBE_ONLY" = 1 ]; then
	echo "$accel_line"
	exit 0
fi
[ $# -gt 0 ] || { log "no command given (put it after --)"; exit 125; }
CMD="$*"
[[ "$TIMEOUT" =~ ^[0-9]+$ ]] || { log "--timeout: not a number: $TIMEOUT"; exit 125; }
[[ "$RETRIES" =~ ^[0-9]+$ ]] || { log "--retries: not a number: $RETRIES"; exit 125; }
[[ "$BOOT_TIMEOUT" =~ ^[0-9]+$ ]] || { log "--boot-timeout: not a number: $BOOT_TIMEOUT"; exit 125; }
INJECT=${MMT_INJECT_BOOT_REPORT:-0}
[[ "$INJECT" =~ ^[0-9]+$ ]] || { log "MMT_INJECT_BOOT_REPORT: not a number: $INJECT"; exit 125; }

if [ -z "$KDIR" ]; then
	KDIR=$(bash "$MMT_ROOT/ci/kernel.sh" --path)
	[ -e "$KDIR/.mmtorture-built" ] ||
		{ log "kernel not built (yet) at $KDIR: run ci/kernel.sh"; exit 125; }
fi
KDIR=$(cd "$KDIR" && pwd) || { log "no kernel tree at $KDIR"; exit 125; }
[ -f "$KDIR/arch/x86/boot/bzImage" ] || { log "no bzImage in $KDIR"; exit 125; }
command -v vng > /dev/null || { log "vng not found (run 'make deps')"; exit 125; }

if [ -z "$LOG" ]; then
	LOG=$MMT_CACHE/logs/console-$(date +%Y%m%d-%H%M%S).log
fi
mkdir -p "$(dirname "$LOG")"
log "$accel_line"
echo "# $accel_line"
if [ "$ACCEL" = kvm ]; then
	ACCEL_OPTS=()
	QEMU_CPU=${MMT_QEMU_CPU:-host,la57=off}
else
	ACCEL_OPTS=(--disable-kvm)
	QEMU_CPU=${MMT_QEMU_CPU:-max,la57=off}
fi
LOG=$(cd "$(dirname "$LOG")" && pwd)/$(basename "$LOG")

# boot_once LOGFILE: boot, run CMD, copy its output to stdout and LOGFILE.out.
# Sets HOST_RC (timeout's status), BOOT_HUNG (1 if killed by the boot
# watchdog) and VNG_SECONDS.
boot_once() {
	local log=$1 rundir tailpid='' inject=()
	[ "$attempt" -ge "$INJECT" ] || inject=(--inject-boot-report)
	rundir=$(mktemp -d "$(dirname "$log")/.guest-XXXXXX")
	# vng passes --cpus to qemu -smp and --qemu-opts last, so this -cpu
	# overrides vng's own (`-cpu max` under TCG, `-cpu host` under KVM; LA57
	# off under both, see below).
	# shellcheck disable=SC2054 # the commas belong to qemu's options
	local vng=(
		vng --run "$KDIR" "${ACCEL_OPTS[@]}" --skip-modules
		--cpus 4,sockets=2,cores=2,threads=1 --memory 2G
		--numa 1G,cpus=0-1 --numa 1G,cpus=2-3
		--verbose --cwd "$MMT_ROOT" --rwdir "$rundir"
		--append "${KOPTS[*]} ${EXTRA_KOPTS[*]}"
		--qemu-opts="-cpu $QEMU_CPU"
		--exec "bash $(printf %q "$SELF") --in-guest $(printf %q "$rundir") ${inject[*]} -- $(printf %q "$CMD")"
	)
	log "booting $KDIR (timeout ${TIMEOUT}s), console: $log"
	printf '%q ' "${vng[@]}" > "$log.cmd"
	: > "$rundir/guest.out"
	tail -n +1 -F --pid=$$ "$rundir/guest.out" 2> /dev/null &
	tailpid=$!
	local contail=
	if [ "$SHOW_CONSOLE" = 1 ]; then
		: > "$log"
		tail -n +1 -F --pid=$$ "$log" >&2 2> /dev/null &
		contail=$!
	fi
	local t0=$SECONDS logfd catpid tpid booted=0
	# stdin: /dev/null, or QEMU's stdio chardev is stopped by SIGTTIN when
	# run in the background; stdout: a pipe, because QEMU opens
	# /proc/self/fd/{1,2} anew (a regular file would be truncated, and
	# written at two offsets). timeout runs vng in a process group of its
	# own and signals all of it (vng, virtme-run, qemu), also when it is
	# sent SIGTERM itself.
	exec {logfd}> >(exec cat > "$log")
	catpid=$!
	timeout --kill-after=30 "$TIMEOUT" "${vng[@]}" < /dev/null >&"$logfd" 2>&1 &
	tpid=$!
	exec {logfd}>&-
	BOOT_HUNG=0
	while kill -0 "$tpid" 2> /dev/null; do
		if [ "$booted" = 0 ] && grep -aq "$BEGIN_MARKER" "$log" 2> /dev/null; then
			booted=1
			log "test phase began after $((SECONDS - t0))s"
		fi
		if [ "$booted" = 0 ] && [ "$BOOT_TIMEOUT" -gt 0 ] &&
			[ $((SECONDS - t0)) -ge "$BOOT_TIMEOUT" ]; then
			log "BOOT HANG: no $BEGIN_MARKER after ${BOOT_TIMEOUT}s; killing the guest"
			BOOT_HUNG=1
			kill -TERM "$tpid" 2> /dev/null || true
			break
		fi
		sleep 1
	done
	HOST_RC=0
	wait "$tpid" || HOST_RC=$?
	wait "$catpid" 2> /dev/null || true
	VNG_SECONDS=$((SECONDS - t0))
	# let tail print what the guest wrote last, then stop it
	sleep 1.5
	kill "$tailpid" $contail 2> /dev/null || true
	wait "$tailpid" $contail 2> /dev/null || true
	mv -f "$rundir/guest.out" "$log.out"
	rm -rf "$rundir"
	if [ ! -s "$log.out" ] && grep -aq "$BEGIN_MARKER" "$log"; then
		# the guest could not write the output file: its output went to the
		# console; show the console's untimestamped lines of the test phase
		sed -n "/$BEGIN_MARKER/,\$p" "$log" | tr -d '\r' | grep -av '^\[ *[0-9]*\.[0-9]*\]' || true
	fi
}

# Exit status of the command from the console (empty: no marker).
guest_status() {
	{ grep -aoE "$EXIT_MARKER=[0-9]+" "$1" || true; } | tail -n 1 | sed 's/.*=//'
}

attempt=0
final=
logs=()
while :; do
	if [ "$attempt" = 0 ]; then
		log_i=$LOG
	else
		log_i=${LOG%.log}-retry$attempt.log
	fi
	boot_once "$log_i"
	grc=$(guest_status "$log_i")
	scan_rc=0
	scan=$(bash "$MMT_ROOT/ci/parse-console.sh" "$log_i") || scan_rc=$?
	summary=$(printf '%s\n' "$scan" | sed -n 's/^console-summary: //p')
	nboot=$(printf '%s\n' "$summary" | sed -n 's/.*boot=\([0-9]*\).*/\1/p')
	ntest=$(printf '%s\n' "$summary" | sed -n 's/.*test=\([0-9]*\).*/\1/p')
	if [ "$scan_rc" -gt 3 ] || [ "$scan_rc" = 2 ] || [ -z "$nboot" ]; then
		log "console scan failed ($scan_rc)"
		printf '%s\n' "$scan" >&2
		exit 125
	fi
	log "guest done in ${VNG_SECONDS}s: vng status $HOST_RC, command status ${grc:-none}, console reports: boot $nboot, test $ntest"

	if [ "$scan_rc" != 0 ]; then
		{
			echo "=================== CONSOLE REPORTS ($log_i) ==================="
			printf '%s\n' "$scan"
			echo "================================================================"
		} >&2
	fi

	began=0
	grep -aq "$BEGIN_MARKER" "$log_i" && began=1
	if [ "$BOOT_HUNG" = 1 ]; then
		final=124
		nboot=$((nboot + 1))
	elif [ "$HOST_RC" = 124 ] || [ "$HOST_RC" = 137 ]; then
		log "HANG: guest killed after ${TIMEOUT}s"
		final=124
	elif [ -z "$grc" ]; then
		log "CRASH: no $EXIT_MARKER marker on the console (panic or crash; see $log_i)"
		final=2
	elif [ "$grc" != 0 ]; then
		final=$grc
	elif [ "$ntest" != 0 ]; then
		final=1
	elif [ "$nboot" != 0 ]; then
		final=3
	else
		final=0
	fi
	logs+=("$log_i")

	# Unclean boot: a report before the test phase, or no test phase at all.
	unclean=0
	if [ "$began" = 0 ]; then
		unclean=1
		[ "$BOOT_HUNG" = 1 ] || log "the guest never reached $BEGIN_MARKER"
	elif [ "$nboot" != 0 ]; then
		unclean=1
	fi
	if [ "$unclean" = 1 ]; then
		log "UNCLEAN BOOT: $nboot report(s) (or a boot hang or crash) before $BEGIN_MARKER"
		if [ "$began" = 1 ] && [ "$final" != 0 ] && [ "$final" != 3 ]; then
			# the test phase failed: that is the verdict, not a reason to retry
			log "the test phase FAILED too (status $final): not retried; a test failure is never retried away"
			echo "# mmtorture: unclean boot, but the test phase failed (status $final): not retried"
			break
		fi
		log "this boot does not count"
		if [ "$attempt" -lt "$RETRIES" ]; then
			attempt=$((attempt + 1))
			log "rebooting and rerunning the command (retry $attempt of $RETRIES)"
			echo "# mmtorture: unclean boot, the output above does not count; rerunning (retry $attempt of $RETRIES)"
			continue
		fi
		log "every boot ($((attempt + 1))) was unclean: failing"
		[ "$final" != 0 ] || final=3
	fi
	break
done

[ "${#logs[@]}" -lt 2 ] || log "console logs of every boot: ${logs[*]}"
case "$final" in
0) log "PASS (log: $log_i)" ;;
*) log "FAIL: status $final (log: $log_i)" ;;
esac
exit "$final"
