#!/bin/bash
# e2e-install.sh - `make install` into a scratch root: the library with
# its SONAME links, header and pkg-config file, the daemon and the tools,
# the Dom0 init files pointing at the installed daemon, the man pages;
# then the installed daemon runs (--help) from there.
set -euo pipefail
cd "$(dirname "$0")/.."

root=$(mktemp -d "${TMPDIR:-/tmp}/xenshape-install.XXXXXX")
trap 'rm -rf "$root"' EXIT
prefix=$(sed -n 's/^PREFIX *:= *//p' config.mk)

make -s install DESTDIR="$root" > /dev/null
fail() { echo "e2e-install: $*" >&2; exit 1; }
for f in "$prefix/lib/libxenshape.so.1" "$prefix/lib/libxenshape.so" \
    "$prefix/lib/libxenshape.a" "$prefix/include/xenshape.h" \
    "$prefix/lib/pkgconfig/xenshape.pc" "$prefix/sbin/xenshaped" \
    /lib/systemd/system/xenshaped.service /etc/init.d/xenshaped \
    /etc/default/xenshaped "$prefix/bin/xenshape" \
    "$prefix/share/man/man1/xenshape.1" "$prefix/share/man/man8/xenshaped.8" \
    "$prefix/share/man/man7/xenshape-xenstore.7"; do
    [ -e "$root$f" ] || fail "missing $f"
done
grep -q "ExecStart=$prefix/sbin/xenshaped " \
    "$root/lib/systemd/system/xenshaped.service" ||
    fail "the unit does not start $prefix/sbin/xenshaped"
grep -q "^DAEMON=$prefix/sbin/xenshaped\$" "$root/etc/init.d/xenshaped" ||
    fail "the init script does not start $prefix/sbin/xenshaped"
sh -n "$root/etc/init.d/xenshaped" || fail "init script syntax"
"$root$prefix/sbin/xenshaped" --help | grep -q -- '--shape' ||
    fail "the installed xenshaped does not run"
# An operator's /etc/default survives a reinstall.
echo 'XENSHAPED_ARGS="-v"' > "$root/etc/default/xenshaped"
make -s install DESTDIR="$root" > /dev/null
grep -q -- '-v' "$root/etc/default/xenshaped" ||
    fail "make install overwrote /etc/default/xenshaped"
echo "e2e-install: ok ($(find "$root" -type f | wc -l) files)"
