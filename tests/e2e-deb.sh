#!/bin/bash
# e2e-deb.sh - `make check-deb`: build the Debian packages from a copy of
# the tree (dpkg-buildpackage writes its .debs beside the source, and
# the build must not touch this tree's build/), unpack each into a
# scratch root with dpkg -x, and check that the parts are where Debian
# wants them: the library with its SONAME link in libxenshape1, header,
# pkg-config file and development link in libxenshape-dev, the daemon,
# its systemd unit, sysv init script and /etc/default file (a conffile)
# in xenshaped, the tools in xenshape-tools.  Then the daemon (and the
# xenshape CLI, which this tree must package once tools/xenshape/ exists)
# runs --help from the scratch root, with its libraries from there.
# Installs dpkg-dev, debhelper and the build dependencies it lacks
# (setup-deps.sh).  Not part of `make check`.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD

fail() { echo "e2e-deb: $*" >&2; exit 1; }

tools/scripts/setup-deps.sh dpkg-dev debhelper
tmp=$(mktemp -d "${TMPDIR:-/tmp}/xenshape-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The tree as git sees it, uncommitted changes included, without what a
# build or configure left (ignored files).
mkdir "$tmp/xenshape"
git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar -cf - --null -T - | tar -xf - -C "$tmp/xenshape"
(cd "$tmp/xenshape" && dpkg-buildpackage -b -us -uc) > "$tmp/build.log" 2>&1 ||
    { tail -n 40 "$tmp/build.log" >&2; fail "dpkg-buildpackage failed"; }
version=$(dpkg-parsechangelog -l debian/changelog -S Version)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)

root=$tmp/root
mkdir "$root"
for p in libxenshape1 libxenshape-dev xenshaped xenshape-tools; do
    deb=$tmp/${p}_${version}_$arch.deb
    [ -f "$deb" ] || fail "no $(basename "$deb")"
    dpkg-deb -x "$deb" "$root"
    echo "e2e-deb: $(basename "$deb"): $(dpkg-deb -c "$deb" | grep -vc '/$') files"
done

# Which package holds what.
has() {   # has PACKAGE PATH...
    local p=$1 f
    shift
    for f in "$@"; do
        dpkg-deb -c "$tmp/${p}_${version}_$arch.deb" | awk '{print $6}' |
            grep -qx "\./${f#/}" || fail "$p lacks $f"
    done
}
has libxenshape1 /usr/lib/libxenshape.so.1.0.0 /usr/lib/libxenshape.so.1
has libxenshape-dev /usr/lib/libxenshape.so /usr/lib/libxenshape.a \
    /usr/include/xenshape.h /usr/lib/pkgconfig/xenshape.pc
has xenshaped /usr/sbin/xenshaped /lib/systemd/system/xenshaped.service \
    /etc/init.d/xenshaped /etc/default/xenshaped
has xenshape-tools /usr/bin/xenshape-simhost

[ "$(readlink "$root/usr/lib/libxenshape.so.1")" = libxenshape.so.1.0.0 ] ||
    fail "libxenshape.so.1 does not point at libxenshape.so.1.0.0"
soname=$(objdump -p "$root/usr/lib/libxenshape.so.1.0.0" |
         awk '$1 == "SONAME" { print $2 }')
[ "$soname" = libxenshape.so.1 ] || fail "SONAME is '$soname'"
[ "$(readlink "$root/usr/lib/libxenshape.so")" = libxenshape.so.1 ] ||
    fail "the development link does not point at libxenshape.so.1"
# Its Requires.private (xentoollog, liburing, libxxhash) come from the
# system, as libxenshape-dev's Depends bring them.
PKG_CONFIG_PATH=$root/usr/lib/pkgconfig \
    pkg-config --libs --cflags xenshape > "$tmp/pc" 2>&1 ||
    fail "xenshape.pc: $(cat "$tmp/pc")"
grep -q -- "-lxenshape" "$tmp/pc" || fail "xenshape.pc: $(cat "$tmp/pc")"
PKG_CONFIG_PATH=$root/usr/lib/pkgconfig pkg-config --variable=libdir \
    xenshape | grep -qx /usr/lib || fail "xenshape.pc: libdir is not /usr/lib"
# The library is what the shlibs say it is, for packages built on it.
dpkg-deb -e "$tmp/libxenshape1_${version}_$arch.deb" "$tmp/ctl-lib"
grep -q "^libxenshape 1 libxenshape1" "$tmp/ctl-lib/shlibs" ||
    fail "libxenshape1's shlibs: $(cat "$tmp/ctl-lib/shlibs" 2>&1)"

grep -q "^ExecStart=/usr/sbin/xenshaped " \
    "$root/lib/systemd/system/xenshaped.service" ||
    fail "the unit does not start /usr/sbin/xenshaped"
grep -q "^DAEMON=/usr/sbin/xenshaped$" "$root/etc/init.d/xenshaped" ||
    fail "the init script does not start /usr/sbin/xenshaped"
sh -n "$root/etc/init.d/xenshaped" || fail "init script syntax"
[ -x "$root/etc/init.d/xenshaped" ] || fail "init script not executable"
dpkg-deb -e "$tmp/xenshaped_${version}_$arch.deb" "$tmp/ctl-d"
grep -qx /etc/default/xenshaped "$tmp/ctl-d/conffiles" ||
    fail "/etc/default/xenshaped is not a conffile"
grep -q "deb-systemd-helper" "$tmp/ctl-d/postinst" ||
    fail "the postinst does not enable the unit"
grep -q "update-rc.d xenshaped" "$tmp/ctl-d/postinst" ||
    fail "the postinst does not register the init script"

# dpkg-buildflags' hardening reached the link (the Makefile takes LDFLAGS).
readelf -d "$root/usr/sbin/xenshaped" | grep -q BIND_NOW ||
    fail "xenshaped is not linked with -z now (LDFLAGS ignored?)"

export LD_LIBRARY_PATH=$root/usr/lib
"$root/usr/sbin/xenshaped" --help | grep -q -- '--metrics-file' ||
    fail "the packaged xenshaped does not run"
"$root/usr/bin/xenshape-simhost" --help > /dev/null 2>&1 ||
    "$root/usr/bin/xenshape-simhost" -h > /dev/null 2>&1 ||
    fail "the packaged xenshape-simhost does not run"
# The CLI: packaged once it is in the tree.
if [ -d "$src/tools/xenshape" ]; then
    has xenshape-tools /usr/bin/xenshape
    "$root/usr/bin/xenshape" --help > /dev/null ||
        fail "the packaged xenshape does not run"
fi
echo "e2e-deb: ok ($(find "$root" -type f | wc -l) files in 4 packages;" \
     "$(ls "$tmp"/*-dbgsym_*.deb 2>/dev/null | wc -l) debug-symbol packages" \
     "besides)"
