#!/usr/bin/env bash
# Vendors uPlot (the dashboard's charts) into crates/api/assets/vendor/uplot/ from the npm
# registry: the release tarball npm names, checked against the registry's sha512 integrity,
# and from it only the minified IIFE build, its stylesheet and its licence. Needs npm (a dev
# step only: `apt-get install npm`; the probe itself serves the files from its binary).
#   scripts/vendor-uplot.sh [VERSION]        (default: the version in the README there)
set -euo pipefail
cd "$(dirname "$0")/.."
out=crates/api/assets/vendor/uplot
version=${1:-$(sed -n 's/^version: //p' "$out/README.md")}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
integrity=$(npm view "uplot@$version" dist.integrity)
licence=$(npm view "uplot@$version" license)
(cd "$work" && npm pack --silent "uplot@$version" > /dev/null)
file="$work/uplot-$version.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$file" | base64 -w0)"
if [ "$got" != "$integrity" ]; then
  echo "error: $file: sha512 $got is not the registry's $integrity" >&2
  exit 1
fi
tar -xzf "$file" -C "$work"
cp "$work/package/dist/uPlot.iife.min.js" "$work/package/dist/uPlot.min.css" "$work/package/LICENSE" "$out/"
cat > "$out/README.md" <<README
# uPlot, vendored

The dashboard's charts (https://github.com/leeoniya/uPlot), served from the probe's binary:
no CDN, nothing fetched at run time. Made by scripts/vendor-uplot.sh; do not edit the files.

name: uplot
version: $version
licence: $licence (LICENSE here)
source: the npm registry, uplot-$version.tgz (npm pack uplot@$version)
integrity: $integrity
files: dist/uPlot.iife.min.js, dist/uPlot.min.css, LICENSE
README
echo "uplot $version vendored into $out"
