#!/usr/bin/env bash
# The README's screenshot of the health wall: docs/images/wall.png.
#   scripts/wall-screenshot.sh [OUT.png]
# Writes a 240-s capture of 120 cameras in three groups (crates/testbed/src/bin/synth-wall.rs:
# a third of cams-north, behind one switch, loses packets in the same 20 seconds; one studio
# camera loses packets from second 20 on), replays it six times faster than recorded with
# the API on a loopback port, waits until the band's alarms have cleared, and opens the wall
# in headless Chromium (Debian's chromium and chromium-driver, scripts/install-deps.sh --test)
# through chromedriver's WebDriver interface, with the band selected (#/wall?from=&to=, the
# seconds where most flows were red) and its flows listed; the window is saved as a PNG.
# Only loopback is used. Needs cargo, python3, chromium, chromedriver.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/images/wall.png}
for tool in chromium chromedriver python3; do
  command -v "$tool" > /dev/null || { echo "wall-screenshot: $tool is needed (scripts/install-deps.sh --test)" >&2; exit 1; }
done
cargo build --locked -p streamprobe -p streamprobe-testbed --bin streamprobe --bin synth-wall >&2
work=target/wall-screenshot
rm -rf "$work"; mkdir -p "$work"
target/debug/synth-wall "$work/cameras.pcap" 240
cat > "$work/probe.toml" <<'EOF'
[[group]]
name = "cams-north"
prefixes = ["239.10.1.0/24"]
media_rate = "12 kbit/s"
[group.sla]
max_loss_pct = 5

[[group]]
name = "cams-south"
prefixes = ["239.20.1.0/24"]
media_rate = "12 kbit/s"
[group.sla]
max_loss_pct = 5

[[group]]
name = "studio"
prefixes = ["239.30.0.0/24"]
media_rate = "12 kbit/s"
[group.sla]
max_loss_pct = 5

[alarms]
raise_after = 3
clear_after = 10
EOF
port=18711
driver_port=18712
target/debug/streamprobe run --replay "$work/cameras.pcap" --speed 6 --duration 60 \
  --store "$work/store.db" --config "$work/probe.toml" --api-listen 127.0.0.1:$port \
  --api-token-file "$work/streamprobe.token" > /dev/null 2> "$work/probe.log" &
probe=$!
chromedriver --port=$driver_port > "$work/chromedriver.log" 2>&1 &
driver=$!
# The capture and store (about 50 MB) go when done; the logs stay.
trap 'kill $probe $driver 2>/dev/null || true; rm -rf "$work/cameras.pcap" "$work"/store.db* "$work/chromium-profile"' EXIT
python3 - "$port" "$driver_port" "$out" "$work" <<'EOF'
import base64, calendar, json, sys, time, urllib.request

port, driver_port, out, work = sys.argv[1:5]
api = f"http://127.0.0.1:{port}"
wd = f"http://127.0.0.1:{driver_port}"

def call(method, url, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.load(r)

def wait(what, within, ready):
    deadline = time.time() + within
    while True:
        try:
            v = ready()
            if v:
                return v
        except (OSError, KeyError, TypeError):
            pass
        if time.time() > deadline:
            sys.exit(f"wall-screenshot: {what}: not within {within} s")
        time.sleep(0.2)

# The probe's time: the replay's first packet is "now" at its start, and runs 6x faster.
def probe_s():
    t = call("GET", f"{api}/api/v1/health")["probe"]["time"]
    return calendar.timegm(time.strptime(t[:19], "%Y-%m-%dT%H:%M:%S"))
start = wait("the probe's first interval", 30, probe_s)
# Second 110 of the capture: the band's alarms (60-80 s, cleared 10 good intervals after) are over.
wait("second 110 of the capture", 60, lambda: probe_s() >= start + 108)
wall = call("GET", f"{api}/api/v1/wall?minutes=5")
red = wall["counts"]["red"]
hit = [i for i, n in enumerate(red) if n >= 10]
if not hit:
    sys.exit(f"wall-screenshot: no second with 10 red flows on the wall: {red}")
band_from = wall["start_s"] + hit[0]
band_to = band_from + 9
print(f"wall-screenshot: {wall['flows']} flows; the band: {len(hit)} s with >= 10 red flows; selecting {band_from}-{band_to}", file=sys.stderr)

wait("chromedriver", 20, lambda: call("GET", f"{wd}/status"))
caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {"args": [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1360,1120",
    "--hide-scrollbars", "--no-first-run", "--disable-extensions", "--disable-background-networking",
    "--disable-component-update", f"--user-data-dir={work}/chromium-profile"]}}}}
session = call("POST", f"{wd}/session", caps)["value"]["sessionId"]
s = f"{wd}/session/{session}"
try:
    call("POST", f"{s}/url", {"url": f"{api}/#/wall?minutes=5&rows=40&from={band_from}&to={band_to}"})
    script = "const b = document.querySelector('#wall-band'); return !!(b && b.dataset.count && document.querySelector('#wall-canvas').dataset.ready)"
    wait("the wall and its band", 20, lambda: call("POST", f"{s}/execute/sync", {"script": script, "args": []})["value"])
    time.sleep(0.5)
    count = call("POST", f"{s}/execute/sync", {"script": "return document.querySelector('#wall-band-title').textContent + ' | ' + document.querySelector('#wall-shared').textContent", "args": []})["value"]
    print(f"wall-screenshot: {count}", file=sys.stderr)
    png = base64.b64decode(call("GET", f"{s}/screenshot")["value"])
    with open(out, "wb") as f:
        f.write(png)
    print(f"wall-screenshot: {out}: {len(png)} bytes", file=sys.stderr)
finally:
    call("DELETE", s)
EOF
