#!/usr/bin/env bash
# make zoo PATCH=qemu/zoo/NNN-name.patch: prove a scenario catches a bug.
#
#   ci/zoo.sh [--scenario NAME] [--args "k=v ..."] PATCH [SEED]
#   ci/zoo.sh --all [--seeds N] [--scenario NAME] [--args "k=v ..."] [PATCH...]
#   ci/zoo.sh --from-log STATUS CONSOLE_LOG [--scenario NAME] PATCH
#       judge a finished run again, without building or booting: STATUS is
#       qemu/run.sh's exit status, CONSOLE_LOG its console log (the guest's
#       output beside it as CONSOLE_LOG.out)
#   ci/zoo.sh --lint
#       check the headers of every patch (below); no build, no boot
#
# Kernel release: KVER (ci/common.sh; default 7.3). Each patch says which
# releases it applies to on an "Applies-to:" header line (e.g. "Applies-to:
# 7.2 7.3"). A release whose source differs in the mutated lines has its own
# variant, qemu/zoo/<KVER>/<same name>.patch (it removes the same protection:
# docs/seeds.md), which PATCH=qemu/zoo/<name>.patch selects by itself for
# that KVER. A patch whose Applies-to: does not name KVER, with no variant,
# is INCONCLUSIVE "does not apply to <KVER>" without a build.
#
# Builds the clean cached kernel with the mutation patch applied (in a copy
# of the clean tree: incremental, the clean kernel is not touched), builds
# mmtorture.ko against it (into the cache, not the repo), boots it and runs
# the scenario named on the patch's "Scenario:" header line (--scenario NAME
# runs NAME instead, with --args or no arguments; --args alone replaces the
# patch's arguments; SEED sets seed=SEED).
#
# Prints exactly one line per run on stdout; everything else (the build, the
# guest's KTAP, console reports) goes to stderr:
#
#   zoo NAME: DETECTED by CHECKER after N ms of SCENARIO (seed S; ...)     exit 0
#       the run's result names a violation (its first "# violation: NAME:"
#       is the CHECKER), or the guest console shows a report raised during
#       the test phase (qemu/run.sh status 1 with a test-phase report, 2 a
#       crash, 124 a hang after the test phase began: CHECKER "console: ...")
#   zoo NAME: MISSED: SCENARIO passed on the mutated kernel (seed S, N ms, rounds=R overlaps=O)
#                                                                           exit 1
#   zoo NAME: INCONCLUSIVE: WHY                                             exit 2
#       the scenario ended in state error, was skipped, ran without proving
#       its race ran (no-coverage), was rejected by the module, or no run
#       happened: no clean boot (qemu/run.sh 3), the patch does not apply
#       (its Applies-to: lacks KVER, or patch(1) failed), the zoo kernel or
#       the module failed to build, a runner setup error.
#
# Each line ends with the kernel tree name in brackets ("[linux-7.3.4]").
#
# --all runs every qemu/zoo/*.patch (or the PATCHes given) N times (--seeds, default 3, fresh random
# seeds unless --args sets one), prints each run's line as it comes and then a
# table (mutation, scenario, verdict, checker or why, ms) with one row per run;
# it exits 0 iff every run was DETECTED (1 if any MISSED, else 2).
#
# Environment: ZOO_RECORD=FILE appends one tab-separated record per run
# (mutation, scenario, verdict, checker-or-why, ms) to FILE (--all uses it).
set -uo pipefail # no -e: every failure below becomes a verdict line
# shellcheck source=ci/common.sh
. "$(dirname "$0")/common.sh"
cd "$MMT_ROOT" || exit 2

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

# header FIELD PATCH: the value of the patch's first "FIELD:" line before its diff
header() {
	awk -v f="$1:" '/^--- / { exit } $1 == f { sub(/^[^:]*:[ \t]*/, ""); print; exit }' "$2"
}

# applies PATCH: whether its Applies-to: names KVER (no header: assume so,
# patch(1) decides)
applies() {
	local rels
	rels=$(header Applies-to "$1")
	[ -z "$rels" ] || [[ " $rels " == *" $KVER "* ]]
}

# lint: every patch (base and variant) has Scenario: and Applies-to:, names
# only releases of ci/common.sh's table; a variant qemu/zoo/R/X.patch names R,
# has a base qemu/zoo/X.patch with the same scenario, and that base does not
# also claim R.
lint() {
	local p rels r rel base bad=0 known
	known=" $(printf '%s ' "${KSRC_RELEASES[@]%% *}")"
	for p in qemu/zoo/*.patch qemu/zoo/*/*.patch; do
		[ -f "$p" ] || continue
		[ -n "$(header Scenario "$p")" ] || { log "$p: no Scenario: line"; bad=1; }
		rels=$(header Applies-to "$p")
		[ -n "$rels" ] || { log "$p: no Applies-to: line"; bad=1; }
		for r in $rels; do
			[[ "$known" == *" $r "* ]] || { log "$p: Applies-to: $r is not a release of ci/common.sh"; bad=1; }
		done
		rel=${p#qemu/zoo/}
		[ "$rel" != "${rel#*/}" ] || continue
		rel=${rel%%/*} base=qemu/zoo/$(basename "$p")
		[[ " $rels " == *" $rel "* ]] || { log "$p: a variant for $rel whose Applies-to: lacks $rel"; bad=1; }
		if [ ! -f "$base" ]; then
			log "$p: no base patch $base"; bad=1; continue
		fi
		[ "$(header Scenario "$p" | cut -d' ' -f1)" = "$(header Scenario "$base" | cut -d' ' -f1)" ] ||
			{ log "$p: Scenario: differs from $base's"; bad=1; }
		[[ " $(header Applies-to "$base") " != *" $rel "* ]] ||
			{ log "$base: Applies-to: names $rel, which has its own variant $p"; bad=1; }
	done
	[ "$bad" = 0 ] && log "zoo lint: $(find qemu/zoo -name '*.patch' | wc -l) patches ok"
	return "$bad"
}

all=0 seeds=3 over_scenario="" over_args="" have_args=0 from_rc="" from_log=""
while [ $# -gt 0 ]; do
	case "$1" in
	--lint) lint; exit ;;
	--all) all=1; shift ;;
	--from-log) from_rc=${2:-}; from_log=${3:-}; shift 3 || shift $# ;;
	--seeds) seeds=${2:-}; shift 2 || shift ;;
	--scenario) over_scenario=${2:-}; shift 2 || shift ;;
	--args) over_args=${2:-}; have_args=1; shift 2 || shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	-*) usage >&2; exit 2 ;;
	*) break ;;
	esac
done

# ------------------------------------------------------------------ --all
if [ "$all" = 1 ]; then
	[[ "$seeds" =~ ^[1-9][0-9]*$ ]] || { log "--seeds: not a positive number: $seeds"; exit 2; }
	rec=$(mktemp)
	trap 'rm -f "$rec"' EXIT
	opts=()
	[ -z "$over_scenario" ] || opts+=(--scenario "$over_scenario")
	[ "$have_args" = 0 ] || opts+=(--args "$over_args")
	worst=0
	logdir="$MMT_CACHE/logs/zoo-all-$KSRC_NAME-$(date +%Y%m%d-%H%M%S)"
	mkdir -p "$logdir"
	log "zoo-all on $KSRC_NAME (KVER=$KVER): each run's build and guest output in $logdir/"
	patches=("$@")
	[ $# -gt 0 ] || patches=(qemu/zoo/*.patch)
	for p in "${patches[@]}"; do
		for i in $(seq "$seeds"); do
			n0=$(wc -l < "$rec")
			line=$(ZOO_RECORD=$rec bash "$0" "${opts[@]}" "$p" 2> "$logdir/$(basename "$p" .patch)-$i.log")
			rc=$?
			if [ "$(wc -l < "$rec")" = "$n0" ]; then
				# never drop a mutation, whatever happened to its run
				line="zoo $(basename "$p" .patch): INCONCLUSIVE: ci/zoo.sh gave no verdict (status $rc) [$KSRC_NAME]"
				printf '%s\t%s\t%s\t%s\t%s\n' "$(basename "$p" .patch)" "?" INCONCLUSIVE \
					"ci/zoo.sh gave no verdict (status $rc)" - >> "$rec"
				rc=2
			fi
			echo "$line"
			case $rc in
			0) ;;
			1) worst=1 ;;
			*) [ "$worst" = 1 ] || worst=2 ;;
			esac
		done
	done
	echo
	echo "kernel: $KSRC_NAME (KVER=$KVER)"
	{
		printf 'MUTATION\tSCENARIO\tVERDICT\tCHECKER / WHY\tMS\n'
		cat "$rec"
	} | column -t -s $'\t'
	echo "$(grep -c $'\tDETECTED\t' "$rec") detected, $(grep -c $'\tMISSED\t' "$rec") missed, $(grep -c $'\tINCONCLUSIVE\t' "$rec") inconclusive"
	exit "$worst"
fi

# ------------------------------------------------------------------ one run
patch=${1:-}
seed=${2:-}
name=$(basename "${patch:-none}" .patch)
scenario=${over_scenario:-?}
VERDICT_DONE=0
record() { # record VERDICT CHECKER-OR-WHY MS
	[ -z "${ZOO_RECORD:-}" ] ||
		printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$scenario" "$1" "$2" "${3:--}" >> "$ZOO_RECORD"
}
verdict() { # verdict EXIT LINE
	echo "zoo $name: $2 [$KSRC_NAME]"
	VERDICT_DONE=1
	exit "$1"
}
inconclusive() { # inconclusive WHY [MS]
	record INCONCLUSIVE "$1" "${2:-}"
	verdict 2 "INCONCLUSIVE: $1"
}
tmp=$(mktemp -d)
# shellcheck disable=SC2154 # rc is assigned in the trap itself
trap 'rc=$?; rm -rf "$tmp"; if [ "$VERDICT_DONE" = 0 ]; then
	record INCONCLUSIVE "ci/zoo.sh stopped unexpectedly (status $rc)" ""
	echo "zoo $name: INCONCLUSIVE: ci/zoo.sh stopped unexpectedly (status $rc)"; exit 2; fi' EXIT
trap 'exit 130' INT TERM

[ -n "$patch" ] || { usage >&2; inconclusive "usage: no patch given"; }
[ -f "$patch" ] || inconclusive "no such patch: $patch"
[ -z "$seed" ] || [[ "$seed" =~ ^[0-9]+$ ]] || inconclusive "SEED is not a number: $seed"
# This release's variant of the mutation, if it has one.
variant=qemu/zoo/$KVER/$(basename "$patch")
if [ -f "$variant" ] && ! [ "$variant" -ef "$patch" ]; then
	log "zoo: $KSRC_NAME has its own variant of $patch: $variant"
	patch=$variant
fi
line=$(header Scenario "$patch")
read -r scenario args <<< "$line"
if [ -n "$over_scenario" ]; then
	scenario=$over_scenario args=$over_args
elif [ "$have_args" = 1 ]; then
	args=$over_args
fi
[ -n "$scenario" ] || { scenario="?"; inconclusive "$patch has no 'Scenario:' header line"; }
[ "$scenario" != none ] || inconclusive "no scenario targets this mutation yet ($line)"
applies "$patch" ||
	inconclusive "does not apply to $KVER ($patch: Applies-to: $(header Applies-to "$patch"); no variant qemu/zoo/$KVER/$(basename "$patch"))"
if [ -n "$seed" ]; then
	# seed=SEED replaces a seed= of the patch (a repeated key is rejected)
	kept=()
	for w in $args; do
		case "$w" in seed=*) ;; *) kept+=("$w") ;; esac
	done
	args="${kept[*]} seed=$seed"
	args=${args# }
fi

if [ -n "$from_log" ]; then
	rc=$from_rc final=$from_log
	[ -f "$final" ] || inconclusive "no such console log: $final"
else
	bash ci/deps.sh >&2 || inconclusive "make deps failed"

	# The mutated kernel.
	t0=$SECONDS
	{ bash ci/kernel.sh --zoo "$patch" 2>&1 >&3 | tee "$tmp/kernel.log" >&2; } 3> "$tmp/kernel.out"
	krc=${PIPESTATUS[0]}
	if [ "$krc" != 0 ]; then
		if grep -q 'does not apply' "$tmp/kernel.log"; then
			inconclusive "patch does not apply to $KSRC_NAME"
		elif grep -q 'zoo kernel build failed' "$tmp/kernel.log"; then
			inconclusive "zoo kernel build failed (see .mmtorture-build.log in its tree under $MMT_CACHE/kernel/zoo)"
		elif grep -q 'kernel build failed' "$tmp/kernel.log"; then
			inconclusive "clean kernel build failed"
		fi
		inconclusive "ci/kernel.sh --zoo failed (status $krc)"
	fi
	kdir=$(tail -n 1 "$tmp/kernel.out")
	[ -e "$kdir/.mmtorture-built" ] || inconclusive "ci/kernel.sh --zoo printed no built tree ($kdir)"
	log "zoo kernel ready in $((SECONDS - t0)) s: $kdir"

	# The module, from a copy of the sources: the repo's own build output belongs
	# to the clean kernel (and kbuild refuses MO= next to it). One copy per run
	# (in $tmp, which the guest sees through its read-only root): two zoo runs
	# of one mutation at a time (from two clones) once shared a directory, and
	# one's rm -rf broke the other's build.
	mo="$tmp/mod"
	if ! { mkdir -p "$mo" && cp -a Kbuild Makefile src "$mo/"; }; then
		inconclusive "cannot copy the module sources to $mo"
	fi
	make -s -C "$mo" module KDIR="$kdir" ROOT="$mo" >&2 ||
		inconclusive "module build failed against the zoo kernel"

	# The run. qemu/run.sh's stdout (the guest's KTAP) and stderr (its log and
	# the console reports) both go to our stderr; the final console log is
	# named on its last line, and the guest output is kept beside it (.out).
	log "running: $scenario $args"
	console="$MMT_CACHE/logs/zoo-$name-$(date +%Y%m%d-%H%M%S).log"
	qemu/run.sh --kdir "$kdir" --log "$console" -- env MMT_KO="$mo/mmtorture.ko" \
		selftests/run_scenario.sh "$scenario" "$args" 2>&1 | tee "$tmp/run.log" >&2
	rc=${PIPESTATUS[0]}
	final=$(sed -n 's/^\[mmtorture [0-9:]*\] \(PASS\|FAIL: status [0-9]*\) (log: \(.*\))$/\2/p' "$tmp/run.log" | tail -n 1)
	if [ -z "$final" ] || [ ! -f "$final" ]; then
		inconclusive "qemu/run.sh status $rc without a verdict (runner setup error)"
	fi
fi
rlog="$tmp/result"
touch "$final.out"
# The result file, as run_scenario.sh prints it: every line a KTAP comment.
sed -n 's/^# //p' "$final.out" | tr -d '\r' > "$rlog"
first() { sed -n "$1" "$rlog" | sed -n '1p'; }
violation=$(first 's/^# violation: \([^: ]*\):.*/\1/p')
error=$(first 's/^# error: //p')
coverage=$(first 's/^# no-coverage: //p')
[ -n "$coverage" ] || coverage=$(first "s/^not ok 1 $scenario # no-coverage:* *//p")
skipped=$(first "s/^ok 1 $scenario # SKIP *//p")
passed=$(first "/^ok 1 $scenario\$/p")
elapsed=$(first 's/^# scenario=.* elapsed_ms=\([0-9]*\).*/\1/p')
used_seed=$(first 's/^# scenario=.* seed=\([0-9]*\).*/\1/p')
rounds=$(first 's/^# rounds: //p')
overlaps=$(first 's/^# overlaps: //p')
rejected=$(sed -n 's/^# control: //p' "$final.out" | sed -n '1p')
loadfail=$(sed -n 's/^# \(insmod .* failed\)$/\1/p; s/^# \(no module at .*\)$/\1/p' "$final.out" | sed -n '1p')
stuck=$(sed -n 's/^# \(run .*: still .* after [0-9]* s\); stopping it$/\1/p' "$final.out" | sed -n '1p')
began=0
grep -aq MMTORTURE-TEST-PHASE-BEGIN "$final" && began=1

# What the console saw in the test phase (the scanner is the authority).
console_report=$(bash ci/parse-console.sh "$final" 2> /dev/null |
	sed -n 's/^test: [^ ]*:[0-9]*: //p' | sed -n '1p' | cut -c1-100)
# For a crash or hang (no result): ms from the run's start to that report,
# from the console timestamps (lib.sh marks each run on /dev/kmsg).
console_ms() {
	awk -v marker="mmtorture-selftest: run $scenario" '
	function ts(s) { if (match(s, /^\[ *[0-9]+\.[0-9]+\]/)) { s = substr(s, 2, RLENGTH - 2); return s + 0 } return -1 }
	index($0, marker) && start == "" { start = ts($0) }
	start != "" && /BUG:|WARNING:|Oops|KASAN|Kernel panic|blocked for more than|soft lockup|stall/ && !index($0, marker) {
		t = ts($0); if (t >= 0) { printf "%d\n", (t - start) * 1000; exit } }
	' "$final" | tr -d '\r'
}

why_status() {
	case $rc in
	2) echo "crash (no exit marker)" ;;
	124) echo "hang (guest killed)" ;;
	*) echo "qemu/run.sh status $rc" ;;
	esac
}

[ -n "$used_seed" ] || used_seed=$(tr ' ' '\n' <<< "$args" | sed -n 's/^seed=//p' | sed -n '1p')
if [ "$rc" = 3 ]; then
	inconclusive "no clean boot: every boot had a console report before the test phase (see $final)"
elif [ "$began" = 0 ]; then
	inconclusive "no clean boot: the test phase never began (qemu/run.sh status $rc; see $final)"
fi
if [ -n "$violation" ]; then
	extra="qemu/run.sh status $rc"
	[ -z "$console_report" ] || extra="$extra; console: $console_report"
	record DETECTED "$violation" "$elapsed"
	verdict 0 "DETECTED by $violation after ${elapsed:-?} ms of $scenario (seed ${used_seed:-?}; $extra)"
fi
case $rc in
1 | 2 | 124)
	if [ -n "$console_report" ] || [ "$rc" != 1 ]; then
		if [ -n "$console_report" ]; then
			checker="console: $console_report"
		else
			checker=$(why_status)
		fi
		ms=$(console_ms)
		[ -n "$ms" ] || ms=$elapsed
		record DETECTED "$checker" "$ms"
		verdict 0 "DETECTED by $checker after ${ms:-?} ms of $scenario (seed ${used_seed:-?}; $(why_status))"
	fi
	;;
esac
# No violation, no report: the run proved nothing either way, or passed.
[ -z "$skipped" ] || inconclusive "$scenario skipped: $skipped" "$elapsed"
[ -z "$coverage" ] || inconclusive "no-coverage: $coverage (seed ${used_seed:-?}, rounds=${rounds:-?} overlaps=${overlaps:-?})" "$elapsed"
[ -z "$error" ] || inconclusive "$scenario ended in state error: $error" "$elapsed"
[ -z "$rejected" ] || inconclusive "the module rejected 'run $scenario${args:+ $args}': $rejected"
[ -z "$loadfail" ] || inconclusive "$loadfail"
[ -z "$stuck" ] || inconclusive "$stuck, without a violation or console report" "$elapsed"
if [ "$rc" = 0 ] && [ -n "$passed" ]; then
	why="passed (rounds=${rounds:-?} overlaps=${overlaps:-?})"
	record MISSED "$why" "$elapsed"
	verdict 1 "MISSED: $scenario passed on the mutated kernel (seed ${used_seed:-?}, ${elapsed:-?} ms, rounds=${rounds:-?} overlaps=${overlaps:-?})"
fi
state=$(sed -n 's/^# status: state: //p' "$final.out" | sed -n '$p')
inconclusive "$scenario ended without a verdict (qemu/run.sh status $rc${state:+, state $state}; see $final.out)" "$elapsed"
