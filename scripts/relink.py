#!/usr/bin/env python3
"""Rewrites an Ethernet pcap into another link-layer framing, for decoder tests.

    relink.py IN.pcap OUT.pcap {sll|sll2|raw|vlan|qinq|usec}

The frames' IP packets and timestamps are kept; only the link header (and, for `usec`, the
timestamp resolution) changes, so every variant must give the same flow figures.
"""
import struct, sys

def read_pcap(path):
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    nano = magic == 0xA1B23C4D
    assert magic in (0xA1B2C3D4, 0xA1B23C4D), "little-endian pcap expected"
    linktype = struct.unpack("<I", data[20:24])[0]
    assert linktype == 1, "Ethernet input expected"
    off, recs = 24, []
    while off + 16 <= len(data):
        sec, frac, caplen, origlen = struct.unpack("<IIII", data[off:off + 16])
        recs.append((sec, frac if nano else frac * 1000, data[off + 16:off + 16 + caplen], origlen))
        off += 16 + caplen
    return recs

def main():
    src, dst, kind = sys.argv[1:4]
    recs = read_pcap(src)
    linktype = {"sll": 113, "sll2": 276, "raw": 101, "vlan": 1, "qinq": 1, "usec": 1}[kind]
    nano = kind != "usec"
    out = [struct.pack("<IHHiIII", 0xA1B23C4D if nano else 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)]
    for sec, ns, frame, origlen in recs:
        eth, ethertype, ip = frame[:12], frame[12:14], frame[14:]
        if kind == "sll":
            hdr = struct.pack(">HHH8s", 0, 1, 6, frame[6:12] + b"\0\0") + ethertype
            new = hdr + ip
        elif kind == "sll2":
            new = ethertype + b"\0\0" + struct.pack(">IHBB8s", 2, 1, 0, 6, frame[6:12] + b"\0\0") + ip
        elif kind == "raw":
            new = ip
        elif kind == "vlan":
            new = eth + b"\x81\x00" + struct.pack(">H", 100) + ethertype + ip
        elif kind == "qinq":
            new = eth + b"\x88\xa8" + struct.pack(">H", 10) + b"\x81\x00" + struct.pack(">H", 20) + ethertype + ip
        else:
            new = frame
        delta = len(new) - len(frame)
        frac = ns if nano else ns // 1000
        out.append(struct.pack("<IIII", sec, frac, len(new), origlen + delta) + new)
    open(dst, "wb").write(b"".join(out))

if __name__ == "__main__":
    main()
