# shellcheck shell=bash
# lib.sh - helpers shared by the real-Xen lane's host-side scripts
# (run.sh, build-xen.sh, mkimages.sh): logging, the lane's directories,
# and the package install step.  Sourced, never run; it sets no shell
# options of its own (every script that sources it runs with
# set -euo pipefail).

LANE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP_DIR=$(cd "$LANE_DIR/../.." && pwd)
# Everything the lane downloads, builds or logs lives here (gitignored).
WORK=${XEN_LANE_WORK:-$TOP_DIR/build/xen-lane}
# The project's programs to test (xenshaped and any CLI): the normal
# build's, unless XEN_LANE_PROGS names another build's bin directory.
# shellcheck disable=SC2034
PROGS_DIR=${XEN_LANE_PROGS:-$TOP_DIR/build/bin}
# CACHE and LOGS are used by the scripts that source this file.
# shellcheck disable=SC2034
CACHE=$WORK/cache
# shellcheck disable=SC2034
LOGS=$WORK/logs

lane_log() {
    printf 'xen-lane: %s\n' "$*" >&2
}

lane_die() {
    printf 'xen-lane: error: %s\n' "$*" >&2
    exit 1
}

# Packages the lane needs on the build machine (the hypervisor build,
# the images and QEMU).  libxen-dev and the Xen user space are Debian's
# 4.17 packages, the same ones the daemon is built against.
LANE_PKGS=(qemu-system-x86 linux-image-amd64 busybox-static
           xen-hypervisor-4.17-amd64 xen-utils-4.17 xenstore-utils
           libxen-dev flex bison build-essential python3 dpkg-dev cpio
           xz-utils)

# Install what is missing, and nothing when it is all there.
lane_install_deps() {
    local missing=() p

    for p in "${LANE_PKGS[@]}"; do
        case $(dpkg-query -W -f='${Status}' "$p" 2> /dev/null || true) in
            *' ok installed') ;;
            *) missing+=("$p") ;;
        esac
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] ||
        lane_die "not root; install these first: ${missing[*]}"
    lane_log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    timeout 300 apt-get update -q ||
        lane_log "apt-get update reported errors; trying the install anyway"
    timeout 900 apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# The Debian kernel release installed by linux-image-amd64, e.g.
# 6.1.0-56-amd64: the newest /boot/vmlinuz-* with its modules present.
lane_kernel_release() {
    local v best=""

    for v in /boot/vmlinuz-*; do
        v=${v#/boot/vmlinuz-}
        [ -d "/lib/modules/$v/kernel" ] || continue
        if [ -z "$best" ] ||
            [ "$(printf '%s\n%s\n' "$best" "$v" | sort -V | tail -n1)" = "$v" ]
        then
            best=$v
        fi
    done
    [ -n "$best" ] || lane_die "no kernel with modules in /boot"
    printf '%s\n' "$best"
}
