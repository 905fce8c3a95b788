#!/usr/bin/env bash
# make bench: the peer comparison. mmtorture against the kernel's own
# tools/testing/selftests/mm and against small userspace drivers of the seed
# races (bench/race_*.c), on the clean kernel and on every mutated zoo
# kernel that is built for the current key. A benchmark, not a test.
#
#   ci/bench.sh [--race-seconds S] [--timeout S] [--programs "a b ..."] [PATCH...]
#
#   PATCH...            the mutations (default qemu/zoo/*.patch); each uses the
#                       built zoo tree named after it for the current kernel
#                       key ($MMT_CACHE/kernel/zoo/<name>-<key>-*/): a patch
#                       without one is listed as "no built tree" (make zoo
#                       PATCH=... builds it), nothing is built or deleted here
#   --race-seconds S    seconds per userspace race driver (default 15)
#   --timeout S         per selftest program (default 150)
#   --programs "..."    the selftests/mm programs to run (default below)
#   --table LOGDIR      print the table of an earlier run again (no boot)
#
# Per kernel (clean first), one boot for the mutation's mmtorture scenario
# (the patch's Scenario: line, run by selftests/run_scenario.sh exactly as
# make zoo runs it, judged by ci/zoo.sh --from-log: its one-line verdict) and
# one boot for the peers: the selected selftests/mm programs one after the
# other (each with a timeout, the THP/KSM/khugepaged sysfs settings restored
# after each, vm.overcommit_memory=1 around mremap_test), then every race
# driver. A program DETECTS a mutation only if its result differs from its
# own result on the clean kernel in this same bench run (its exit verdict,
# its harness's pass/fail counts, or a kernel report during it that the clean
# run did not have): a test that fails on the clean kernel because of the
# config is compared with that failure, not with pass. A driver detects by
# its own check or a new kernel taint (bench/race.h).
#
# Selftests/mm: built once from the kernel source tarball into
# $MMT_CACHE/selftests-mm-<version>/ (make headers, then the mm selftests;
# needs libnuma-dev libcap-dev liburing-dev, installed by make deps).
# Logs: $MMT_CACHE/logs/bench-<time>/ (every boot's console log and guest
# output, the host-side build output, table.txt).
#
# Guests: one at a time, and each boot waits until fewer than 2 qemu-system
# processes run on the host (another user's guests included).
set -uo pipefail

# The default programs and why (README "Peer comparison: make bench"):
# migration (move_pages vs threads touching the pages: every seed races
# migration), rmap (migration and KSM rmap walks across fork), mremap_test,
# mremap_dontunmap and merge (mremap moves and vma merges: 004), mlock2-tests
# and mlock-random-test (mlock/munlock: 002, 100), gup_longterm and gup_test
# -a (GUP references and pins: 001), mkdirty (pte bits across mprotect,
# migration and THP moves: 101), madv_populate (populate on locked and
# unlocked ranges: 102). About 4 min of guest time under TCG. Left out for the
# budget: cow (over 120 s under TCG, no migration in it), khugepaged and
# split_huge_page_test (minutes each under TCG; THP collapse/split, not the
# seeds' races); --programs adds them.
DEFAULT_PROGRAMS="migration rmap mremap_test mremap_dontunmap merge mlock2-tests mlock-random-test gup_longterm gup_test mkdirty madv_populate"

# args of a program (run from a writable scratch directory)
prog_args() {
	case "$1" in
	gup_test) echo "-a" ;;
	*) echo "" ;;
	esac
}

# ----------------------------------------------------------------- guest side
# ci/bench.sh --in-guest --sfdir DIR --racedir DIR --timeout S --race-seconds S --programs "..."
REPORT_RE='BUG:|WARNING:|KASAN|Oops|Bad page|Bad rss|general protection|kernel BUG|soft lockup|blocked for more than|stall'

in_guest() {
	local sfdir="" racedir="" timeout=150 rsecs=15 programs=""
	while [ $# -gt 0 ]; do
		case "$1" in
		--sfdir) sfdir=$2; shift 2 ;;
		--racedir) racedir=$2; shift 2 ;;
		--timeout) timeout=$2; shift 2 ;;
		--race-seconds) rsecs=$2; shift 2 ;;
		--programs) programs=$2; shift 2 ;;
		*) echo "bench: unknown guest option $1"; return 1 ;;
		esac
	done
	local scratch
	scratch=$(mktemp -d 2> /dev/null || mktemp -d -p /dev/shm) || { echo "bench: no scratch dir"; return 1; }
	grep -q ' /sys/kernel/debug debugfs ' /proc/mounts || mount -t debugfs debugfs /sys/kernel/debug 2> /dev/null
	echo "bench-guest: kernel $(uname -r), nodes $(find /sys/devices/system/node -maxdepth 1 -name "node[0-9]*" | wc -l), cpus $(nproc), thp $(cat /sys/kernel/mm/transparent_hugepage/enabled 2> /dev/null)"

	# the sysfs knobs the tests change, saved once and restored after each
	local -a knobs=() vals=()
	local f v
	for f in /sys/kernel/mm/transparent_hugepage/enabled /sys/kernel/mm/transparent_hugepage/defrag \
		/sys/kernel/mm/transparent_hugepage/shmem_enabled /sys/kernel/mm/transparent_hugepage/use_zero_page \
		/sys/kernel/mm/transparent_hugepage/hugepages-*/enabled /sys/kernel/mm/transparent_hugepage/khugepaged/* \
		/sys/kernel/mm/ksm/run /sys/kernel/mm/ksm/merge_across_nodes /sys/kernel/mm/ksm/pages_to_scan \
		/sys/kernel/mm/ksm/sleep_millisecs /sys/kernel/mm/ksm/max_page_sharing /sys/kernel/mm/ksm/use_zero_pages \
		/proc/sys/vm/overcommit_memory /proc/sys/vm/compact_unevictable_allowed; do
		{ [ -w "$f" ] && [ -r "$f" ]; } || continue
		read -r v < "$f" 2> /dev/null || continue
		# "always [madvise] never": the bracketed choice
		[[ "$v" == *\[*\]* ]] && v=${v#*[} && v=${v%%]*}
		knobs+=("$f") vals+=("$v")
	done
	restore() {
		local i
		# KSM first: unmerge, so merge_across_nodes may be written again
		{ echo 2 > /sys/kernel/mm/ksm/run; } 2> /dev/null
		for i in "${!knobs[@]}"; do
			{ echo "${vals[$i]}" > "${knobs[$i]}"; } 2> /dev/null
		done
	}

	# few processes per program: under TCG with KASAN every fork+exec costs
	# a good fraction of a second (bash builtins, one awk per program)
	local p args t0 t1 rc verdict taint0 taint1 out us
	echo "bench-phase: selftests"
	for p in $programs; do
		args=$(prog_args "$p")
		if [ ! -x "$sfdir/$p" ]; then
			echo "bench-sf: $p verdict=missing rc=- secs=0 totals=- report=-"
			continue
		fi
		[ "$p" != mremap_test ] || echo 1 > /proc/sys/vm/overcommit_memory
		read -r taint0 < /proc/sys/kernel/tainted
		out="$scratch/$p.out"
		echo "bench-sf-start: $p $args"
		echo "bench-sf-start: $p" > /dev/kmsg
		t0=${EPOCHREALTIME/./}
		# shellcheck disable=SC2086 # args are words
		(cd "$scratch" && timeout -k 10 "$timeout" "$sfdir/$p" $args) > "$out" 2>&1
		rc=$?
		t1=${EPOCHREALTIME/./}
		restore
		case $rc in
		0) verdict=pass ;;
		4) verdict=skip ;;
		124 | 137) verdict=timeout ;;
		*) verdict=fail ;;
		esac
		read -r taint1 < /proc/sys/kernel/tainted
		us=$((t1 - t0))
		# the kernel's reports since this program's start marker, then the
		# program's failing cases and last lines (for the log), then its line;
		# totals from the kselftest harness / ksft_print_cnts line
		# "# Totals: pass:N fail:N xfail:N xpass:N skip:N error:N"
		dmesg | awk -v p="$p" -v verdict="$verdict" -v rc="$rc" -v us="$us" -v t0="$taint0" -v t1="$taint1" \
			-v re="$REPORT_RE" -v out="$out" '
			index($0, "bench-sf-start: " p) { on = 1; rep = ""; next }
			on && rep == "" && $0 ~ re { rep = $0; sub(/^\[[ 0-9.]*\] /, "", rep); gsub(/ /, "_", rep); rep = substr(rep, 1, 90) }
			END {
				while ((getline l < out) > 0) {
					if (l ~ /^(not ok|# FAIL|\[FAIL\]|# \[FAIL\])/ && nf++ < 20) print "bench-out: " p ": " l
					last[++n % 3] = l
					if (l ~ /^# Totals: pass:[0-9]+ fail:[0-9]+ xfail:[0-9]+ xpass:[0-9]+ skip:[0-9]+ error:[0-9]+/) {
						split(l, f, /[: ]+/); tot = f[4] "/" f[6] "/" f[12] "/" f[14]
					}
				}
				for (i = n - 2; i <= n; i++) if (i > 0) print "bench-out: " p ": " last[i % 3]
				if (rep == "" && t0 != t1) rep = "taint_" t0 "_to_" t1
				printf "bench-sf: %s verdict=%s rc=%s secs=%.1f totals=%s report=%s\n", p, verdict, rc, us / 1e6, \
					tot == "" ? "-" : tot, rep == "" ? "-" : rep
			}'
	done
	echo "bench-phase: races"
	local r name
	for r in "$racedir"/bench-race_*; do
		[ -x "$r" ] || continue
		name=${r##*/bench-race_}
		echo "bench-race-start: $name" > /dev/kmsg
		out=$(timeout -k 10 "$((rsecs + 120))" "$r" "$rsecs" 2> "$scratch/race.err")
		rc=$?
		sed "s/^/bench-out: race $name: /" "$scratch/race.err"
		[ -n "$out" ] || out="race $name: HUNG (no verdict, status $rc)"
		echo "bench-race: $out"
	done
	echo "bench-phase: done"
	return 0
}

if [ "${1:-}" = --in-guest ]; then
	shift
	in_guest "$@"
	exit
fi

# ------------------------------------------------------------------ host side
# shellcheck source=ci/common.sh
. "$(dirname "$0")/common.sh"
cd "$MMT_ROOT" || exit 1

# table LOGDIR: the tables of a run from LOGDIR/results.tsv and LOGDIR/meta
table() {
	local d=$1
	{ [ -f "$d/results.tsv" ] && [ -f "$d/meta" ]; } || die "no bench results in $d"
	awk -F'\t' -v metaf="$d/meta" '
	BEGIN { while ((getline l < metaf) > 0) { split(l, m, "\t"); meta[m[1]] = m[2] } }
	!($1 in seen) { seen[$1] = 1; order[++nk] = $1 }
	$2 == "scenario" { scen[$1] = $3; sv[$1] = $4; sms[$1] = $5 }
	$2 == "peersdied" { died[$1] = $3 }
	$2 == "sf" {
		np[$1]++; pn[$1, np[$1]] = $3; pv[$1, $3] = $4; ps[$1, $3] = $5; pt[$1, $3] = $6; pr[$1, $3] = $7
		if (!($3 in isprog)) { isprog[$3] = 1; progs[++nprog] = $3 }
	}
	$2 == "race" {
		# race NAME: VERDICT[ by WHAT after N ms] (rounds=R, X rounds/s) | MISSED (rounds=R in S s, X rounds/s) | SKIP: why
		line = $3; name = line; sub(/^race /, "", name); sub(/:.*/, "", name)
		v = line; sub(/^race [^:]*: /, "", v); verdict = v; sub(/[ :].*/, "", verdict)
		rate = ""; if (match(v, /[0-9.]+ rounds\/s/)) rate = substr(v, RSTART, RLENGTH - 9)
		ms = ""; if (match(v, /after [0-9]+ ms/)) ms = substr(v, RSTART + 6, RLENGTH - 9)
		what = ""; if (match(v, /by [^ ]+/)) what = substr(v, RSTART + 3, RLENGTH - 3)
		if (!(name in israce)) { israce[name] = 1; races[++nrace] = name }
		rv[$1, name] = verdict; rr[$1, name] = rate; rm[$1, name] = ms; rw[$1, name] = what
	}
	function fails(t, a) { if (t == "-" || t == "") return ""; split(t, a, "/"); return a[2] }
	function cell_race(k, r,   s) {
		if (!((k, r) in rv)) return "not run"
		s = rv[k, r]
		if (s == "DETECTED") s = s " (" rw[k, r] ") " rm[k, r] " ms"
		if (rr[k, r] != "") s = s ", " int(rr[k, r] + 0.5) "/s"
		return s
	}
	# changed K P: why program P on kernel K differs from its clean result ("" if not)
	function changed(k, p,   c, fk, fc) {
		if (!(("clean", p) in pv)) return ""
		c = ""
		if (pv[k, p] != pv["clean", p]) c = pv["clean", p] "→" pv[k, p]
		fk = fails(pt[k, p]); fc = fails(pt["clean", p])
		if (c == "" && fk != "" && fc != "" && fk != fc) c = "failed cases " fc "→" fk
		if (pr[k, p] != "-" && pr["clean", p] == "-") c = c (c == "" ? "" : ", ") "report: " pr[k, p]
		return c
	}
	END {
		printf "kernel %s (key %s); selftests/mm programs: %s; per-program timeout %s s; race drivers %s s each\n\n", \
			meta["kernel"], meta["key"], meta["programs"], meta["timeout"], meta["race_seconds"]
		print "| mutation | mmtorture scenario | verdict | ms | selftests/mm: programs that changed vs clean | first change after (s of selftests) | selftests time (s) | own seed race driver |"
		print "|---|---|---|---|---|---|---|---|"
		for (i = 1; i <= nk; i++) {
			k = order[i]; ch = ""; first = ""; cum = 0; tot = 0
			for (j = 1; j <= np[k]; j++) {
				p = pn[k, j]; tot += ps[k, p]
				if (k == "clean") continue
				c = changed(k, p)
				if (c == "") continue
				ch = ch (ch == "" ? "" : "; ") p " (" c ")"
				if (first == "") { cum = 0; for (q = 1; q <= j; q++) cum += ps[k, pn[k, q]]; first = sprintf("%.0f (%s)", cum, p) }
			}
			if (k == "clean") {
				np_ = 0; nf = 0; ns = 0; fl = ""
				for (j = 1; j <= np[k]; j++) {
					p = pn[k, j]
					if (pv[k, p] == "pass") np_++
					else if (pv[k, p] == "skip") ns++
					else { nf++; fl = fl (fl == "" ? "" : ", ") p " " pv[k, p] }
				}
				ch = sprintf("baseline: %d pass, %d skip, %d fail/timeout%s", np_, ns, nf, fl == "" ? "" : " (" fl ")")
				first = "-"
			} else if (np[k] == 0) {
				ch = (k in died) ? "no results: " died[k] : "not run"; first = "-"
			} else if (ch == "") { ch = "none"; first = "never" }
			if (k in died && np[k] > 0) ch = ch " [guest died: " died[k] "]"
			own = "-"
			split(k, kk, "-")
			for (r = 1; r <= nrace; r++) if (substr(races[r], 1, 4) == kk[1] "-") own = races[r] ": " cell_race(k, races[r])
			printf "| %s | %s | %s | %s | %s | %s | %.0f | %s |\n", k, (k in scen) ? scen[k] : "-", \
				(k in sv) ? sv[k] : "-", (k in sms) ? sms[k] : "-", ch, first, tot, own
		}
		print ""
		printf "| race driver (rounds/s) |"; for (i = 1; i <= nk; i++) printf " %s |", order[i]; print ""
		printf "|---|"; for (i = 1; i <= nk; i++) printf "---|"; print ""
		for (r = 1; r <= nrace; r++) {
			printf "| %s |", races[r]
			for (i = 1; i <= nk; i++) printf " %s |", cell_race(order[i], races[r])
			print ""
		}
		print ""
		printf "| selftests/mm program: verdict (failed cases) s |"; for (i = 1; i <= nk; i++) printf " %s |", order[i]; print ""
		printf "|---|"; for (i = 1; i <= nk; i++) printf "---|"; print ""
		for (j = 1; j <= nprog; j++) {
			p = progs[j]; printf "| %s |", p
			for (i = 1; i <= nk; i++) {
				k = order[i]
				if (!((k, p) in pv)) { printf " - |"; continue }
				f = fails(pt[k, p]); c = (k != "clean") ? changed(k, p) : ""
				printf " %s%s%s %s%s |", (c != "" ? "**" : ""), pv[k, p], (f != "" && f != "0") ? " (" f ")" : "", ps[k, p], (c != "" ? "**" : "")
			}
			print ""
		}
	}' "$d/results.tsv"
	grep -h $'\tzooline\t' "$d/results.tsv" | cut -f3 | sed 's/^/    /'
}

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
rsecs=15 timeout=150 programs=$DEFAULT_PROGRAMS table_only=""
while [ $# -gt 0 ]; do
	case "$1" in
	--race-seconds) rsecs=${2:?}; shift 2 ;;
	--timeout) timeout=${2:?}; shift 2 ;;
	--programs) programs=${2:?}; shift 2 ;;
	--table) table_only=${2:?}; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	-*) usage >&2; exit 2 ;;
	*) break ;;
	esac
done
patches=("$@")
[ $# -gt 0 ] || patches=(qemu/zoo/*.patch)
[ -z "$table_only" ] || { table "$table_only"; exit; }

logdir="$MMT_CACHE/logs/bench-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$logdir"
log "bench: logs in $logdir"

# header FIELD PATCH (as ci/zoo.sh)
header() {
	awk -v f="$1:" '/^--- / { exit } $1 == f { sub(/^[^:]*:[ \t]*/, ""); print; exit }' "$2"
}

# wait_slot: until fewer than 2 qemu-system processes run on this host
wait_slot() {
	local n waited=0
	while n=$(pgrep -c qemu-system); [ "$n" -ge 2 ]; do
		[ $((waited % 60)) != 0 ] || log "bench: $n qemu-system processes running; waiting for a slot"
		sleep 10
		waited=$((waited + 10))
	done
}

# ---- the kernel's selftests/mm, from the same source tarball
bash ci/deps.sh >&2 || die "make deps failed"
clean=$(bash ci/kernel.sh --path)
[ -e "$clean/.mmtorture-built" ] || die "no built clean kernel at $clean: run 'make kernel'"
key=${clean##*-}
ver=${KSRC_NAME#linux-}
sfroot="$MMT_CACHE/selftests-mm-$ver"
sfdir="$sfroot/tools/testing/selftests/mm"
if [ ! -e "$sfroot/.bench-built" ]; then
	log "bench: building tools/testing/selftests/mm of $KSRC_NAME in $sfroot"
	mkdir -p "$sfroot"
	[ -e "$sfroot/Makefile" ] || tar -xf "$MMT_CACHE/src/$KSRC_NAME.tar.xz" -C "$sfroot" --strip-components=1 ||
		die "cannot extract $MMT_CACHE/src/$KSRC_NAME.tar.xz"
	make -C "$sfroot" headers > "$logdir/selftests-build.log" 2>&1 || die "make headers failed ($logdir/selftests-build.log)"
	# -k: programs this config or host cannot build are reported missing, not fatal
	make -C "$sfdir" -j"$(nproc)" -k >> "$logdir/selftests-build.log" 2>&1
	touch "$sfroot/.bench-built"
fi
for p in $programs; do
	[ -x "$sfdir/$p" ] || log "bench: selftests/mm program $p was not built (see $logdir/selftests-build.log)"
done

# ---- the userspace race drivers
racedir="$MMT_CACHE/bin/bench"
rm -rf "$racedir" && mkdir -p "$racedir"
for c in bench/race_*.c; do
	b=$(basename "$c" .c)
	gcc -O2 -Wall -Wextra -Werror -static -pthread -o "$racedir/bench-$b" "$c" >> "$logdir/races-build.log" 2>&1 ||
		die "cannot build $c ($logdir/races-build.log)"
done

# ---- the kernels: clean first, then every patch with a built tree
names=(clean) trees=("$clean") pfiles=("")
for p in "${patches[@]}"; do
	[ -f "$p" ] || die "no such patch: $p"
	names+=("$(basename "$p" .patch)") trees+=("") pfiles+=("$p")
done
# zoo_tree NAME: its built tree for this key, looked up when its turn comes
# (a tree another user builds meanwhile is included)
zoo_tree() {
	local d t=""
	for d in "$MMT_CACHE/kernel/zoo/$1-$key-"*; do
		[ -e "$d/.mmtorture-built" ] && t=$d
	done
	echo "$t"
}

# counted_log RUNFILE LOG: the console log of the boot that counted.
# qemu/run.sh reboots after an unclean early boot and logs each retry as
# LOG-retryN.log (its guest output as LOG-retryN.log.out); its last line
# names the log that counted ("PASS (log: X)" or "FAIL: status N (log: X)"),
# as ci/zoo.sh reads it. RUNFILE holds qemu/run.sh's stdout and stderr. LOG
# itself when no such line is there (a setup error) or it names no file.
counted_log() {
	local f
	f=$(sed -n 's/^\[mmtorture [0-9:]*\] \(PASS\|FAIL: status [0-9]*\) (log: \(.*\))$/\2/p' "$1" | tail -n 1)
	if [ -n "$f" ] && [ -f "$f" ]; then echo "$f"; else echo "$2"; fi
}

# peer_rows NAME STATUS RUNFILE LOG: the results.tsv rows of a peers boot
# (qemu/run.sh status STATUS, its output in RUNFILE, console LOG), read from
# the guest output of the boot that counted (else from RUNFILE)
peer_rows() {
	local n=$1 prc=$2 out
	out="$(counted_log "$3" "$4").out"
	[ -f "$out" ] || out=$3
	sed -n 's/^bench-sf: \([^ ]*\) verdict=\([^ ]*\) rc=[^ ]* secs=\([^ ]*\) totals=\([^ ]*\) report=\(.*\)$/\1\t\2\t\3\t\4\t\5/p' "$out" |
		sed "s/^/$n\tsf\t/"
	sed -n 's/^bench-race: //p' "$out" | sed "s/^/$n\trace\t/"
	grep -q '^bench-phase: done' "$out" ||
		printf '%s\tpeersdied\tqemu/run.sh status %s after %s\n' "$n" "$prc" \
			"$(sed -n 's/^bench-sf-start: \([^ ]*\).*/\1/p' "$out" | tail -n 1)"
}

# module for a tree: the repo's own for the clean tree, a copy otherwise
module_for() { # module_for NAME TREE -> path of the .ko
	local mo="$MMT_CACHE/bench-mod/$KSRC_NAME/$1"
	rm -rf "$mo" && mkdir -p "$mo" && cp -a Kbuild Makefile src "$mo/" &&
		make -s -C "$mo" module KDIR="$2" ROOT="$mo" >&2 && echo "$mo/mmtorture.ko"
}

res="$logdir/results.tsv" # kernel, kind, fields... (table() reads it)
: > "$res"
printf 'kernel\t%s\nkey\t%s\nprograms\t%s\nrace_seconds\t%s\ntimeout\t%s\n' \
	"$KSRC_NAME" "$key" "$programs" "$rsecs" "$timeout" > "$logdir/meta"
bench_t0=$SECONDS
for i in "${!names[@]}"; do
	n=${names[$i]} t=${trees[$i]} p=${pfiles[$i]}
	[ -z "$p" ] || t=$(zoo_tree "$n")
	if [ -z "$t" ]; then
		log "bench: $n: no built zoo tree for key $key (make zoo PATCH=$p builds it); skipped"
		printf '%s\tscenario\t-\tno built tree for key %s\t-\n' "$n" "$key" >> "$res"
		continue
	fi
	log "bench: $n: $t"
	ko=$(module_for "$n" "$t" 2>> "$logdir/$n-module.log") || {
		printf '%s\tscenario\t-\tmodule build failed\t-\n' "$n" >> "$res"
		continue
	}
	# (a) the patch's scenario, in its own boot, judged as make zoo judges it
	if [ -n "$p" ]; then
		read -r scen sargs <<< "$(header Scenario "$p")"
		if [ -z "${scen:-}" ] || [ "$scen" = none ]; then
			printf '%s\tscenario\t-\tno Scenario: line\t-\n' "$n" >> "$res"
		else
			wait_slot
			log "bench: $n: scenario $scen $sargs"
			clog="$logdir/$n-scenario.log"
			qemu/run.sh --kdir "$t" --log "$clog" -- env MMT_KO="$ko" \
				selftests/run_scenario.sh "$scen" "$sargs" > "$logdir/$n-scenario.run" 2>&1
			src=$?
			clog=$(counted_log "$logdir/$n-scenario.run" "$clog")
			line=$(bash ci/zoo.sh --from-log "$src" "$clog" "$p" 2> /dev/null)
			log "bench: $line"
			ms=$(sed -n 's/.* after \([0-9]*\) ms .*/\1/p' <<< "$line")
			[ -n "$ms" ] || ms=$(sed -n 's/.*[ (]\([0-9]*\) ms,.*/\1/p' <<< "$line")
			v=$(sed -n 's/^zoo [^:]*: \([A-Z]*\).*/\1/p' <<< "$line")
			printf '%s\tscenario\t%s\t%s\t%s\n' "$n" "$scen" "${v:-?}" "${ms:--}" >> "$res"
			printf '%s\tzooline\t%s\n' "$n" "$line" >> "$res"
		fi
	fi
	# (b) the peers: selftests/mm, then the race drivers, in one boot
	wait_slot
	log "bench: $n: selftests/mm ($programs) and the race drivers"
	plog="$logdir/$n-peers.log"
	gtimeout=$(($(wc -w <<< "$programs") * (timeout + 20) + 8 * (rsecs + 130) + 300))
	qemu/run.sh --kdir "$t" --timeout "$gtimeout" --log "$plog" -- bash ci/bench.sh --in-guest \
		--sfdir "$sfdir" --racedir "$racedir" --timeout "$timeout" --race-seconds "$rsecs" \
		--programs "'$programs'" > "$logdir/$n-peers.run" 2>&1
	prc=$?
	peer_rows "$n" "$prc" "$logdir/$n-peers.run" "$plog" >> "$res"
	log "bench: $n done ($((SECONDS - bench_t0)) s so far)"
done

# ---- the table
table "$logdir" | tee "$logdir/table.txt"
log "bench: done in $((SECONDS - bench_t0)) s; logs and table in $logdir"
