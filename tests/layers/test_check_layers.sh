#!/bin/sh
# The layering checker must catch what it claims to: builds tiny objects
# in a src/-like layout and expects a cycle and an upward call to be
# reported (exit 1), and a clean tree to pass (exit 0).
#   test_check_layers.sh CHECKER CC
set -eu
checker=$1
cc=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
obj() { # obj WING/NAME 'C source'
  mkdir -p "$dir/$(dirname "$1")"
  printf '%s\n' "$2" > "$dir/$1.c"
  "$cc" -c -o "$dir/$1.c.o" "$dir/$1.c"
}
expect() { # expect STATUS WORDS...
  want=$1
  shift
  set +e
  out=$(python3 "$checker" "$dir" low high 2>&1)
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
obj low/a 'int a(void); int a(void) { return 1; }'
obj high/b 'int a(void); int b(void); int b(void) { return a(); }'
expect 0 "no cycles"
obj low/c 'int b(void); int c(void); int c(void) { return b(); }'
expect 1 "low/c.c (low) uses high/b.c (high"
rm "$dir/low/c.c.o"
obj high/d 'int e(void); int d(void); int d(void) { return e(); }'
obj high/e 'int d(void); int e(void); int e(void) { return d(); }'
expect 1 "cycle: high/d.c <-> high/e.c"
echo "check_layers catches cycles and upward calls"
