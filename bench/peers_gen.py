#!/usr/bin/env python3
"""Generate one deferred-acceptance instance for bench/peers.sh (standard library only).

Students rank K distinct schools (popularity skewed: some schools are in demand); every school
ranks exactly the students who ranked it, in a strict random order; capacities add up to about
90% of the students. Output JSON: {"capacity": [..], "students": [[school, ..], ..],
"priority": [[student, ..], ..]} with 0-based indices. Deterministic for a given seed.
"""
import json
import random
import sys


def main():
    n = int(sys.argv[1])
    out = sys.argv[2]
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 12
    k = 5
    m = max(2, n // 50)
    rng = random.Random(seed)
    weights = [1.0 / (1 + (s % 40)) ** 0.5 for s in range(m)]
    rng.shuffle(weights)
    students = []
    for _ in range(n):
        picks = []
        while len(picks) < min(k, m):
            s = rng.choices(range(m), weights=weights)[0]
            if s not in picks:
                picks.append(s)
        students.append(picks)
    seats = int(n * 0.9)
    capacity = [seats // m + (1 if s < seats % m else 0) for s in range(m)]
    applicants = [[] for _ in range(m)]
    for i, picks in enumerate(students):
        for s in picks:
            applicants[s].append(i)
    priority = []
    for s in range(m):
        order = applicants[s][:]
        rng.shuffle(order)
        priority.append(order)
    with open(out, "w") as f:
        json.dump({"capacity": capacity, "students": students, "priority": priority}, f)


if __name__ == "__main__":
    main()
