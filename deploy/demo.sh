#!/usr/bin/env bash
# deploy/demo.sh: the README's first command. Until the rollout lands it
# builds stagger and walks through keys and signed documents.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/deps.sh
[ -f build/plain/build.ninja ] || meson setup build/plain >/dev/null
ninja -C build/plain >/dev/null
exec bash deploy/selfcheck.sh build/plain
