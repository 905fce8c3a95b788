#!/usr/bin/env bash
# make mix-bench: the long clean-kernel runs of `mix` (issue 8's benchmark).
# A benchmark, not part of make check: it boots the guest once and runs
# `run mix duration=S seed=i` for i = 1..N, one after the other.
#
#   ci/mix-bench.sh [--runs N] [--duration S] [--seed S] [--args "k=v ..."]
#                   [--scenario NAME]
#
#   --runs N       runs, seeds 1..N (default 20)
#   --seed S       every run uses seed S (replays one failure N times)
#   --duration S   seconds per run (default 60)
#   --args A       more parameters for every run (default none)
#   --scenario N   run scenario N instead of mix (the same loop: e.g. a
#                  kernel-bug reproducer run N times on one kernel)
#
# Output: one line per run (state, checkpoints, violations, elapsed), a
# failed run's result (violations, op log) as comments, then the per-op
# totals over all runs (done / failed, from each run's status lines) and
# "N passed, N failed, N skipped". Exits non-zero if any run failed or the
# console showed a kernel report.
set -uo pipefail

# ----------------------------------------------------------------- guest side
if [ "${1:-}" = --in-guest ]; then
	shift
	runs=20 duration=60 args="" fixed="" scenario=mix
	while [ $# -gt 0 ]; do
		case "$1" in
		--runs) runs=$2; shift 2 ;;
		--duration) duration=$2; shift 2 ;;
		--args) args=$2; shift 2 ;;
		--seed) fixed=$2; shift 2 ;;
		--scenario) scenario=$2; shift 2 ;;
		*) echo "Bail out! mix-bench: unknown option $1"; exit 1 ;;
		esac
	done
	# shellcheck source=selftests/lib.sh
	. "$(dirname "$0")/../selftests/lib.sh"
	ktap_print_header
	ktap_set_plan "$runs"
	mmt_load || { echo "Bail out! the module did not load"; exit 1; }
	pass=0 fail=0 skip=0
	for ((r = 1; r <= runs; r++)); do
		i=${fixed:-$r}
		rc=0
		# shellcheck disable=SC2086 # args are words
		mmt_run "$scenario" "duration=$duration" "seed=$i" $args > /tmp/mix-bench.out 2>&1 || rc=$?
		res=$(cat "$MMT_DIR/result" 2> /dev/null)
		sed -n 's/^# \(op_[a-z_]*: done [0-9]* failed [0-9]*\).*/mix-bench-op: \1/p' <<< "$res"
		cp=$(sed -n 's/^# checkpoints: //p' <<< "$res")
		case $rc in
		0) pass=$((pass + 1)); ktap_test_pass "$scenario seed=$i duration=$duration: checkpoints=${cp:-?}" ;;
		4) skip=$((skip + 1)); ktap_test_skip "$scenario seed=$i: $MMT_RUN_REASON" ;;
		*)
			fail=$((fail + 1))
			sed 's/^/# /' /tmp/mix-bench.out
			ktap_test_fail "$scenario seed=$i duration=$duration: $MMT_RUN_REASON"
			;;
		esac
	done
	mmt_unload || true
	echo "$pass passed, $fail failed, $skip skipped"
	[ "$fail" = 0 ]
	exit
fi

# ------------------------------------------------------------------ host side
# shellcheck source=ci/common.sh
. "$(dirname "$0")/common.sh"
cd "$MMT_ROOT" || exit 1

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
gargs=() runs=20 duration=60
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=${2:?--runs needs a value}; gargs+=("$1" "$2"); shift 2 ;;
	--duration) duration=${2:?--duration needs a value}; gargs+=("$1" "$2"); shift 2 ;;
	--args) gargs+=("$1" "${2:?--args needs a value}"); shift 2 ;;
	--seed) gargs+=("$1" "${2:?--seed needs a value}"); shift 2 ;;
	--scenario) gargs+=("$1" "${2:?--scenario needs a value}"); shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done

KDIR=${KDIR:-$(bash ci/kernel.sh --path)}
export KDIR
[ -e "$KDIR/.mmtorture-built" ] || die "no built kernel at $KDIR: run 'make kernel'"
make -s module KDIR="$KDIR" >&2 || die "module build failed"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cmd="bash ci/mix-bench.sh --in-guest"
for a in "${gargs[@]}"; do
	cmd+=" $(printf %q "$a")"
done
t0=$SECONDS
rc=0
qemu/run.sh --kdir "$KDIR" --timeout $((runs * (duration + 180) + 600)) -- "$cmd" | tee "$out" || rc=${PIPESTATUS[0]}
echo "# mix-bench: $runs runs of $duration s, $((SECONDS - t0)) s including the boot, qemu/run.sh status $rc"
echo "# per-op totals over all runs (done / failed):"
awk '$1 == "mix-bench-op:" { sub(":", "", $2); d[$2] += $4; f[$2] += $6 }
	END { for (o in d) printf "#   %-24s %8d %8d\n", o, d[o], f[o] }' "$out" | sort
counts=$(awk '/^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$/ { c = $0 } END { print c }' "$out")
gp=0 gf=0 gs=0
[ -z "$counts" ] || read -r gp _ gf _ gs _ <<< "${counts//,/}"
if [ -z "$counts" ]; then
	echo "# the guest printed no counts line: the benchmark did not finish (see above)"
	gf=$((gf + 1))
elif [ "$rc" != 0 ] && [ "$gf" = 0 ]; then
	echo "# every run passed, but qemu/run.sh failed (status $rc): a console report or crash (see above)"
	gf=1
fi
echo "$gp passed, $gf failed, $gs skipped"
[ "$gf" = 0 ]
