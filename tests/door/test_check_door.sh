#!/bin/sh
# The door checker must catch what it claims to: in a small tree shaped
# like the project's, an internal name, an internal header (by its path
# under src/ and by its bare name) and src/ on an include path are each
# reported (exit 1), and the clean tree passes (exit 0).
#   test_check_door.sh CHECKER
set -eu
checker=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/src/session" "$dir/cmake" "$dir/tools" "$dir/adapters" \
         "$dir/examples/demo" "$dir/bench"
: > "$dir/src/session/session_int.h"
: > "$dir/cmake/McsAdapter.cmake"
printf '#include "mcsession.h"\n#include "app.h"\nint main(void) { return mcs_version() == 0; }\n' \
  > "$dir/tools/tool.c"
printf 'int app;\n' > "$dir/examples/demo/app.h"
printf 'add_executable(t tool.c)\ntarget_link_libraries(t PRIVATE mcsession)\n' \
  > "$dir/tools/CMakeLists.txt"
expect() { # expect STATUS WORDS...
  want=$1
  shift
  set +e
  out=$(python3 "$checker" "$dir" 2>&1)
  got=$?
  set -e
  if [ "$got" != "$want" ]; then
    echo "FAIL: want exit $want, got $got: $out"
    exit 1
  fi
  for w in "$@"; do
    case $out in
    *"$w"*) ;;
    *) echo "FAIL: output lacks '$w': $out"; exit 1 ;;
    esac
  done
}
expect 0 "the public API is the only door"
cp "$dir/tools/tool.c" "$dir/clean.c"
printf '/* mcs__b64url_encode */\n' >> "$dir/tools/tool.c"
expect 1 "tools/tool.c:4: internal name mcs__b64url_encode"
printf '#include "session/session_int.h"\n' > "$dir/tools/tool.c"
expect 1 "tools/tool.c:1: internal header session/session_int.h"
printf '#include "session_int.h"\n' > "$dir/examples/demo/x.c"
expect 1 "examples/demo/x.c:1: internal header session_int.h"
rm "$dir/examples/demo/x.c"
printf 'size_t n = MCS__ID_MAX;\n' > "$dir/bench/b.c"
expect 1 "bench/b.c:1: internal name MCS__ID_MAX"
rm "$dir/bench/b.c"
# The gate and what it shares with the demo (issue 14) are outside too.
mkdir -p "$dir/gate" "$dir/serve"
printf 'int x = mcs__now;\n' > "$dir/gate/g.c"
expect 1 "gate/g.c:1: internal name mcs__now"
rm "$dir/gate/g.c"
printf '#include "session/session_int.h"\n' > "$dir/serve/s.c"
expect 1 "serve/s.c:1: internal header session/session_int.h"
rm "$dir/serve/s.c"
cp "$dir/clean.c" "$dir/tools/tool.c"
printf 'target_include_directories(t PRIVATE\n  ${PROJECT_SOURCE_DIR}/src)\n' \
  >> "$dir/tools/CMakeLists.txt"
expect 1 "tools/CMakeLists.txt:3: src/ on an include path"
printf 'target_link_libraries(a PUBLIC mcsession_objects)\n' \
  > "$dir/cmake/McsAdapter.cmake"
expect 1 "cmake/McsAdapter.cmake:1: uses mcsession_objects"
echo "check_door catches internal names, internal headers and src/ include paths"
