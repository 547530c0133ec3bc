#!/bin/bash
# mkimages.sh - build the two initramfs images of the real-Xen lane:
#
#   guest.cpio  the PVH guest's: /init, which is memverify (a static
#               program, tools/xen-lane/guest/memverify.c), /xsprobe (the
#               guest's xenstore probe, xsprobe.c, run by memverify when
#               asked) and a console node.  The guest boots Debian's own kernel with it.
#   dom0.cpio   Dom0's: busybox, bash, Debian's Xen 4.17 user space (xl,
#               the C xenstored, xenconsoled, xen-init-dom0, the
#               xenstore-* tools), the project's programs from build/bin
#               (xenshaped and any CLI), the lane's lanectl helper, the
#               Xen kernel modules, every shared library ldd reports plus
#               libgcc_s.so.1 (libxenstore's watch thread loads it at
#               close), the guest's kernel and initramfs, and the lane's
#               Dom0 scripts (dom0/init, dom0/scenarios.sh).
#
# Usage: mkimages.sh MEMVERIFY LANECTL OUTDIR
# Images are uncompressed cpio archives: under TCG, decompressing costs
# more boot time than loading a bigger file does.
set -euo pipefail

# shellcheck source=tools/xen-lane/lib.sh
. "$(dirname "$0")/lib.sh"

XEN_BIN=/usr/lib/xen-4.17/bin
# Load order matters: xenfs needs privcmd.
XEN_MODULES=(drivers/xen/xen-privcmd.ko drivers/xen/xen-evtchn.ko
             drivers/xen/xen-gntdev.ko drivers/xen/xen-gntalloc.ko
             drivers/xen/xenfs/xenfs.ko drivers/block/brd.ko)

# Copy an executable and every library it needs into root $1.
copy_elf() {
    local root=$1 f=$2 dest=${3:-$2} lib

    mkdir -p "$root$(dirname "$dest")"
    cp -L "$f" "$root$dest"
    while read -r lib; do
        [ -e "$root$lib" ] && continue
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done < <(ldd "$f" 2>/dev/null |
             awk '$2 == "=>" && $3 ~ /^\// { print $3 }
                  $1 ~ /^\// { print $1 }')
}

make_cpio() {
    local root=$1 out=$2

    (cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
        cpio -o -H newc --quiet) > "$out.tmp"
    mv "$out.tmp" "$out"
}

build_guest() {
    local memverify=$1 out=$2 root

    root=$(mktemp -d "$WORK/guest-root.XXXXXX")
    mkdir -p "$root/dev"
    cp "$memverify" "$root/init"
    cp "$(dirname "$memverify")/xsprobe" "$root/xsprobe"
    chmod 755 "$root/init" "$root/xsprobe"
    mknod "$root/dev/console" c 5 1
    make_cpio "$root" "$out"
    rm -rf "$root"
}

build_dom0() {
    local lanectl=$1 guest_cpio=$2 out=$3 krel root f m name

    krel=$(lane_kernel_release)
    root=$(mktemp -d "$WORK/dom0-root.XXXXXX")
    # Debian 12 is usr-merged; keep the same layout so ldd's paths hold.
    mkdir -p "$root"/usr/{bin,sbin,lib,lib64} "$root"/{proc,sys,dev,run,tmp} \
        "$root"/{etc/xen,var/lib,var/log,lane/bin,lane/modules,lane/guest}
    ln -s usr/bin "$root/bin"
    ln -s usr/sbin "$root/sbin"
    ln -s usr/lib "$root/lib"
    ln -s usr/lib64 "$root/lib64"
    ln -s ../run "$root/var/run"

    cp /bin/busybox "$root/usr/bin/busybox"
    for name in $(/bin/busybox --list); do
        [ -e "$root/usr/bin/$name" ] || ln -s busybox "$root/usr/bin/$name"
    done
    copy_elf "$root" /bin/bash /usr/bin/bash.real
    mv "$root/usr/bin/bash.real" "$root/usr/bin/bash"

    for f in xl xenstored xenconsoled xen-init-dom0; do
        copy_elf "$root" "$XEN_BIN/$f"
    done
    for f in /usr/bin/xenstore /usr/bin/xenstore-*; do
        copy_elf "$root" "$f"
    done
    # The project's programs, as the normal build made them.
    for f in "$PROGS_DIR"/*; do
        if [ ! -f "$f" ] || [ ! -x "$f" ]; then
            continue
        fi
        copy_elf "$root" "$f" "/lane/bin/$(basename "$f")"
    done
    [ -x "$root/lane/bin/xenshaped" ] ||
        lane_die "$PROGS_DIR/xenshaped missing: run make all first"
    copy_elf "$root" "$lanectl" /lane/bin/lanectl
    f=$(gcc -print-file-name=libgcc_s.so.1)
    cp -L "$f" "$root/usr/lib/x86_64-linux-gnu/libgcc_s.so.1"
    printf '/usr/lib/x86_64-linux-gnu\n/usr/local/lib\n' \
        > "$root/etc/ld.so.conf"
    ldconfig -r "$root"

    for m in "${XEN_MODULES[@]}"; do
        cp "/lib/modules/$krel/kernel/$m" "$root/lane/modules/"
    done
    cp "/boot/vmlinuz-$krel" "$root/lane/guest/vmlinuz"
    cp "$guest_cpio" "$root/lane/guest/initrd.cpio"
    cp "$LANE_DIR/dom0/init" "$root/init"
    cp "$LANE_DIR/dom0/scenarios.sh" "$root/lane/scenarios.sh"
    chmod 755 "$root/init" "$root/lane/scenarios.sh"
    : > "$root/etc/xen/xl.conf"
    printf 'root:x:0:0:root:/:/bin/bash\n' > "$root/etc/passwd"
    printf 'root:x:0:\n' > "$root/etc/group"
    mknod "$root/dev/console" c 5 1
    make_cpio "$root" "$out"
    rm -rf "$root"
}

main() {
    local memverify=$1 lanectl=$2 outdir=$3

    mkdir -p "$outdir"
    build_guest "$memverify" "$outdir/guest.cpio"
    build_dom0 "$lanectl" "$outdir/guest.cpio" "$outdir/dom0.cpio"
    lane_log "images: $outdir/guest.cpio ($(du -h "$outdir/guest.cpio" |
        cut -f1)), $outdir/dom0.cpio ($(du -h "$outdir/dom0.cpio" |
        cut -f1))"
}

[ $# -eq 3 ] || lane_die "usage: mkimages.sh MEMVERIFY LANECTL OUTDIR"
main "$@"
