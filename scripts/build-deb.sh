#!/usr/bin/env bash
# Builds the Debian package target/debian/streamprobe_VERSION-1_ARCH.deb and prints its path
# as the last line (tests/deb.rs reads it). Installs cargo-deb into ~/.cargo/bin when missing
# (under a minute, once), builds the release binary (the profile users run: the probe's speed
# is the product), writes the man pages from it, then packages. Warm it takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# One cargo-deb version: the package's layout (unit in /usr/lib/systemd/system, the
# maintainer script fragments) is what tests/deb.rs checks, and another version may differ.
cargo_deb_version=3.8.0
if [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb $cargo_deb_version" ]; then
  echo "installing cargo-deb $cargo_deb_version" >&2
  cargo install cargo-deb --version "$cargo_deb_version" --locked
fi
cargo build --release --locked -p streamprobe
# The pages come from the binary being packaged, so they match its --help; old ones go first
# so that a removed subcommand's page cannot linger. They sit under target/release/, where
# cargo-deb expects files that the build makes (it warns about other paths under target/).
rm -rf target/release/man
target/release/streamprobe man --out target/release/man >&2
# Debian ships man pages gzipped; -n leaves out the name and time, so a rebuild is identical.
gzip -9nf target/release/man/*.1
# --no-build: the binary above is the one packaged (cargo deb would rebuild the same).
# --fast: gzip rather than xz: 3.1 MB in under a second, against 2.7 MB in 6 s on 2 cores.
# cargo deb prints the package's path on stdout, its progress on stderr.
deb=$(cargo deb --no-build --locked --fast -p streamprobe --output target/debian | tail -n 1)
[ -f "$deb" ] || { echo "build-deb: no package at '$deb'" >&2; exit 1; }
realpath "$deb"
