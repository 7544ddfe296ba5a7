#!/usr/bin/env bash
# Writes the README's sample output: what the current build prints for the command in the
# sample block (between `<!-- sample: ... -->` and `<!-- /sample -->`). Run after a change
# to the table; crates/streamprobe/tests/readme.rs fails while the README is stale.
#   scripts/readme-sample.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -p streamprobe --bin streamprobe >&2
python3 - <<'PY'
import re, shlex, subprocess
readme = open("README.md").read()
block = re.compile(r"(<!-- sample:[^\n]*-->\n```\n\$ )([^\n]+)\n(.*?)(```\n<!-- /sample -->)", re.S)
def fill(m):
    argv = shlex.split(m.group(2))
    out = subprocess.run(["target/release/streamprobe"] + argv[1:], capture_output=True, text=True, check=True).stdout
    return m.group(1) + m.group(2) + "\n" + out + m.group(4)
new, n = block.subn(fill, readme)
assert n == 1, f"{n} sample blocks"
open("README.md", "w").write(new)
PY
