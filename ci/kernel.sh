#!/usr/bin/env bash
# make kernel: build (or find in the cache) the test kernel.
#
#   ci/kernel.sh            build the clean kernel if not cached; print its tree
#   ci/kernel.sh --path     print where the clean kernel tree is (or would be)
#   ci/kernel.sh --zoo P    build the clean kernel with mutation patch P applied,
#                           in a copy of the clean tree (incremental, ~1 min);
#                           print that tree
#
# Trees are keyed by (kernel source version, hash of the config fragments and
# the toolchain), so a second run is a no-op and a changed fragment builds a new
# tree beside the old one; KVER (ci/common.sh) picks the release, and each
# release has its own trees (linux-7.3.4-<key>, linux-7.2.12-<key>, zoo trees
# likewise keyed). KDIR= (set by the user) bypasses all of this.
set -euo pipefail
# shellcheck source=ci/common.sh
. "$(dirname "$0")/common.sh"

FRAGMENTS=("$MMT_ROOT/qemu/base.config" "$MMT_ROOT/qemu/virtme.config" "$MMT_ROOT/qemu/mm-debug.config")
MAKEJ=${MAKEJ:-$(($(nproc) + 1))}
KMAKE=(make LLVM="$LLVM_SUFFIX" -j"$MAKEJ")

# A build is long and silent (13-17 min on 2 cores), so progress is printed
# every MMT_PROGRESS_S seconds (default 30): C objects compiled ("  CC "
# lines in the build log) against the number the last complete clean build
# compiled (its log in the cache), else 1660 (this config, 2026-12-01), the
# elapsed time and an estimate of what is left.
PROGRESS_S=${MMT_PROGRESS_S:-30}
DEFAULT_OBJECTS=1660

hms() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

# expected_objects TREE: "  CC " lines of the newest complete clean build's
# log other than TREE's, else DEFAULT_OBJECTS.
expected_objects() {
	local t n
	# newest log first (tree names have no spaces: $KSRC_NAME-<hex>)
	# shellcheck disable=SC2045
	for t in $(ls -t "$MMT_CACHE/kernel/$KSRC_NAME"-*/.mmtorture-build.log 2>/dev/null); do
		t=${t%/.mmtorture-build.log}
		if [ "$t" = "$1" ] || [ ! -e "$t/.mmtorture-built" ]; then
			continue
		fi
		n=$(grep -c '^  CC ' "$t/.mmtorture-build.log" || true)
		if [ "${n:-0}" -gt 100 ]; then
			echo "$n"
			return
		fi
	done
	echo "$DEFAULT_OBJECTS"
}

# run_build TREE LOG EXPECTED MAKE-ARGS...: make in TREE into LOG, printing
# progress while it runs (EXPECTED 0: counts only, no estimate); make's status.
run_build() {
	local tree=$1 blog=$2 want=$3 pid t0=$SECONDS next got el rc=0 msg
	shift 3
	(cd "$tree" && exec "${KMAKE[@]}" "$@") > "$blog" 2>&1 &
	pid=$!
	next=$((SECONDS + PROGRESS_S))
	while kill -0 "$pid" 2>/dev/null; do
		sleep 1
		[ "$SECONDS" -ge "$next" ] || continue
		next=$((SECONDS + PROGRESS_S))
		got=$(grep -c '^  CC ' "$blog" 2>/dev/null || true)
		got=${got:-0}
		el=$((SECONDS - t0))
		msg="kernel build: $got C objects"
		if [ "$want" -gt 0 ]; then
			msg+=" of ~$want ($((got * 100 / want))%)"
		fi
		msg+=", $(hms "$el") elapsed"
		if [ "$want" -gt 0 ] && [ "$got" -gt 0 ]; then
			if [ "$got" -lt "$want" ]; then
				msg+=", ~$(hms $((el * (want - got) / got))) left"
			else
				msg+=", linking"
			fi
		fi
		log "$msg"
	done
	wait "$pid" || rc=$?
	return "$rc"
}

config_key() {
	{
		echo "$KSRC_VER"
		cat "${FRAGMENTS[@]}"
		clang$LLVM_SUFFIX --version | head -1
		rustc --version
		bindgen --version
	} | sha256sum | cut -c1-12
}

clean_tree() { echo "$MMT_CACHE/kernel/$KSRC_NAME-$(config_key)"; }

# tree_release DIR: the kernel version of the source tree DIR (its top
# Makefile: VERSION.PATCHLEVEL.SUBLEVEL, e.g. 7.3.4), as in $KSRC_NAME.
tree_release() {
	awk -F' *= *' '$1 == "VERSION" { v = $2 } $1 == "PATCHLEVEL" { p = $2 }
		$1 == "SUBLEVEL" { s = $2; exit } END { print v "." p "." s }' "$1/Makefile" 2>/dev/null
}

build_clean() {
	local tree stamp tarball tmp
	tree=$(clean_tree)
	stamp="$tree/.mmtorture-built"
	if [ -e "$stamp" ]; then
		log "kernel cached: $tree"
		echo "$tree"
		return
	fi
	tarball="$MMT_CACHE/src/$KSRC_NAME.tar.xz"
	[ -s "$tarball" ] || die "no kernel source at $tarball: run 'make deps'"
	if [ ! -e "$tree/Makefile" ]; then
		log "extracting $tarball"
		tmp="$tree.tmp"
		rm -rf "$tmp" && mkdir -p "$tmp"
		tar -xf "$tarball" -C "$tmp" --strip-components=1
		mv "$tmp" "$tree"
	fi
	log "configuring $tree"
	(
		cd "$tree"
		make -s LLVM="$LLVM_SUFFIX" allnoconfig >/dev/null
		scripts/kconfig/merge_config.sh -m .config "${FRAGMENTS[@]}" >/dev/null
		make -s LLVM="$LLVM_SUFFIX" olddefconfig >/dev/null
		make -s LLVM="$LLVM_SUFFIX" rustavailable >/dev/null
	)
	# Kconfig drops options whose dependencies are missing without a word.
	local want miss=0
	while read -r want; do
		grep -qx "$want" "$tree/.config" || { log "resolved .config lacks $want"; miss=1; }
	done < <(grep -hE '^CONFIG_[A-Z0-9_]+=y$' "$MMT_ROOT/qemu/mm-debug.config" | sort -u)
	[ "$miss" = 0 ] || die "config fragments did not resolve (see above)"
	local want
	want=$(expected_objects "$tree")
	log "building $tree (${KMAKE[*]} bzImage modules); tens of minutes on 2 cores, ~$want C objects; progress every ${PROGRESS_S}s"
	local t0=$SECONDS
	run_build "$tree" "$tree/.mmtorture-build.log" "$want" bzImage modules ||
		{ tail -40 "$tree/.mmtorture-build.log" >&2; die "kernel build failed"; }
	log "kernel built in $((SECONDS - t0)) s"
	echo "$((SECONDS - t0))" > "$stamp"
	echo "$tree"
}

build_zoo() {
	local patch=$1 clean tree stamp name
	[ -f "$patch" ] || die "no such patch: $patch"
	clean=$(build_clean)
	name=$(basename "$patch" .patch)
	# Keyed by the diff itself: editing the patch's header rebuilds nothing.
	tree="$MMT_CACHE/kernel/zoo/$name-$(config_key)-$(sed -n '/^--- /,$p' "$patch" | sha256sum | cut -c1-8)"
	stamp="$tree/.mmtorture-built"
	if [ -e "$stamp" ]; then
		log "zoo kernel cached: $tree"
		echo "$tree"
		return
	fi
	log "copying clean tree for $name ($KSRC_NAME)"
	# Older builds of this mutation (a changed diff) are dead weight: 2.6 GB
	# each. Only this release's: another release's build of it stays.
	local old
	for old in "$MMT_CACHE/kernel/zoo/$name-"*; do
		[ -d "$old" ] || continue
		[ "$(tree_release "$old")" != "${KSRC_NAME#linux-}" ] || rm -rf "$old"
	done
	mkdir -p "$(dirname "$tree")"
	cp -a "$clean" "$tree.tmp"
	rm -f "$tree.tmp/.mmtorture-built"
	patch -d "$tree.tmp" -p1 --batch --no-backup-if-mismatch < "$patch" >&2 ||
		die "$patch does not apply to $KSRC_NAME"
	mv "$tree.tmp" "$tree"
	local t0=$SECONDS
	run_build "$tree" "$tree/.mmtorture-build.log" 0 bzImage ||
		{ tail -40 "$tree/.mmtorture-build.log" >&2; die "zoo kernel build failed"; }
	log "zoo kernel $name built in $((SECONDS - t0)) s"
	echo "$((SECONDS - t0))" > "$stamp"
	echo "$tree"
}

mkdir -p "$MMT_CACHE"
# One lock per kernel release: builds of different releases may overlap.
exec 9>"$MMT_CACHE/.kernel-$KSRC_NAME.lock"
case "${1:-}" in
--path) clean_tree ;;
--zoo) flock 9; build_zoo "${2:?--zoo needs a patch}" ;;
"") flock 9; build_clean ;;
*) die "usage: $0 [--path | --zoo PATCH]" ;;
esac
