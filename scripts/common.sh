# shellcheck shell=bash
# Shared settings for the rust-ckpt scripts. Sourced, never executed.
#
# Everything heavy (the kernel source .deb, the unpacked tree, bindgen, the
# CI kernel build) lives in one cache directory outside the repository so a
# rerun is fast and a clean clone stays small.

set -euo pipefail

CKPT_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# cargo (rustup) may not be on a non-login shell's PATH.
case ":$PATH:" in *":$HOME/.cargo/bin:"*) ;; *) [ -d "$HOME/.cargo/bin" ] && PATH=$HOME/.cargo/bin:$PATH ;; esac
export PATH
CKPT_CACHE=${CKPT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rust-ckpt}
mkdir -p "$CKPT_CACHE"
# An extra kernel config fragment (scripts/build-kernel): absolute, since
# merge_config.sh runs in the build directory.
if [ -n "${CKPT_KCONFIG_EXTRA:-}" ]; then CKPT_KCONFIG_EXTRA=$(readlink -f "$CKPT_KCONFIG_EXTRA"); fi

# The toolchain the kernel is built with: Debian's rustc (it ships rust-src,
# which the rustup toolchains here lack), clang/LLVM 19 and a bindgen from
# `cargo install` pointed at libclang 19.
CKPT_RUSTC=/usr/bin/rustc
CKPT_LLVM=-19
CKPT_BINDGEN_VERSION=0.73.2
CKPT_BINDGEN=$CKPT_CACHE/bindgen-$CKPT_BINDGEN_VERSION/bin/bindgen
export LIBCLANG_PATH=/usr/lib/llvm-19/lib

log() { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Run a command as root (CI may run as an ordinary user with sudo).
as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# The unpacked kernel source, recorded by scripts/setup.
ksrc_dir() {
	local f=$CKPT_CACHE/ksrc.path
	[ -f "$f" ] || die "no kernel source yet; run scripts/setup"
	cat "$f"
}

# The make arguments shared by every kernel and module build.
kmake_args() {
	printf '%s\n' "LLVM=$CKPT_LLVM" "RUSTC=$CKPT_RUSTC" "BINDGEN=$CKPT_BINDGEN"
}

# The build key: a change of kernel source, config fragment or toolchain
# gives a new build directory, so a stale build is never reused.
kbuild_key() {
	local ksrc
	ksrc=$(ksrc_dir)
	{
		basename "$ksrc"
		cat "$CKPT_TOP/scripts/ci-kernel.config"
		if [ -n "${CKPT_KCONFIG_EXTRA:-}" ]; then cat "$CKPT_KCONFIG_EXTRA"; fi
		"$CKPT_RUSTC" --version
		"clang$CKPT_LLVM" --version | head -n1
		"$CKPT_BINDGEN" --version
	} | sha256sum | cut -c1-16
}

kbuild_dir() {
	printf '%s/kbuild/%s-%s\n' "$CKPT_CACHE" "$(basename "$(ksrc_dir)")" "$(kbuild_key)"
}
