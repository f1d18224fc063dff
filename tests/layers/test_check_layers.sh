#!/bin/sh
# The layering checker must catch what it claims to: builds tiny objects
# in a src/-like layout and expects a cycle, an upward call and a reserved
# system symbol used outside its wing (--only, as the build's
# epoll_=loop) to be reported (exit 1), and a clean tree to pass (exit 0).
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
  out=$(python3 "$checker" "$dir" low high --only epoll_=high 2>&1)
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
rm "$dir/high/d.c.o" "$dir/high/e.c.o"
# epoll_* belongs to `high` (as to loop/ in the build): fine there ...
obj high/poll 'int epoll_create1(int); int p(void); int p(void) { return epoll_create1(0); }'
expect 0 "epoll_* only in high"
# ... but not in `low`, even though `low` is the lower wing.
obj low/sneak 'int epoll_ctl(int, int, int, void *); int s(void); int s(void) { return epoll_ctl(0, 0, 0, 0); }'
expect 1 "low/sneak.c (low) uses epoll_*, reserved to high: epoll_ctl"
rm "$dir/low/sneak.c.o"
expect 0 "no cycles"
echo "check_layers catches cycles, upward calls and reserved symbols"
