#!/bin/sh
# Every public header stands on its own: it compiles as the only include
# of a C file (C11, warnings as errors) and of a C++ one, and none of the
# umbrella's parts includes mcsession.h back (mcsession.h, "The whole
# API"). The adapters' headers need their HTTP library's, found with
# pkg-config when installed.
#   test_headers.sh SOURCE_DIR CC
set -eu
src=$1
cc=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail=0
for h in "$src"/include/mcsession.h "$src"/include/mcsession/*.h; do
  rel=${h#"$src"/include/}
  flags=""
  case $rel in
  mcsession/mhd.h) flags=$(pkg-config --cflags libmicrohttpd 2>/dev/null) || continue ;;
  mcsession/evhttp.h) flags=$(pkg-config --cflags libevent 2>/dev/null) || continue ;;
  esac
  if [ "$rel" != mcsession.h ] && grep -q '#include "mcsession.h"' "$h"; then
    echo "FAIL: $rel includes mcsession.h back"
    fail=1
  fi
  printf '#include "%s"\nint mcs_header_test_%s;\n' "$rel" "$$" > "$dir/t.c"
  # shellcheck disable=SC2086
  if ! "$cc" -std=c11 -Wall -Wextra -Werror -Wstrict-prototypes $flags \
      -I"$src/include" -fsyntax-only "$dir/t.c"; then
    echo "FAIL: $rel does not compile on its own"
    fail=1
  fi
  if command -v c++ >/dev/null 2>&1; then
    cp "$dir/t.c" "$dir/t.cc"
    # shellcheck disable=SC2086
    if ! c++ -std=c++11 -Wall -Werror $flags -I"$src/include" -fsyntax-only \
        "$dir/t.cc"; then
      echo "FAIL: $rel does not compile as C++"
      fail=1
    fi
  fi
done
[ $fail = 0 ] && echo "every public header compiles on its own"
exit $fail
