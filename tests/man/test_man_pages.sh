#!/bin/sh
# The generated man pages: present, rendered by groff (and man -l, where
# man-db is installed) without a single warning, installed where man
# looks, and complete: every subcommand, option and exit status the tool's
# --help names appears in mcsession(1).
# And mcsession-gate(1) names every option of mcsession-gate --help;
# ngx_http_mcsession_module(8) every directive of the module's command
# table and both its variables, as docs/nginx.md's directive table does.
# Usage: test_man_pages.sh SOURCE_DIR BUILD_DIR TOOL [GATE]
set -eu
src=$1
build=$2
tool=$3
gate=${4:-}
fail() { echo "FAIL: $*"; exit 1; }

for page in mcsession.1 mcsession.3 mcsession-gate.1 \
            ngx_http_mcsession_module.8; do
  f=$build/man/$page
  [ -s "$f" ] || fail "not generated: $f"
  out=$(groff -man -Tutf8 -ww -z "$f" 2>&1) || fail "groff failed on $page"
  [ -z "$out" ] || fail "groff warnings on $page: $out"
  if command -v man >/dev/null 2>&1; then
    out=$(MANWIDTH=80 man --warnings -E UTF-8 -l "$f" 2>&1 >/dev/null) ||
      fail "man -l failed on $page"
    [ -z "$out" ] || fail "man -l warnings on $page: $out"
  fi
  echo "ok   $page renders without warnings"
done

scd=$src/docs/man/mcsession.1.scd
commands=$("$tool" --help | awk '/^Commands:/ {on = 1; next}
                                  on && /^$/ {exit}
                                  on {print $1}')
[ -n "$commands" ] || fail "no commands in mcsession --help"
for cmd in $commands; do
  grep -q "^\*$cmd\*" "$scd" || fail "mcsession(1) does not describe $cmd"
  for opt in $("$tool" "$cmd" --help | sed -n 's/^  \(--[a-z-]*\).*/\1/p'); do
    [ "$opt" = "--" ] && continue
    grep -q -- "\*$opt\*" "$scd" || fail "mcsession(1) lacks $opt ($cmd)"
  done
done
for code in 0 1 2 3; do
  grep -q "^\*$code\*$" "$scd" || fail "mcsession(1) lacks exit status $code"
done
echo "ok   mcsession(1) names every command, option and exit status"

# docs/tool.md's touch example says what mcsession(1) says touch does: the
# session expires SECONDS from now unless it is used, when the idle
# timeout applies again (the README once said "lives one more hour").
touch_line=$(grep 'mcsession touch ' "$src/docs/tool.md") ||
  fail "docs/tool.md has no touch example"
case $touch_line in
*'-- "$ID" 3600'*'# expires in an hour unless used') ;;
*) fail "docs/tool.md's touch example disagrees with mcsession(1): $touch_line" ;;
esac
grep -q 'from now, data unchanged: it expires then unless used' "$scd" ||
  fail "mcsession(1) does not say touch's SECONDS hold only until the next use"
"$tool" touch --help | grep -q 'Each later request' ||
  fail "touch --help does not say a request slides the expiry again"
echo "ok   docs/tool.md's touch example agrees with mcsession(1)"

if [ -n "$gate" ]; then
  scd=$src/docs/man/mcsession-gate.1.scd
  opts=$("$gate" --help | sed -n 's/^  \(--[a-z-]*\).*/\1/p')
  [ -n "$opts" ] || fail "no options in mcsession-gate --help"
  for opt in $opts; do
    grep -q -- "\*$opt\*" "$scd" || fail "mcsession-gate(1) lacks $opt"
  done
  for code in 0 1 2; do
    grep -q "^\*$code\*$" "$scd" || fail "mcsession-gate(1) lacks exit status $code"
  done
  echo "ok   mcsession-gate(1) names every option and exit status"
fi

# The module's directives, from its command table (ngx_string("...") at
# the start of an entry), and its variables.
scd=$src/docs/man/ngx_http_mcsession_module.8.scd
conf=$src/adapters/nginx/ngx_http_mcsession_conf.c
directives=$(sed -n 's/^    { ngx_string("\(mcsession[a-z_]*\)"),$/\1/p' "$conf")
[ "$(echo "$directives" | wc -l)" -ge 13 ] ||
  fail "fewer than 13 directives read from $conf: $directives"
for d in $directives; do
  grep -q "^\*$d\* " "$scd" || fail "ngx_http_mcsession_module(8) lacks $d"
  grep -q "^| \`$d " "$src/docs/nginx.md" ||
    fail "docs/nginx.md's directive table lacks $d"
done
for v in mcsession_user mcsession_outcome; do
  grep -q "ngx_string(\"$v\")" "$src/adapters/nginx/ngx_http_mcsession_module.c" ||
    fail "the module has no \$$v"
  grep -q "^\*[\$]$v\*$" "$scd" || fail "ngx_http_mcsession_module(8) lacks \$$v"
done
echo "ok   ngx_http_mcsession_module(8) names every directive and variable"

work=$(mktemp -d "${TMPDIR:-/tmp}/mcs-man.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
cmake --install "$build" --prefix "$work" >/dev/null
for f in man1/mcsession.1 man1/mcsession-gate.1 man3/mcsession.3 \
         man8/ngx_http_mcsession_module.8; do
  [ -n "$(find "$work" -path "*/man/$f")" ] || fail "not installed: $f"
done
echo "ok   installed to share/man/man1, man3 and man8"
