#!/usr/bin/env bash
# make sweep: a parameter sweep of every scenario on the clean kernel.
# A benchmark, not part of make check: it boots the guest once and runs each
# scenario over its legal parameter range, one short run each.
#
#   ci/sweep.sh [--duration S] [--heavy-duration S] [--only REGEX] [--seed-base N] [--timeout S]
#   ci/sweep.sh --in-guest --list-from SCENARIOS_FILE [--only ...]
#       print the run list a guest with that scenarios file would run
#
#   --duration S    seconds per run (default 3)
#   --heavy-duration S
#                   seconds per run for heavy parameters (default 20):
#                   pages=600/2048, thps=8/64, isolate=4096, hold_us=100000,
#                   shift=4096, any cpus= list
#   --only REGEX    only runs whose "scenario args" line matches REGEX (grep -E)
#   --seed-base N   run i gets seed=N+i (default 1000): the list is deterministic
#   --timeout S     whole-guest timeout (default 3600)
#
# The run list is made in the guest from /sys/kernel/debug/mmtorture/scenarios
# (every scenario's parameters, defaults and, where listed, ranges), printed
# up front, then run. For every scenario but busted (which fails on purpose):
# one run with the defaults, then one parameter at a time away from its
# default (one-factor-at-a-time), skipping values outside a listed range:
#
#   pages       16 64 600 2048      (below and well above a 2 MiB THP)
#   thps        0 8 64              pin      0 1 2
#   hold_us     0 default 100000    shuffle_ms  0 50 200
#   shift       1 512 4096          isolate  1 64 4096
#   park, probe 0 1                 cpus     0-1 0,2 1-3 (default: all)
#   any other parameter: its min and max, when the scenarios file lists them
#
# Every run also gets duration=S and seed=N+i. Output: KTAP, one line per
# run ("ok|not ok N scenario args: state S violations=V key counters ...
# (elapsed ms)"), a failed run's first violation / error / no-coverage lines
# as comments, then "N passed, N failed, N skipped" (again on the host at the
# end, counting a console report or a guest that died as a failure). Exits
# non-zero if any run failed. Outcomes are not hard-coded: a failing combo is
# a finding to report.
set -uo pipefail

# ----------------------------------------------------------------- guest side
if [ "${1:-}" = --in-guest ]; then
	shift
	duration=3 heavy_duration=20 only="" seed_base=1000 list_from=""
	while [ $# -gt 0 ]; do
		case "$1" in
		--list-from) list_from=$2; shift 2 ;;
		--duration) duration=$2; shift 2 ;;
		--heavy-duration) heavy_duration=$2; shift 2 ;;
		--only) only=$2; shift 2 ;;
		--seed-base) seed_base=$2; shift 2 ;;
		*) echo "Bail out! sweep: unknown option $1"; exit 1 ;;
		esac
	done
	# shellcheck source=selftests/lib.sh
	. "$(dirname "$0")/../selftests/lib.sh"

	# candidates KEY: the sweep values of a parameter ("" = only min/max)
	candidates() {
		case "$1" in
		pages) echo 16 64 600 2048 ;;
		thps) echo 0 8 64 ;;
		pin) echo 0 1 2 ;;
		hold_us) echo 0 100000 ;;
		shuffle_ms) echo 0 50 200 ;;
		shift) echo 1 512 4096 ;;
		isolate) echo 1 64 4096 ;; # 0 starves the race on purpose: the coverage selftest
		park | probe) echo 0 1 ;;
		duration | seed | bug) echo - ;; # fixed by the sweep / busted only
		*) echo "" ;;
		esac
	}

	# gen_runs: one "scenario [key=value]" line per run, from the scenarios
	# file: "<name> key=default[range] ... cpus=all roles=... # description".
	gen_runs() {
		local name rest w key val nums cand v ncpu
		ncpu=$(nproc)
		while read -r name rest; do
			case "$name" in '' | busted) continue ;; esac
			rest=${rest%%#*}
			local keys=() defs=() mins=() maxs=()
			for w in $rest; do
				if [[ "$w" == *=* ]]; then
					key=${w%%=*} val=${w#*=}
					case "$key" in cpus | roles) continue ;; esac
					read -ra nums <<< "$(grep -o '[0-9]\+' <<< "$val" | tr '\n' ' ')"
					keys+=("$key") defs+=("${nums[0]:-}") mins+=("${nums[1]:-}") maxs+=("${nums[2]:-}")
				elif [ "${#keys[@]}" -gt 0 ] && [[ "$w" =~ [0-9] ]]; then
					# a range written apart from its key: "(1..65536)"
					read -ra nums <<< "$(grep -o '[0-9]\+' <<< "$w" | tr '\n' ' ')"
					local last=$((${#keys[@]} - 1))
					[ -n "${mins[$last]}" ] || { mins[last]=${nums[0]:-}; maxs[last]=${nums[1]:-}; }
				fi
			done
			echo "$name"
			local i
			for i in "${!keys[@]}"; do
				key=${keys[$i]}
				cand=$(candidates "$key")
				[ "$cand" != - ] || continue
				[ -n "$cand" ] || cand="${mins[$i]} ${maxs[$i]}"
				for v in $cand; do
					[ "$v" != "${defs[$i]}" ] || continue
					[ -z "${mins[$i]}" ] || [ "$v" -ge "${mins[$i]}" ] || continue
					[ -z "${maxs[$i]}" ] || [ "$v" -le "${maxs[$i]}" ] || continue
					echo "$name $key=$v"
				done
			done
			for v in 0-1 0,2 1-3; do
				# only lists of CPUs this guest has
				[ "${v: -1}" -lt "$ncpu" ] || continue
				echo "$name cpus=$v"
			done
		done < "${list_from:-$MMT_DIR/scenarios}"
	}

	# run_duration RUN: a run whose parameter makes each round much slower
	# (big ranges, many THPs, long holds) or takes CPUs from its workers gets
	# the longer duration: its coverage needs are per run, and 3 s of 1-2
	# rounds under TCG prove too little (measured: munlock_truncate
	# pages=2048 did 1 round in 3 s).
	run_duration() {
		case " $1 " in
		*" pages=600 "* | *" pages=2048 "* | *" thps=8 "* | *" thps=64 "* | \
			*" isolate=4096 "* | *" hold_us=100000 "* | *" shift=4096 "* | *" cpus="*)
			echo "$heavy_duration" ;;
		*) echo "$duration" ;;
		esac
	}

	# make_runs: the run list, with duration= and seed= (deterministic)
	make_runs() {
		local r
		runs=()
		while IFS= read -r r; do
			if [ -z "$only" ] || grep -qE -- "$only" <<< "$r"; then
				runs+=("$r duration=$(run_duration "$r") seed=$((seed_base + ${#runs[@]} + 1))")
			fi
		done < <(gen_runs)
		echo "# sweep: ${#runs[@]} runs of $duration s ($heavy_duration s for heavy parameters)"
		for i in "${!runs[@]}"; do
			echo "# run $((i + 1)): ${runs[$i]}"
		done
	}
	if [ -n "$list_from" ]; then
		make_runs
		exit 0
	fi

	echo "KTAP version 1"
	if [ "$(id -u)" != 0 ] || ! mmt_load; then
		echo "Bail out! cannot load the module"
		echo "0 passed, 1 failed, 0 skipped"
		exit 1
	fi
	echo "# scenarios:"
	sed 's/^/#   /' "$MMT_DIR/scenarios"
	make_runs
	echo "1..${#runs[@]}"

	pass=0 fail=0 skip=0 t_all=$SECONDS
	for i in "${!runs[@]}"; do
		n=$((i + 1))
		read -r scen args <<< "${runs[$i]}"
		read -ra argv <<< "$args"
		t0=$(date +%s%N)
		rc=0
		out=$(mmt_run "$scen" "${argv[@]}") || rc=$?
		wall=$((($(date +%s%N) - t0) / 1000000))
		st=$(mmt_state)
		res=$MMT_DIR/result
		viol=$(sed -n 's/^violations: //p' "$MMT_DIR/status" 2> /dev/null)
		elapsed=$(sed -n 's/^# scenario=.* elapsed_ms=\([0-9]*\).*/\1/p' "$res" 2> /dev/null | sed -n 1p)
		# the counters: rounds/overlaps always, the others when non-zero
		counters=$(sed -n 's/^# \([a-z_]*\): \([0-9][0-9]*\)$/\1=\2/p' "$res" 2> /dev/null |
			grep -Ev '^(violations)=' | grep -E '^(rounds|overlaps)=|=[1-9]' | tr '\n' ' ')
		line="${runs[$i]}: ${st:-?} violations=${viol:-?} ${counters}(${elapsed:-?} ms, wall $wall ms)"
		case $rc in
		0) echo "ok $n $line"; pass=$((pass + 1)) ;;
		4) echo "ok $n $line # SKIP $(mmt_result_reason)"; skip=$((skip + 1)) ;;
		*)
			echo "not ok $n $line"
			# why: the first violation / no-coverage / error lines, once each
			{
				reason=$(mmt_result_reason)
				[ -z "$reason" ] || echo "# $reason"
				printf '%s\n' "$out" | grep -E '^(# )+(violation|error|no-coverage): |control: |still .* after|did not stop' |
					sed 's/^\(# \)*/# /'
			} | awk '!seen[$0]++' | sed -n '1,6p'
			fail=$((fail + 1))
			;;
		esac
		[ "$st" != running ] || { echo "# a run is still going; stopping"; mmt_write stop > /dev/null || true; mmt_wait_done 60 > /dev/null || true; }
	done
	mmt_unload || true
	echo "# sweep time: $((SECONDS - t_all)) s"
	echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
	echo "$pass passed, $fail failed, $skip skipped"
	[ "$fail" = 0 ] && exit 0
	exit 1
fi

# ------------------------------------------------------------------ host side
# shellcheck source=ci/common.sh
. "$(dirname "$0")/common.sh"
cd "$MMT_ROOT" || exit 1

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
gargs=() timeout=3600
while [ $# -gt 0 ]; do
	case "$1" in
	--duration | --heavy-duration | --only | --seed-base) gargs+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
	--timeout) timeout=${2:?--timeout needs a value}; shift 2 ;;
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
t0=$SECONDS
rc=0
cmd="bash ci/sweep.sh --in-guest"
for a in "${gargs[@]}"; do
	cmd+=" $(printf %q "$a")"
done
qemu/run.sh --kdir "$KDIR" --timeout "$timeout" -- "$cmd" | tee "$out" || rc=${PIPESTATUS[0]}
counts=$(awk '/^# mmtorture: unclean boot, the output above does not count/ { c = "" }
	/^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$/ { c = $0 }
	END { print c }' "$out")
echo "# sweep: $((SECONDS - t0)) s including the boot, qemu/run.sh status $rc"
gp=0 gf=0 gs=0
[ -z "$counts" ] || read -r gp _ gf _ gs _ <<< "${counts//,/}"
if [ -z "$counts" ]; then
	echo "# the guest printed no counts line: the sweep did not finish (see above)"
	gf=$((gf + 1))
elif [ "$rc" != 0 ] && [ "$gf" = 0 ]; then
	echo "# every run passed, but qemu/run.sh failed (status $rc): a console report or crash (see above)"
	gf=1
fi
echo "$gp passed, $gf failed, $gs skipped"
[ "$gf" = 0 ]
