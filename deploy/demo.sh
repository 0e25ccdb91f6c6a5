#!/usr/bin/env bash
# deploy/demo.sh: the README's first command. Installs what is missing,
# builds, and runs a live demo: 8 staggerd peers on loopback, shaped like a
# stake pool, roll out a release one node at a time, the holdback pair last.
#   bash deploy/demo.sh [--fail] [--plain]
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/deps.sh
if [ -f build/plain/build.ninja ]; then :; else meson setup build/plain >/dev/null; fi
ninja -C build/plain node/shell/staggerd node/ctl/staggerctl >/dev/null
exec /usr/bin/python3 deploy/demo/demo.py build/plain "$@"
