#!/usr/bin/env bash
# make park-cost: what the park point costs tasks outside the test mm.
# A benchmark, not part of make check: it boots the guest once and measures
# an unrelated process's mremap rate (bench/mremap_loop.c, pinned to the
# last CPU) while mmtorture's park scenarios run on the other CPUs
# (cpus=0-1), with the park point and without it.
#
#   ci/park-cost.sh [--reps N] [--seconds S] [--ko PATH]
#
#   --reps N      measurements per condition (default 3; the median is kept)
#   --seconds S   length of each mremap loop (default 3)
#   --ko PATH     the module to load in the guest (default: this tree's,
#                 built against KDIR); with KDIR= an older build can be
#                 measured the same way
#
# Conditions, for mremap_merge_migrate and exec_stack_migrate:
#   idle     no run
#   off      a run without the park point (park=0 probe=0)
#   on       a run with the scenario's defaults (the park point in use)
# Output: one line per measurement, then a table of median moves/s and the
# ratio to idle. Numbers, not a verdict: exits non-zero only when a
# measurement could not be taken (a run failed, the loop failed).
set -uo pipefail

# ----------------------------------------------------------------- guest side
if [ "${1:-}" = --in-guest ]; then
	shift
	reps=3 seconds=3 loop=""
	while [ $# -gt 0 ]; do
		case "$1" in
		--reps) reps=$2; shift 2 ;;
		--seconds) seconds=$2; shift 2 ;;
		--loop) loop=$2; shift 2 ;;
		*) echo "Bail out! park-cost: unknown option $1"; exit 1 ;;
		esac
	done
	# shellcheck source=selftests/lib.sh
	. "$(dirname "$0")/../selftests/lib.sh"
	mmt_load || { echo "Bail out! the module did not load"; exit 1; }
	last=$(($(nproc) - 1))
	bad=0
	# measure SCENARIO COND ARGS: one loop, during a run unless COND is idle
	measure() {
		local s=$1 cond=$2 args=$3 out rate st
		if [ "$cond" != idle ]; then
			mmt_write "run $s duration=$((seconds + 3)) cpus=0-1${args:+ $args}" || {
				echo "# $s $cond: run rejected: $MMT_WRITE_ERR"; bad=1; return; }
			sleep 1
		fi
		out=$(taskset -c "$last" "$loop" "$seconds" 2>&1) || { echo "# $s $cond: $out"; bad=1; }
		rate=$(sed -n 's/.*rate=\([0-9]*\)\/s.*/\1/p' <<< "$out")
		if [ "$cond" != idle ]; then
			st=$(mmt_wait_done $((seconds + 60))) || st=timeout
			[ "$st" = passed ] || { echo "# $s $cond: run ended $st"; mmt_print_result; bad=1; }
		fi
		echo "park-cost: $s $cond rate=${rate:-0}"
	}
	for s in mremap_merge_migrate exec_stack_migrate; do
		for ((i = 0; i < reps; i++)); do
			measure "$s" idle ""
			measure "$s" off "park=0$([ "$s" = mremap_merge_migrate ] && echo ' probe=0')"
			measure "$s" on ""
		done
	done
	mmt_unload || true
	echo "park-cost: done bad=$bad"
	exit "$bad"
fi

# ------------------------------------------------------------------ host side
# shellcheck source=ci/common.sh
. "$(dirname "$0")/common.sh"
cd "$MMT_ROOT" || exit 1

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
gargs=() ko=""
while [ $# -gt 0 ]; do
	case "$1" in
	--reps | --seconds) gargs+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
	--ko) ko=${2:?--ko needs a path}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done

KDIR=${KDIR:-$(bash ci/kernel.sh --path)}
export KDIR
[ -e "$KDIR/.mmtorture-built" ] || die "no built kernel at $KDIR: run 'make kernel'"
if [ -z "$ko" ]; then
	make -s module KDIR="$KDIR" >&2 || die "module build failed"
else
	[ -f "$ko" ] || die "no module at $ko"
	export MMT_KO
	MMT_KO=$(realpath "$ko")
fi
mkdir -p "$MMT_CACHE/bin"
loop=$MMT_CACHE/bin/mremap_loop
gcc -O2 -Wall -static -o "$loop" bench/mremap_loop.c || die "cannot build bench/mremap_loop.c"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cmd="${MMT_KO:+MMT_KO=$(printf %q "$MMT_KO") }bash ci/park-cost.sh --in-guest --loop $(printf %q "$loop")"
for a in "${gargs[@]}"; do
	cmd+=" $(printf %q "$a")"
done
rc=0
qemu/run.sh --kdir "$KDIR" --timeout 1800 -- "$cmd" | tee "$out" || rc=${PIPESTATUS[0]}
echo "# park-cost: $(basename "$KDIR"), module ${MMT_KO:-$MMT_ROOT/mmtorture.ko}"
echo "| scenario | idle moves/s | run, no park point | run, park point |"
echo "|---|---|---|---|"
for s in mremap_merge_migrate exec_stack_migrate; do
	row="| $s"
	idle=""
	for c in idle off on; do
		med=$(awk -v s="$s" -v c="$c" '$1 == "park-cost:" && $2 == s && $3 == c {
			sub("rate=", "", $4); print $4 }' "$out" | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }')
		[ "$c" = idle ] && idle=$med
		if [ -z "$med" ]; then
			row+=" | -"
		elif [ "$c" = idle ] || [ -z "$idle" ] || [ "$idle" = 0 ]; then
			row+=" | $med"
		else
			row+=" | $med ($(awk -v a="$med" -v b="$idle" 'BEGIN { printf "%.0f%%", 100 * a / b }'))"
		fi
	done
	echo "$row |"
done
grep -q '^park-cost: done bad=0' "$out" || { echo "# park-cost: some measurement failed (see above)"; rc=1; }
exit "$rc"
