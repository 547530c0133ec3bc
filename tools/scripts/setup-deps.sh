#!/bin/bash
# setup-deps.sh - install what xenshape needs to build, test and run its
# demo on Debian 12, and nothing when it is all there already.  Called by
# the Makefile before configure; safe to run by hand (as root).
#
# Packages named as arguments are wanted as well, for the targets that
# need more than the default build: `make check-valgrind` passes valgrind,
# `make fuzz` clang and its libFuzzer runtime.  Without arguments the list
# is the default one alone.
set -euo pipefail

# tmux and groff-base: tests/e2e-cli.sh drives xenshape top in a real
# terminal and lints the man pages.
pkgs=(build-essential pkg-config autoconf automake libxen-dev
      libxxhash-dev liburing-dev check procps tmux groff-base "$@")

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' \
        || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup-deps: installing: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    echo "setup-deps: not root; install these first: ${missing[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
