#!/usr/bin/env python3
"""Chooses a fuzz target's committed seeds from its minimised corpus (scripts/fuzz.sh):
the hand-made seeds already there (named, not a 40-hex hash) are kept, then corpus inputs
from the smallest up while the total stays within BYTES.
    scripts/fuzz-seeds.py CORPUS SEEDS BYTES"""
import os, re, shutil, sys

corpus, seeds, budget = sys.argv[1], sys.argv[2], int(sys.argv[3])
os.makedirs(seeds, exist_ok=True)
hashed = re.compile(r"^[0-9a-f]{40}$")
for name in os.listdir(seeds):
    if hashed.match(name):
        os.remove(os.path.join(seeds, name))
total = sum(os.path.getsize(os.path.join(seeds, n)) for n in os.listdir(seeds))
names = [n for n in os.listdir(corpus) if hashed.match(n)]
for name in sorted(names, key=lambda n: (os.path.getsize(os.path.join(corpus, n)), n)):
    size = os.path.getsize(os.path.join(corpus, name))
    if total + size > budget:
        break
    shutil.copy(os.path.join(corpus, name), os.path.join(seeds, name))
    total += size
