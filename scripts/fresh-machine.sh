#!/usr/bin/env bash
# Checks the README's claim that its two commands work on a fresh Debian machine with only
# Rust installed: builds a minimal Debian 12 (debootstrap --variant=minbase) in DIR, gives it
# this machine's Rust toolchain (what rustup would have installed: the stable toolchain and
# cargo's binaries, plus ca-certificates, which rustup's installer needs), clones this
# repository into it and runs COMMAND there as root (default: the main job for 5 s).
#   scripts/fresh-machine.sh [DIR] [COMMAND]
#   scripts/fresh-machine.sh /srv/fresh 'scripts/test.sh'
# Needs root, debootstrap (installed when missing) and the Debian mirror. CA certificates
# this machine added (/usr/local/share/ca-certificates: an egress proxy's) are copied too.
# DIR is reused when it already holds a system (and its clone keeps its build); DIR itself,
# /proc, /sys, /dev and /dev/pts are mounted for the run and unmounted after.
set -euo pipefail
cd "$(dirname "$0")/.."
root=${1:-/srv/fresh}
command=${2:-scripts/demo.sh --duration 5}
[ "$(id -u)" -eq 0 ] || { echo "fresh-machine.sh: run as root (debootstrap, chroot)" >&2; exit 2; }
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap
if [ ! -x "$root/bin/bash" ]; then
  debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian
fi
toolchain=$(rustup show active-toolchain | cut -d' ' -f1)
mkdir -p "$root/root/.rustup/toolchains" "$root/root/.cargo"
cp -a "$HOME/.cargo/bin" "$root/root/.cargo/"
cp -a "$HOME/.rustup/settings.toml" "$root/root/.rustup/"
[ -d "$root/root/.rustup/toolchains/$toolchain" ] ||
  cp -a "$HOME/.rustup/toolchains/$toolchain" "$root/root/.rustup/toolchains/"
cp /etc/resolv.conf "$root/etc/resolv.conf"
# debootstrap writes no /etc/hosts, which every installed Debian has (Chromium's driver
# reaches its browser at "localhost").
[ -e "$root/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' > "$root/etc/hosts"
if compgen -G "/usr/local/share/ca-certificates/*" >/dev/null; then
  cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
fi
# Everything mounted under DIR goes, the tests' namespace mounts included.
cleanup() { umount -R "$root" 2>/dev/null || umount -R -l "$root" 2>/dev/null || true; }
trap cleanup EXIT
# The root bound on itself: a mount point, as / is on a machine (`ip netns add` marks it
# a slave mount, which fails on a plain directory).
mount --bind "$root" "$root"
mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
chroot "$root" bash -c 'command -v update-ca-certificates >/dev/null ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q ca-certificates >/dev/null'
chroot "$root" update-ca-certificates >/dev/null
# This repository's HEAD; a clone left by an earlier run keeps its build.
if [ -d "$root/root/streamprobe/.git" ]; then
  git -C "$root/root/streamprobe" fetch -q "$PWD" HEAD
  git -C "$root/root/streamprobe" reset -q --hard FETCH_HEAD
else
  git clone -q "$PWD" "$root/root/streamprobe"
fi
echo "fresh-machine.sh: running '$command' in $root" >&2
chroot "$root" env -i HOME=/root TERM=dumb PATH=/root/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  bash -c "cd /root/streamprobe && $command"
