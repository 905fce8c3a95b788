#!/usr/bin/env bash
# make zoo PATCH=qemu/zoo/NNN-name.patch: prove a scenario catches a bug.
#
# Builds the clean cached kernel with the mutation patch applied (in a copy
# of the clean tree: incremental, the clean kernel is not touched), builds
# mmtorture.ko against it (into the cache, not the repo), boots it and runs
# the scenario named on the patch's "Scenario:" header line. The mutation is
# DETECTED when that scenario fails (a checker's violation, a console report
# the run provoked, a crash or a hang: qemu/run.sh status 1, 2 or 124); this
# script then exits 0. A run that passes on the mutated kernel is a MISS:
# exit 1. Anything else (no clean boot, setup error) is INCONCLUSIVE: exit 2.
#
#   ci/zoo.sh PATCH [SEED]     (SEED overrides the scenario's seed)
set -euo pipefail
# shellcheck source=ci/common.sh
. "$(dirname "$0")/common.sh"
cd "$MMT_ROOT"

patch=${1:?usage: ci/zoo.sh qemu/zoo/NNN-name.patch [SEED]}
seed=${2:-}
[ -f "$patch" ] || die "no such patch: $patch"
line=$(awk '/^Scenario:/ { sub(/^Scenario:[ \t]*/, ""); print; exit }' "$patch")
[ -n "$line" ] || die "$patch has no 'Scenario:' header line"
read -r scenario args <<< "$line"
if [ "$scenario" = none ]; then
	log "$patch: no scenario implemented yet ($line)"
	exit 4
fi
[ -z "$seed" ] || args="$args seed=$seed"
name=$(basename "$patch" .patch)

bash ci/deps.sh >&2
t0=$SECONDS
kdir=$(bash ci/kernel.sh --zoo "$patch" | tail -1)
log "zoo kernel ready in $((SECONDS - t0)) s: $kdir"
# Build from a copy of the sources: the repo's own build output belongs to
# the clean kernel (and kbuild refuses MO= next to it).
mo="$MMT_CACHE/zoo-mod/$name"
rm -rf "$mo" && mkdir -p "$mo"
cp -a Kbuild Makefile src "$mo/"
make -s -C "$mo" module KDIR="$kdir" ROOT="$mo" >&2
log "running: $scenario $args"
rc=0
out=$(mktemp)
qemu/run.sh --kdir "$kdir" -- env MMT_KO="$mo/mmtorture.ko" \
	selftests/run_scenario.sh "$scenario" "$args" 2>&1 | tee "$out" || rc=${PIPESTATUS[0]}
# What fired: the scenario's first violation, else the first console report.
elapsed=$(grep -oE 'elapsed_ms=[0-9]+' "$out" | head -1 | cut -d= -f2)
used_seed=$(grep -oE ' seed=[0-9]+' "$out" | head -1 | cut -d= -f2)
checker=$(grep -oE 'violation: [a-z-]+' "$out" | head -1 | cut -d' ' -f2)
[ -n "$checker" ] || checker="console: $(grep -m1 -oE '(BUG|WARNING|KASAN)[^,]*' "$out" | head -1)"
rm -f "$out"
case $rc in
0)
	echo "zoo $name: MISSED: $scenario passed on the mutated kernel (seed $used_seed, ${elapsed:-?} ms)"
	exit 1
	;;
1 | 2 | 124) ;; # a violation or console report; a crash; a hang
*)
	# 3: every boot unclean before the test began; 125: setup error.
	echo "zoo $name: INCONCLUSIVE: qemu/run.sh status $rc"
	exit 2
	;;
esac
echo "zoo $name: DETECTED by $checker after ${elapsed:-?} ms of $scenario (seed $used_seed; qemu/run.sh status $rc)"
