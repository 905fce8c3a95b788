#!/usr/bin/env bash
# Selftest selection and sharding for make check (SCENARIOS=, SHARD=).
#
#   ci/shard.sh list                  every selftest name (selftests/mmtorture_NAME.sh)
#   ci/shard.sh select [SCENARIOS] [SHARD]
#                                     the selftests to run, one per line:
#                                     SCENARIOS "a,b" (names without the
#                                     mmtorture_ prefix; empty: all), then
#                                     SHARD "i/n" of those (empty: all)
#   ci/shard.sh split I N NAME...     shard I of N of the NAMEs
#   ci/shard.sh --self-test           for n = 1..5 (and n = 12 > the count):
#                                     shards are disjoint, their union is
#                                     every selftest; the split is stable
#
# The split is kvm.sh's bin-packing: selftests sorted by measured duration
# (selftests/durations; a name not listed counts as the median), longest
# first, ties by name, each onto the least-loaded shard (ties: the lowest
# index). Deterministic: the same list and table give the same shards on
# every machine, so n machines with SHARD=1/n..n/n run the suite once.
set -euo pipefail
# shellcheck source=ci/common.sh
. "$(dirname "$0")/common.sh"

DURATIONS=${MMT_DURATIONS:-$MMT_ROOT/selftests/durations}

list_all() {
	local t
	for t in "$MMT_ROOT"/selftests/mmtorture_*.sh; do
		[ -e "$t" ] || continue
		t=${t##*/mmtorture_}
		echo "${t%.sh}"
	done
}

# split I N NAME...: print shard I's names, in the suite's (sorted) order.
split() {
	local i=$1 n=$2
	shift 2
	printf '%s\n' "$@" | awk -v i="$i" -v n="$n" -v table="$DURATIONS" '
	BEGIN {
		while ((getline line < table) > 0) {
			if (line ~ /^[ \t]*(#|$)/) continue
			split(line, f, /[ \t]+/)
			d[f[1]] = f[2] + 0
		}
		m = 0
		for (k in d) v[++m] = d[k]
		# median of the table (bubble sort: a dozen entries)
		for (a = 1; a <= m; a++) for (b = a + 1; b <= m; b++)
			if (v[b] < v[a]) { t = v[a]; v[a] = v[b]; v[b] = t }
		med = m ? (m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2) : 1
	}
	NF { name[++c] = $1; w[c] = ($1 in d) ? d[$1] : med }
	END {
		# order: longest first, then by name
		for (a = 1; a <= c; a++) o[a] = a
		for (a = 1; a <= c; a++) for (b = a + 1; b <= c; b++) {
			x = o[a]; y = o[b]
			if (w[y] > w[x] || (w[y] == w[x] && name[y] < name[x])) { o[a] = y; o[b] = x }
		}
		for (s = 1; s <= n; s++) load[s] = 0
		for (a = 1; a <= c; a++) {
			best = 1
			for (s = 2; s <= n; s++) if (load[s] < load[best]) best = s
			load[best] += w[o[a]]
			shard[o[a]] = best
		}
		for (a = 1; a <= c; a++) if (shard[a] == i) print name[a]
	}' | sort
}

select_tests() {
	local scen=${1:-} sh=${2:-} all names=() want i n
	all=$(list_all)
	if [ -n "$scen" ]; then
		IFS=, read -ra want <<< "$scen"
		for i in "${want[@]}"; do
			i=${i#mmtorture_}
			i=${i%.sh}
			[ -n "$i" ] || continue
			grep -qx -- "$i" <<< "$all" ||
				die "SCENARIOS: no selftest '$i' (have: $(tr '\n' ' ' <<< "$all"))"
			names+=("$i")
		done
		[ ${#names[@]} -gt 0 ] || die "SCENARIOS='$scen' names no selftest"
	else
		mapfile -t names <<< "$all"
	fi
	if [ -n "$sh" ]; then
		[[ "$sh" =~ ^([0-9]+)/([0-9]+)$ ]] || die "SHARD must be i/n, not '$sh'"
		i=${BASH_REMATCH[1]} n=${BASH_REMATCH[2]}
		if [ "$n" -lt 1 ] || [ "$i" -lt 1 ] || [ "$i" -gt "$n" ]; then
			die "SHARD=$sh: need 1 <= i <= n"
		fi
		split "$i" "$n" "${names[@]}"
	else
		printf '%s\n' "${names[@]}" | awk '!seen[$0]++'
	fi
}

self_test() {
	local all n i got union bad=0 total
	all=$(list_all | sort)
	total=$(wc -l <<< "$all")
	for n in 1 2 3 4 5 12; do
		union=
		for i in $(seq 1 "$n"); do
			got=$(select_tests "" "$i/$n")
			[ "$got" = "$(select_tests "" "$i/$n")" ] ||
				{ echo "n=$n: shard $i differs between two calls"; bad=1; }
			union+=$got$'\n'
			echo "n=$n shard $i: $(tr '\n' ' ' <<< "$got")(${DURATIONS##*/}: $(load "$got") s)"
		done
		union=$(grep -v '^$' <<< "$union" | sort)
		if [ -n "$(uniq -d <<< "$union")" ]; then
			echo "n=$n: in more than one shard: $(uniq -d <<< "$union" | tr '\n' ' ')"
			bad=1
		fi
		if [ "$(uniq <<< "$union")" != "$all" ]; then
			echo "n=$n: union is not the full list: $(comm -3 <(echo "$all") <(uniq <<< "$union") | tr -s '\n\t' '  ')"
			bad=1
		fi
	done
	# the bin-packing itself, on a fixed table: a5 b4 c3 d3 e2, and f not in
	# it (the median, 3): longest first (ties by name) onto the least
	# loaded: a->1 (5) b->2 (4) c->2 (7) d->1 (8) f->2 (10) e->1 (10)
	got=$(MMT_DURATIONS=<(printf 'a 5\nb 4\nc 3\nd 3\ne 2\n') bash "$0" split 1 2 a b c d e f | tr '\n' ' ')
	[ "$got" = "a d e " ] || { echo "bin-packing: shard 1 of 2 is '$got', want 'a d e '"; bad=1; }
	[ "$bad" = 0 ] && echo "shard self-test: ok ($total selftests, n = 1..5, 12)"
	return "$bad"
}

load() { # the table's total of the names on stdin-less arg $1
	local t=0 x d
	for x in $1; do
		d=$(awk -v k="$x" '$1 == k { print $2 }' "$DURATIONS")
		t=$((t + ${d:-0}))
	done
	echo "$t"
}

case "${1:-}" in
list) list_all ;;
select) select_tests "${2:-}" "${3:-}" ;;
split) shift; split "$@" ;;
--self-test) self_test ;;
*) die "usage: $0 list | select [SCENARIOS] [SHARD] | split I N NAME... | --self-test" ;;
esac
