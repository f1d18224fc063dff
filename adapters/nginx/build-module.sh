#!/bin/sh
# Builds ngx_http_mcsession_module.so for Debian's nginx, from the source
# tree Debian's nginx-dev ships (/usr/share/nginx/src): nginx's own
# configure, with Debian's flags (conf_flags, which include --with-compat,
# so the module's binary signature is the one Debian's nginx checks at
# load_module), then only the module's objects (make modules), not nginx.
#
# Usage: build-module.sh OUT_DIR INCLUDE_DIR LIB_DIR
#   OUT_DIR      where nginx's build tree (OUT_DIR/ngx) and the results go
#   INCLUDE_DIR  the directory holding mcsession.h
#   LIB_DIR      the directory holding libmcsession.so
# Results:
#   OUT_DIR/ngx_http_mcsession_module.so          finds libmcsession in
#                                                 LIB_DIR (for the tests)
#   OUT_DIR/install/ngx_http_mcsession_module.so  finds it at
#                                                 $ORIGIN/../.. (installed
#                                                 in LIBDIR/nginx/modules)
# NGX_SRC overrides /usr/share/nginx/src; CC the compiler (default cc).
set -eu

out=$1
inc=$(cd "$2" && pwd)
lib=$(cd "$3" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
src=${NGX_SRC:-/usr/share/nginx/src}

if [ ! -x "$src/configure" ] || [ ! -f "$src/conf_flags" ]; then
    echo "build-module.sh: no nginx source tree in $src" \
         "(apt-get install nginx-dev)" >&2
    exit 1
fi

mkdir -p "$out/ngx" "$out/install"
ngx=$(cd "$out/ngx" && pwd)
cd "$ngx"

# configure writes objs/ into the current directory and reads auto/ and
# src/ relative to it: links to the read-only tree, so it stays untouched.
for f in auto src configure; do
    ln -sfn "$src/$f" "$f"
done

# configure runs once per build tree (about 15 s); again only when the
# module's build description or Debian's flags change.
if [ ! -f objs/Makefile ] || [ "$here/config" -nt objs/Makefile ] \
   || [ "$src/conf_flags" -nt objs/Makefile ]; then
    # conf_flags is a shell array assignment (NGX_CONF_FLAGS=( ... )):
    # read its words without running it.
    flags=$(sed -n 's/^NGX_CONF_FLAGS=( *\(.*\) *)$/\1/p' "$src/conf_flags")
    if [ -z "$flags" ]; then
        echo "build-module.sh: cannot read $src/conf_flags" >&2
        exit 1
    fi
    # shellcheck disable=SC2086 # the flags are words without spaces
    MCS_NGX_INCS="$inc" \
    MCS_NGX_LIBS="-L$lib -lmcsession -Wl,-rpath,$lib" \
        ./configure $flags --add-dynamic-module="$here" \
        > configure.log 2>&1 || {
            cat configure.log >&2
            exit 1
        }
fi

# The link step depends on the objects only: a rebuilt libmcsession must
# be linked again too.
rm -f objs/ngx_http_mcsession_module.so
MAKEFLAGS= MAKELEVEL= make -s -f objs/Makefile modules
cp objs/ngx_http_mcsession_module.so "$out/ngx_http_mcsession_module.so"

# The installed copy: the same objects, the library found relative to the
# module (LIBDIR/nginx/modules/../../ is LIBDIR).
${CC:-cc} -shared -o "$out/install/ngx_http_mcsession_module.so" \
    objs/addon/nginx/*.o objs/ngx_http_mcsession_module_modules.o \
    -L"$lib" -lmcsession '-Wl,-rpath,$ORIGIN/../..'
