# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables here are used by the scripts that source this
# Shared settings for the ci/ and qemu/ scripts. Sourced, never run.
#
# Everything heavy (toolchain extras, kernel source, kernel builds, the venv)
# lives in a cache outside the repository, so a fresh clone (CI) reuses it.

MMT_ROOT=${MMT_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
MMT_CACHE=${MMT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmtorture}

# The kernels we test against: Debian's linux-source-X.Y packages, pinned by
# version and the sha256 of the .deb (the one the signed apt index lists: ci/deps.sh
# checks both), because the suites move on. KVER (make ... KVER=7.2) picks a
# row; the default is the first. Columns: release, apt suite the package is
# downloaded from (never added to the system's sources), package, version,
# sha256 of the .deb, tree name (the tarball, the cache's tree prefix: it has
# the version, so several releases coexist in the cache).
# Adding a release: README, "Kernel releases".
KSRC_RELEASES=(
	"7.3 trixie-backports linux-source-7.3 7.3.4-1~bpo13+1 703e369ddd4cce971452f5a593ee55df3a5c10c83caf0fa0df039633ed181ee3 linux-7.3.4"
	"7.2 trixie-backports linux-source-7.2 7.2.12-1~bpo13+1 73ca6c22599ba411ab3179642d33501ca2c90174e13c3c8d86e996ea1cbf2a8f linux-7.2.12"
)
KVER=${KVER:-${KSRC_RELEASES[0]%% *}}
KSRC_SUITE='' KSRC_PKG='' KSRC_VER='' KSRC_SHA256='' KSRC_NAME=''
for _row in "${KSRC_RELEASES[@]}"; do
	if [ "${_row%% *}" = "$KVER" ]; then
		read -r _ KSRC_SUITE KSRC_PKG KSRC_VER KSRC_SHA256 KSRC_NAME <<< "$_row"
	fi
done
unset _row
if [ -z "$KSRC_NAME" ]; then
	printf 'mmtorture: KVER=%s is not a supported kernel release (ci/common.sh has:%s)\n' \
		"$KVER" "$(printf ' %s' "${KSRC_RELEASES[@]%% *}")" >&2
	exit 2
fi
export KVER

LLVM_SUFFIX=-19
export LIBCLANG_PATH=/usr/lib/llvm${LLVM_SUFFIX}/lib
export PATH="$HOME/.cargo/bin:$MMT_CACHE/venv/bin:$PATH"

log() { printf '[mmtorture %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
