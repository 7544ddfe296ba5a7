#!/usr/bin/env python3
"""Independent RFC 4445 Delay Factor of one MPEG-TS over UDP flow in a capture.

    mdi_reference.py CAPTURE DST_IP:PORT RATE_BPS

Reads arrival times and UDP payload lengths with tshark (not streamprobe's code) and runs the
virtual buffer sample by sample, as docs/figures.md defines it: intervals of whole seconds of
packet time, the buffer empty at each interval's start, VB sampled before and after every
packet, drained at RATE_BPS; DF = (max VB - min VB) / rate. The media bytes of a datagram are
188 x its TS packets (payload length // 188 for 188-byte packets).

Prints JSON: {"intervals": [{"start_s", "packets", "df_ms"}], "df_ms_min", "df_ms_max",
"df_ms_avg", "df_ms_last"}.
"""
import json, subprocess, sys


def epoch_ns(text):
    # frame.time_epoch has nine decimals on a nanosecond capture; avoid float rounding.
    whole, _, frac = text.partition(".")
    return int(whole) * 10**9 + int((frac + "000000000")[:9])


def main():
    capture, dst, rate = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ip, port = dst.rsplit(":", 1)
    out = subprocess.run(
        ["tshark", "-r", capture, "-Y", f"ip.dst=={ip} && udp.dstport=={port}", "-T", "fields",
         "-E", "separator=,", "-e", "frame.time_epoch", "-e", "udp.length"],
        check=True, capture_output=True, text=True).stdout
    bytes_per_ns = rate / 8 / 1e9
    intervals = {}
    for line in out.splitlines():
        t, udp_len = line.split(",")
        t = epoch_ns(t)
        media = (int(udp_len) - 8) // 188 * 188
        start = t - t % 10**9
        iv = intervals.setdefault(start, {"received": 0, "lo": None, "hi": None, "packets": 0})
        pre = iv["received"] - bytes_per_ns * (t - start)
        post = pre + media
        iv["lo"] = pre if iv["lo"] is None else min(iv["lo"], pre)
        iv["hi"] = post if iv["hi"] is None else max(iv["hi"], post)
        iv["received"] += media
        iv["packets"] += 1
    rows = [{"start_s": s / 1e9, "packets": iv["packets"],
             "df_ms": (iv["hi"] - iv["lo"]) / bytes_per_ns / 1e6}
            for s, iv in sorted(intervals.items())]
    dfs = [r["df_ms"] for r in rows]
    print(json.dumps({"intervals": rows, "df_ms_min": min(dfs), "df_ms_max": max(dfs),
                      "df_ms_avg": sum(dfs) / len(dfs), "df_ms_last": dfs[-1]}, indent=1))


if __name__ == "__main__":
    main()
