#!/usr/bin/env python3
"""Solve a bench/peers.sh instance with the `matching` package (HospitalResident,
resident-optimal) and write the assignment (school index per student, -1 unplaced) as JSON.
Prints the solve time (building the game + solving; reading JSON excluded) as JSON."""
import json
import sys
import time

from matching.games import HospitalResident


def main():
    sys.setrecursionlimit(1_000_000)
    with open(sys.argv[1]) as f:
        inst = json.load(f)
    out = sys.argv[2]
    t = time.perf_counter()
    resident_prefs = {f"s{i}": [f"h{s}" for s in picks] for i, picks in enumerate(inst["students"])}
    hospital_prefs = {f"h{s}": [f"s{i}" for i in order] for s, order in enumerate(inst["priority"])}
    capacities = {f"h{s}": c for s, c in enumerate(inst["capacity"])}
    game = HospitalResident.create_from_dictionaries(resident_prefs, hospital_prefs, capacities)
    matching = game.solve(optimal="resident")
    secs = time.perf_counter() - t
    assignment = [-1] * len(inst["students"])
    for hospital, residents in matching.items():
        s = int(hospital.name[1:])
        for r in residents:
            assignment[int(r.name[1:])] = s
    with open(out, "w") as f:
        json.dump(assignment, f)
    print(json.dumps({"seconds": secs, "placed": sum(1 for a in assignment if a >= 0)}))


if __name__ == "__main__":
    main()
