#!/bin/bash
# build-xen.sh - make a paging-enabled Xen 4.17 hypervisor for the
# real-Xen lane and print the path of its multiboot image on stdout.
#
# Debian's stock hypervisor is built without memory paging.  This script
# takes Debian's own xen source package and Debian's own hypervisor
# configuration (/boot/xen-4.17-amd64.config, from
# xen-hypervisor-4.17-amd64), adds CONFIG_UNSUPPORTED=y and
# CONFIG_MEM_PAGING=y, and builds only the hypervisor (make -C xen xen,
# about a minute on 2 cores).  The result is cached under
# build/xen-lane/cache/<source version>/, keyed also by a hash of the
# configuration, so later runs cost nothing.  Source versions are tried
# newest first; one whose download fails (the newest security update's
# source has been seen to answer 404) is skipped for the next.  Needs
# deb-src entries for Debian's archive: they are added, next to the
# existing deb entries, when apt knows no xen source.  Nothing built or
# downloaded here is ever committed: it all lives under build/.
set -euo pipefail

# shellcheck source=tools/xen-lane/lib.sh
. "$(dirname "$0")/lib.sh"

DEB_CONFIG=/boot/xen-4.17-amd64.config
SRC_LIST=/etc/apt/sources.list.d/xen-lane-src.sources

# Whether apt knows a xen source package.  (Not "apt-cache | grep -q":
# under pipefail, grep's early exit makes apt-cache die of SIGPIPE.)
have_xen_source() {
    local out

    out=$(apt-cache showsrc xen 2> /dev/null) || true
    case $out in *Version:*) return 0 ;; esac
    return 1
}

# Add deb-src twins of the deb entries of Debian's archive, once.
enable_deb_src() {
    local src

    if have_xen_source; then
        return 0
    fi
    if [ ! -e "$SRC_LIST" ]; then
        src=/etc/apt/sources.list.d/debian.sources
        if [ -r "$src" ]; then
            lane_log "enabling deb-src entries ($SRC_LIST)"
            # Keep only the stanzas of type deb, retyped as deb-src.
            awk 'BEGIN { RS = ""; ORS = "\n\n" }
                 /(^|\n)Types:[ \t]*deb([ \t]|\n|$)/ {
                     sub(/Types:[ \t]*deb/, "Types: deb-src"); print }' \
                "$src" > "$SRC_LIST"
        elif [ -r /etc/apt/sources.list ]; then
            lane_log "enabling deb-src lines (${SRC_LIST%.sources}.list)"
            sed -n 's/^deb \(.*debian.*\)/deb-src \1/p' \
                /etc/apt/sources.list > "${SRC_LIST%.sources}.list"
        else
            lane_die "no apt sources found to derive deb-src entries from"
        fi
    fi
    timeout 300 apt-get update -q >&2 ||
        lane_log "apt-get update reported errors; carrying on"
    have_xen_source ||
        lane_die "apt knows no xen source package even with deb-src"
}

# Build xen/xen from the unpacked tree $1 into cache directory $2.
build_tree() {
    local tree=$1 out=$2 log=$2/build.log

    cp "$DEB_CONFIG" "$tree/xen/.config"
    printf 'CONFIG_UNSUPPORTED=y\nCONFIG_MEM_PAGING=y\n' \
        >> "$tree/xen/.config"
    timeout 120 make -C "$tree/xen" olddefconfig > "$log" 2>&1 ||
        lane_die "olddefconfig failed; see $log"
    grep -qx 'CONFIG_MEM_PAGING=y' "$tree/xen/.config" ||
        lane_die "CONFIG_MEM_PAGING did not survive olddefconfig"
    lane_log "building the hypervisor (make -C xen -j2 xen; log $log)"
    # The hypervisor alone takes about a minute on 2 idle cores; the
    # bound leaves room for a busy machine.
    timeout 1200 make -C "$tree/xen" -j2 xen >> "$log" 2>&1 ||
        lane_die "hypervisor build failed; see $log"
    cp "$tree/xen/.config" "$out/config"
    cp "$tree/xen/xen" "$out/xen.tmp"
    mv "$out/xen.tmp" "$out/xen"
}

main() {
    local versions v key dir tmp dsc

    [ -r "$DEB_CONFIG" ] ||
        lane_die "$DEB_CONFIG missing (install xen-hypervisor-4.17-amd64)"
    enable_deb_src
    mapfile -t versions < <(apt-cache showsrc xen |
        awk '/^Version:/ { print $2 }' | sort -u -V -r)
    [ ${#versions[@]} -gt 0 ] || lane_die "no xen source versions"
    key=$( (cat "$DEB_CONFIG"; echo MEM_PAGING) | sha256sum | cut -c1-12)
    mkdir -p "$CACHE"
    for v in "${versions[@]}"; do
        case $v in 4.17.*) ;; *) continue ;; esac
        dir=$CACHE/$v-$key
        if [ -s "$dir/xen" ]; then
            lane_log "hypervisor $v (cached in $dir)"
            printf '%s\n' "$dir/xen"
            return 0
        fi
        tmp=$WORK/src-$v
        rm -rf "$tmp"
        mkdir -p "$tmp"
        lane_log "fetching xen source $v"
        if ! (cd "$tmp" && timeout 600 apt-get source -q --download-only \
                "xen=$v") > "$tmp/fetch.log" 2>&1; then
            lane_log "source $v does not download; trying the next version"
            rm -rf "$tmp"
            continue
        fi
        dsc=$(find "$tmp" -maxdepth 1 -name 'xen_*.dsc' | head -n1)
        (cd "$tmp" && dpkg-source -x "$dsc" tree) > "$tmp/unpack.log" 2>&1 ||
            lane_die "cannot unpack $dsc; see $tmp/unpack.log"
        mkdir -p "$dir"
        build_tree "$tmp/tree" "$dir"
        printf '%s\n' "$v" > "$dir/version"
        rm -rf "$tmp"
        lane_log "hypervisor $v built and cached in $dir"
        printf '%s\n' "$dir/xen"
        return 0
    done
    lane_die "no xen 4.17 source version could be downloaded"
}

main "$@"
