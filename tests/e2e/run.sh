#!/bin/sh
# The browser test, as ctest runs it: run.sh PATH/TO/mcsession-demo OUTDIR
# Installs playwright-core into tests/e2e/node_modules (git-ignored) the
# first time, then drives Debian's /usr/bin/chromium (the browser comes
# from Debian, never from a download by Playwright). playwright-core is
# pinned to 1.61.1, the last release that still runs on Debian 12's own
# Node.js 18 (later ones need 20), so the test works with either.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -x /usr/bin/chromium ]; then
  echo "SKIPPED: /usr/bin/chromium is missing (apt-get install chromium)"
  exit 77
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIPPED: node and npm are needed (apt-get install nodejs npm)"
  exit 77
fi
if [ ! -d "$here/node_modules/playwright-core" ]; then
  (cd "$here" && npm install --no-audit --no-fund)
fi
exec node "$here/demo.e2e.mjs" "$@"
