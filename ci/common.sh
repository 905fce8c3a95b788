# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables here are used by the scripts that source this
# Shared settings for the ci/ and qemu/ scripts. Sourced, never run.
#
# Everything heavy (toolchain extras, kernel source, kernel builds, the venv)
# lives in a cache outside the repository, so a fresh clone (CI) reuses it.

MMT_ROOT=${MMT_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
MMT_CACHE=${MMT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mmtorture}

# The kernel we test against: Debian's linux-source-7.3 from trixie-backports,
# pinned by version and checksum because the suite moves on.
KSRC_PKG=linux-source-7.3
KSRC_VER=7.3.4-1~bpo13+1
KSRC_SHA256=703e369ddd4cce971452f5a593ee55df3a5c10c83caf0fa0df039633ed181ee3
KSRC_NAME=linux-7.3.4

LLVM_SUFFIX=-19
export LIBCLANG_PATH=/usr/lib/llvm${LLVM_SUFFIX}/lib
export PATH="$HOME/.cargo/bin:$MMT_CACHE/venv/bin:$PATH"

log() { printf '[mmtorture %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
