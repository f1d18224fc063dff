#!/bin/sh
# Installs the build tree into a temporary prefix, then builds and runs a
# program outside the tree against it twice: with pkg-config and with
# CMake's find_package (shared and static).
# Usage: test_install.sh SOURCE_DIR BUILD_DIR
set -eu
src=$1
build=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/mcs-install.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >"$work/install.log"
libdir=$(find "$prefix" -name 'libmcsession.so' -printf '%h\n' | head -n 1)
[ -n "$libdir" ] || { echo "libmcsession.so was not installed"; exit 1; }
for f in "$libdir/libmcsession.a" "$prefix/include/mcsession.h" \
         "$libdir/pkgconfig/mcsession.pc" "$libdir/cmake/mcsession/mcsessionConfig.cmake"; do
  [ -e "$f" ] || { echo "not installed: $f"; exit 1; }
done
soname=$(objdump -p "$libdir/libmcsession.so" | awk '/SONAME/ {print $2}')
case "$soname" in libmcsession.so.[0-9]*) ;; *) echo "bad soname: $soname"; exit 1 ;; esac

# 1. pkg-config, as docs/install.md says: PKG_CONFIG_PATH for a prefix of
# one's own, nothing else — the program must run without LD_LIBRARY_PATH
# (the .pc file carries the rpath).
unset LD_LIBRARY_PATH
export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc -std=c11 -Wall -Werror "$src/tests/install/consumer.c" \
   $(pkg-config --cflags --libs mcsession) -o "$work/pc"
"$work/pc"

# 2. find_package, with nothing but CMAKE_PREFIX_PATH (CMake puts the
# imported library's directory in the build rpath itself).
cmake -S "$src/tests/install" -B "$work/cm" -DCMAKE_PREFIX_PATH="$prefix" \
      >"$work/cm.log"
cmake --build "$work/cm" >>"$work/cm.log"
"$work/cm/consumer_shared"
"$work/cm/consumer_static"

# 3. the adapters: one .pc file each, and CMake components
for a in mhd evhttp; do
  [ -e "$libdir/pkgconfig/mcsession-$a.pc" ] || { echo "no mcsession-$a.pc"; exit 1; }
  pkg-config --exists "mcsession-$a" || { echo "pkg-config cannot resolve mcsession-$a"; exit 1; }
done
cc -std=c11 -Wall -Werror "$src/tests/install/consumer_adapters.c" \
   $(pkg-config --cflags --libs mcsession-mhd mcsession-evhttp) \
   -o "$work/pc_adapters"
"$work/pc_adapters"
[ -x "$work/cm/consumer_adapters" ] || { echo "find_package(mcsession COMPONENTS mhd evhttp) failed"; exit 1; }
"$work/cm/consumer_adapters"
# 4. The README's program as a newcomer builds it: examples/minimal on its
# own, against the installed prefix.
cmake -S "$src/examples/minimal" -B "$work/minimal" -DCMAKE_PREFIX_PATH="$prefix" \
      >"$work/minimal.log"
cmake --build "$work/minimal" >>"$work/minimal.log"
"$work/minimal/minimal" | grep -q "visits: 1" || { echo "examples/minimal did not run"; exit 1; }
# 5. The installed programs start from the prefix (their rpath finds the
# library) and their man pages are there.
for prog in mcsession mcsession-gate; do
  "$prefix/bin/$prog" --help >/dev/null 2>&1 ||
    { echo "installed $prog does not start"; exit 1; }
  find "$prefix" -name "$prog.1*" | grep -q . || { echo "no man page for $prog"; exit 1; }
done
# 6. The nginx module, where it was built: nginx loads it from the prefix
# (its rpath finds the library there) and reads a configuration with it.
module=$(find "$prefix" -path '*/nginx/modules/ngx_http_mcsession_module.so')
if [ -n "$module" ] && command -v nginx >/dev/null 2>&1; then
  grep -q "load_module $module;" "$work/install.log" ||
    { echo "make install did not print the load_module line"; exit 1; }
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/secret"
  cat >"$work/nginx.conf" <<EOF2
load_module $module;
pid $work/nginx.pid;
error_log stderr;
events {}
http {
    mcsession_store memcached://127.0.0.1:11211;
    mcsession_secret_file $work/secret;
    server { listen 127.0.0.1:8; location / { mcsession on; } }
}
EOF2
  nginx -t -p "$work" -c "$work/nginx.conf" 2>"$work/nginx.log" ||
    { cat "$work/nginx.log"; echo "nginx cannot load the installed module"; exit 1; }
fi
echo "install test: pkg-config and find_package builds ran, examples/minimal too, the tool and the gate start, nginx loads the module"
