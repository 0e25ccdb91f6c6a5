#!/usr/bin/env bash
# deploy/debian/build.sh: build the stagger .deb from this source tree.
#   bash deploy/debian/build.sh OUTDIR
# Copies the tree (the files git knows, committed or not, minus ignored
# ones) to a scratch directory, puts deploy/debian there as debian/, runs
# dpkg-buildpackage -us -uc -b and leaves stagger_*.deb (with its -dbgsym,
# .changes and .buildinfo) in OUTDIR. DEB_BUILD_OPTIONS=nocheck skips the package's own
# test run (the unit and cli suites).
set -euo pipefail
out=$(mkdir -p "$1" && realpath "$1")
src=$(realpath "$(dirname "${BASH_SOURCE[0]}")/../..")

version=$(sed -nE "s/^ *version *: *'([^']+)'.*/\1/p" "$src/meson.build" | head -1)
deb_version=$(dpkg-parsechangelog -l "$src/deploy/debian/changelog" -S Version)
if [ "$version" != "$deb_version" ]; then
    echo "build.sh: meson.build says $version, deploy/debian/changelog $deb_version;" \
         "add a changelog entry (dch -v $version)" >&2
    exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tree=$work/stagger-$version
mkdir "$tree"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$src" ls-files -z -co --exclude-standard | (cd "$src" && tar --null -T - -cf -) |
        tar -C "$tree" -xf -
else
    tar -C "$src" --exclude=./build -cf - . | tar -C "$tree" -xf -
fi
cp -r "$src/deploy/debian" "$tree/debian"
(cd "$tree" && dpkg-buildpackage -us -uc -b)
# The package, its debug symbols, and the .changes/.buildinfo naming both.
cp "$work"/stagger*_"$version"_*.*deb "$work"/stagger_"$version"_*.changes \
   "$work"/stagger_"$version"_*.buildinfo "$out"/
ls "$out"/stagger_"$version"_*.deb
