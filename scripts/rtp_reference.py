#!/usr/bin/env python3
"""Independent reference figures for RTP streams in a capture.

    rtp_reference.py CAPTURE [TRUTH] --ports 5004,5006,...

Prints JSON keyed by flow (`src:port>dst:port`) with:
  truth:  lost / duplicates / reordered derived from the impairment relay's log (what it did),
  a8:     a literal RFC 3550 A.8 jitter over every packet in arrival order (duplicates left
          out), computed here from tshark's per-packet fields, not from streamprobe's code,
  tshark: tshark's own `-z rtp,streams` figures (packets, lost, max/mean jitter).
"""
import argparse, json, subprocess, sys
from collections import defaultdict

def tshark_decode(ports):
    args = []
    for p in ports:
        args += ["-d", f"udp.port=={p},rtp"]
    return args + ["-d", "rtp.pt==96,h264"]

def unwrap(seqs):
    out, prev, base = [], None, 0
    for s in seqs:
        if prev is not None:
            d = (s - prev) % 65536
            if d > 32768:
                d -= 65536
            base += d
        else:
            base = s + (1 << 20)
        out.append(base)
        prev = s
    return out

def truth_figures(path):
    events = defaultdict(list)
    with open(path) as f:
        for line in f:
            parts = line.split()
            if parts[0] == "release":
                action, n, flow, seq = "release", int(parts[1]), parts[2], parts[3]
            else:
                action, n, flow, seq = parts[0], 0, parts[1], parts[2]
            if seq != "-":
                events[flow].append((action, n, int(seq)))
    result = {}
    for flow, evs in events.items():
        # Unwrap in the order the sender numbered them (the log is in relay arrival order).
        ext = unwrap([e[2] for e in evs])
        received = [x for (a, n, _), x in zip(evs, ext) if a in ("pass", "dup") or a == "release"]
        lo, hi = min(received), max(received)
        dropped = [x for (a, n, _), x in zip(evs, ext) if a == "drop" and lo < x < hi]
        result[flow] = {
            "lost": len(dropped),
            "duplicates": sum(1 for a, _, _ in evs if a == "dup"),
            "reordered": sum(1 for a, n, _ in evs if a == "release" and n >= 1),
        }
    return result

def a8_figures(capture, ports):
    cmd = ["tshark", "-r", capture] + tshark_decode(ports) + ["-Y", "rtp", "-T", "fields", "-E", "separator=,",
           "-e", "frame.time_epoch", "-e", "ip.src", "-e", "udp.srcport", "-e", "ip.dst", "-e", "udp.dstport",
           "-e", "rtp.ssrc", "-e", "rtp.seq", "-e", "rtp.timestamp", "-e", "rtp.p_type"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    state = {}
    for line in out.splitlines():
        t, src, sport, dst, dport, ssrc, seq, ts, pt = line.split(",")
        sec, _, frac = t.partition(".")
        arrival = int(sec) * 1_000_000_000 + int((frac + "000000000")[:9])
        key = f"{src}:{sport}>{dst}:{dport}"
        s = state.setdefault(key, {"seen": set(), "prev": None, "j": 0.0, "max": 0.0, "sum": 0.0, "n": 0, "packets": 0})
        s["packets"] += 1
        seq, ts = int(seq), int(ts)
        if seq in s["seen"]:
            continue  # duplicates are left out of the jitter
        s["seen"].add(seq)
        if s["prev"] is not None:
            pa, pts = s["prev"]
            dts = (ts - pts) % (1 << 32)
            if dts >= 1 << 31:
                dts -= 1 << 32
            d = (arrival - pa) * 90000 / 1e9 - dts
            s["j"] += (abs(d) - s["j"]) / 16
            s["max"] = max(s["max"], s["j"])
            s["sum"] += s["j"]
            s["n"] += 1
        s["prev"] = (arrival, ts)
    return {k: {"jitter_ms_max": v["max"] / 90.0, "jitter_ms_mean": (v["sum"] / v["n"] / 90.0) if v["n"] else 0.0,
                "packets": v["packets"]} for k, v in state.items()}

def tshark_streams(capture, ports):
    cmd = ["tshark", "-q", "-r", capture] + tshark_decode(ports) + ["-z", "rtp,streams"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    result = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) < 15 or not f[0][0].isdigit():
            continue
        # Start End SrcIP Port DstIP Port SSRC Payload(1+ words) Pkts Lost (pct) MinD MeanD MaxD MinJ MeanJ MaxJ [X]
        tail = f[-7:] if f[-1] != "X" else f[-8:-1]
        lost_i = f.index(next(x for x in f if x.startswith("(") and x.endswith("%)"))) - 1
        result[f"{f[2]}:{f[3]}>{f[4]}:{f[5]}"] = {
            "packets": int(f[lost_i - 1]), "lost": int(f[lost_i]),
            "jitter_ms_mean": float(tail[-2]), "jitter_ms_max": float(tail[-1]),
        }
    return result

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("capture")
    ap.add_argument("truth", nargs="?")
    ap.add_argument("--ports", required=True)
    a = ap.parse_args()
    ports = [p for p in a.ports.split(",") if p]
    truth = truth_figures(a.truth) if a.truth else {}
    a8, ts = a8_figures(a.capture, ports), tshark_streams(a.capture, ports)
    flows = {}
    for key in sorted(set(a8) | set(ts)):
        flows[key] = {"truth": truth.get(key), "a8": a8.get(key), "tshark": ts.get(key)}
    json.dump({"flows": flows}, sys.stdout, indent=1, sort_keys=True)
    print()

if __name__ == "__main__":
    main()
