#!/bin/sh
# After `make install PREFIX=...`: refreshes the dynamic loader's cache
# where the prefix is one the loader searches (as root), and says what a
# program built against the install needs, as docs/install.md does.
#   after-install.sh PREFIX
set -eu
prefix=$1
lib=$(find "$prefix/lib" -maxdepth 2 -name 'libmcsession.so' -printf '%h\n' 2>/dev/null | head -n 1)
[ -n "$lib" ] || { echo "after-install: no libmcsession.so under $prefix/lib" >&2; exit 1; }
case "$prefix" in
/usr | /usr/local)
  # The loader finds new libraries there only through its cache.
  if [ "$(id -u)" -eq 0 ]; then
    ldconfig
  else
    echo "Run 'ldconfig' as root so programs find libmcsession.so.0."
  fi
  ;;
esac
echo "Installed mcsession into $prefix."
if ! pkg-config --exists mcsession 2>/dev/null; then
  echo "pkg-config does not look in $lib/pkgconfig by itself:"
  echo "  export PKG_CONFIG_PATH=$lib/pkgconfig"
fi
echo "Build a program:   cc app.c \$(pkg-config --cflags --libs mcsession)"
echo "        or CMake:  find_package(mcsession) with -DCMAKE_PREFIX_PATH=$prefix"
# The nginx module (docs/nginx.md, section 1), built where nginx-dev is.
module=$(find "$prefix/lib" -maxdepth 4 -path '*/nginx/modules/ngx_http_mcsession_module.so' 2>/dev/null | head -n 1)
if [ -n "$module" ]; then
  echo "nginx module:      add at the top of nginx.conf (main context):"
  echo "  load_module $module;"
elif command -v nginx >/dev/null 2>&1; then
  echo "nginx module:      not built (apt-get install nginx-dev, then make install again)"
fi
