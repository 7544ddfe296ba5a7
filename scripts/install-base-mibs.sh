#!/usr/bin/env bash
# Installs the IETF base MIB modules (SNMPv2-SMI, SNMPv2-TC, SNMPv2-CONF, SNMPv2-MIB) into
# /usr/share/snmp/mibs/ietf when they are missing. docs/mib/STREAMPROBE-MIB.txt imports from
# them and snmptrapd names sysUpTime.0 and snmpTrapOID.0 with them; Debian keeps them in the
# non-free snmp-mibs-downloader (which fetches them from the RFCs at install time), so the
# alarm tests take the copies that the npm package net-snmp ships in lib/mibs/.
set -euo pipefail
dir=/usr/share/snmp/mibs/ietf
mods=(SNMPv2-SMI SNMPv2-TC SNMPv2-CONF SNMPv2-MIB)
missing=0
for m in "${mods[@]}"; do [ -e "$dir/$m" ] || missing=1; done
[ $missing -eq 0 ] && exit 0
command -v npm >/dev/null || { echo "install-base-mibs: npm is needed to fetch the base MIBs" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent net-snmp@3.29.2 >/dev/null && tar xzf net-snmp-*.tgz)
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
$SUDO mkdir -p "$dir"
for m in "${mods[@]}"; do
  [ -e "$dir/$m" ] || $SUDO install -m 644 "$tmp/package/lib/mibs/$m.mib" "$dir/$m"
done
echo "installed the base MIBs ${mods[*]} in $dir" >&2
