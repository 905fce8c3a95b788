#!/usr/bin/env bash
# make check / make run: everything from a bare machine to a KTAP verdict.
#
#   ci/check.sh                       make check: deps, kernel (cached), lint,
#                                     module, guest selftests; prints KTAP and
#                                     the final line "N passed, N failed, N skipped"
#   ci/check.sh --run SCENARIO ARGS   make run: boot and run one scenario
#                                     (all selftests when SCENARIO is empty)
#
# make check selection (environment): SCENARIOS=a,b runs only those selftests
# (names without the mmtorture_ prefix); SHARD=i/n runs shard i of n of them
# (ci/shard.sh: balanced by selftests/durations, deterministic, so SHARD=1/n
# .. n/n on n machines run every selftest once). Neither set: every selftest.
# The host-side checks (rustfmt, shellcheck, shard, clippy, module) run in
# every shard: they take a minute or two next to a guest's several, and each
# shard then is a complete verdict on its checkout (a CI job that is green
# linted and built what it tested).
#
# Exit 0 iff nothing failed. KVER=7.2 (ci/common.sh; default 7.3) selects
# the kernel release: its pinned source, cached tree and guest. KDIR= uses a
# user's own built tree instead of KVER's cached kernel. Phase times are
# printed as KTAP comments.
#
# The guest must print its counts line ("N passed, N failed, N skipped"): a
# guest that ends without one fails the run, whatever its exit status (only
# the output of the boot qemu/run.sh finally counted is read, not that of a
# boot it voided and retried). Test hook: MMT_GUEST_CMD="cmd ..." runs that
# command in the guest instead of the selftests (e.g. MMT_GUEST_CMD=true
# shows the missing-counts rule).
set -euo pipefail
# shellcheck source=ci/common.sh
. "$(dirname "$0")/common.sh"
cd "$MMT_ROOT"

mode=check scenario="" args=""
if [ "${1:-}" = --run ]; then
	mode=run scenario=${2:-} args=${3:-}
fi

times=()
phase() { # phase NAME CMD...: run CMD, record its wall time
	local name=$1 t0=$SECONDS rc=0
	shift
	"$@" || rc=$?
	times+=("$name=$((SECONDS - t0))s")
	return "$rc"
}

# make check keeps its KTAP (host lines + the guest's output) in the cache's
# log folder and writes KCIDB JSON beside it (ci/kcidb.py), validated against
# the kcidb-io schema as the host test "kcidb".
stamp=$(date -u +%Y%m%d-%H%M%S)
start_iso=$(date -u +%Y-%m-%dT%H:%M:%S+00:00)
ktap='' kcidb_json=''
if [ "$mode" = check ]; then
	mkdir -p "$MMT_CACHE/logs"
	ktap=$MMT_CACHE/logs/check-$stamp.ktap
	kcidb_json=$MMT_CACHE/logs/kcidb-$stamp.json
	: > "$ktap"
fi
rec() { [ -z "$ktap" ] || printf '%s\n' "$@" >> "$ktap"; }

pass=0 fail=0 skip=0 n=0
host_test() { # host_test NAME CMD...: one KTAP line for a host-side check
	local name=$1 log rc=0
	shift
	n=$((n + 1))
	log=$(mktemp)
	phase "$name" "$@" > "$log" 2>&1 || rc=$?
	if [ "$rc" = 0 ]; then
		echo "ok $n $name"
		rec "ok $n $name"
		pass=$((pass + 1))
	else
		sed 's/^/# /' "$log" | tail -40
		[ -z "$ktap" ] || sed 's/^/# /' "$log" | tail -40 >> "$ktap"
		echo "not ok $n $name"
		rec "not ok $n $name"
		fail=$((fail + 1))
	fi
	rm -f "$log"
	return "$rc"
}

echo "KTAP version 1"
echo "# mmtorture $mode: $(git rev-parse --short HEAD 2>/dev/null || echo no-git)"

# Which selftests (make check SCENARIOS= / SHARD=); none given: all of them.
selected=0 sel=()
if [ "$mode" = check ] && { [ -n "${SCENARIOS:-}" ] || [ -n "${SHARD:-}" ]; }; then
	selected=1
	if ! list=$(bash ci/shard.sh select "${SCENARIOS:-}" "${SHARD:-}"); then
		echo "Bail out! bad SCENARIOS='${SCENARIOS:-}' or SHARD='${SHARD:-}' (see above)"
		exit 1
	fi
	mapfile -t sel < <(grep . <<< "$list" || true)
	echo "# selftests${SCENARIOS:+ SCENARIOS=$SCENARIOS}${SHARD:+ SHARD=$SHARD}: ${sel[*]:-(none)}"
fi

# kcidb_test: the KCIDB JSON of this run (so far), then its validation.
kcidb_test() {
	local commit repo
	commit=$(git rev-parse HEAD 2>/dev/null) || commit=
	repo=$(git remote get-url origin 2>/dev/null) || repo=
	rec "# time: ${times[*]}"
	python3 ci/kcidb.py --ktap "$ktap" --out "$kcidb_json" --start "$start_iso" \
		${commit:+--commit "$commit"} ${repo:+--repo "$repo"} \
		--kernel "$(basename "$KDIR")" \
		--compiler "$(clang$LLVM_SUFFIX --version | head -1); $(rustc --version)" &&
		"$MMT_CACHE/venv/bin/python3" ci/kcidb.py --validate "$kcidb_json"
}

# Bootstrap: toolchain and kernel. A failure here ends the run.
if ! phase deps bash ci/deps.sh >&2; then
	echo "Bail out! make deps failed"
	exit 1
fi
# MMT_ACCEL=kvm on a machine without usable KVM fails here, before the build.
if ! qemu/run.sh --probe-accel > /dev/null; then
	echo "Bail out! no usable accelerator (MMT_ACCEL=${MMT_ACCEL:-}): see the message above"
	exit 1
fi
if [ -z "${KDIR:-}" ]; then
	echo "# release: KVER=$KVER ($KSRC_NAME, $KSRC_PKG $KSRC_VER)"
	kpath=$(mktemp)
	if ! phase kernel bash ci/kernel.sh > "$kpath"; then
		echo "Bail out! kernel build failed"
		exit 1
	fi
	KDIR=$(tail -1 "$kpath")
	rm -f "$kpath"
fi
export KDIR
echo "# kernel: $KDIR"

if [ "$mode" = check ]; then
	# clippy builds the module too (clippy-driver in place of rustc).
	host_test rustfmt make -s fmt-check || true
	host_test shellcheck make -s shellcheck || true
	host_test shard bash ci/shard.sh --self-test || true
	host_test clippy make -s clippy KDIR="$KDIR" || true
fi
if ! host_test module make -s module KDIR="$KDIR"; then
	echo "# time: ${times[*]}"
	echo "$pass passed, $fail failed, $skip skipped"
	exit 1
fi

# The guest: its KTAP stream is printed as it comes; its counts are added.
guest_cmd=(selftests/run_guest.sh "${sel[@]}")
if [ "$selected" = 1 ] && [ ${#sel[@]} = 0 ]; then
	echo "# this shard has no selftests: no guest boot"
	host_test kcidb kcidb_test || true
	echo "# ktap: $ktap, kcidb: $kcidb_json"
	echo "# time: ${times[*]}"
	echo "$pass passed, $fail failed, $skip skipped"
	[ "$fail" = 0 ]
	exit
fi
if [ "$mode" = run ] && [ -n "$scenario" ]; then
	guest_cmd=(selftests/run_scenario.sh "$scenario" "$args")
fi
if [ -n "${MMT_GUEST_CMD:-}" ]; then
	guest_cmd=("$MMT_GUEST_CMD")
fi
out=$(mktemp)
grc=0
t0=$SECONDS
qemu/run.sh --kdir "$KDIR" -- "${guest_cmd[@]}" | tee "$out" || grc=${PIPESTATUS[0]}
times+=("guest=$((SECONDS - t0))s")
rec "$(cat "$out")"
# The counts of the last boot only: qemu/run.sh marks the output of a boot it
# voided (unclean before the test phase) and reran.
counts=$(awk '/^# mmtorture: unclean boot, the output above does not count/ { c = "" }
	/^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$/ { c = $0 }
	END { print c }' "$out")
rm -f "$out"
gf=0
if [ -n "$counts" ]; then
	read -r gp _ gf _ gs _ <<< "${counts//,/}"
	pass=$((pass + gp)) fail=$((fail + gf)) skip=$((skip + ${gs:-0}))
else
	echo "# guest printed no counts line (N passed, N failed, N skipped): its tests did not all report"
	fail=$((fail + 1))
fi
# A guest that crashed, hung, or left console reports fails the run even if
# every selftest it got to report passed. Status 4 (KSFT_SKIP: make run of a
# scenario the module skipped) with its counts line is not a failure.
if [ "$grc" = 4 ] && [ -n "$counts" ]; then
	:
elif [ "$grc" != 0 ]; then
	echo "# guest run failed: qemu/run.sh exit status $grc (see its console log above)"
	[ -z "$counts" ] || [ "$gf" != 0 ] || fail=$((fail + 1))
fi
if [ "$mode" = check ]; then
	host_test kcidb kcidb_test || true
	echo "# ktap: $ktap, kcidb: $kcidb_json"
fi
echo "# time: ${times[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
