#!/usr/bin/env python3
"""A province-sized set of the bureau's raw input files, for timing `fairdraw round freeze`.

    python3 bench/raw_round.py N OUT_DIR

Copies examples/county (policy, 16 schools, teachers) into OUT_DIR and writes an
applicants.csv of N applicants: the county's 600 repeated, each copy with its own application
ids (JJ00000-0001, JJ00001-0001, ...), ID-card numbers (another region code per copy, the
GB 11643 check character recomputed) and family ids; manual placements (一人一案) only in the
first copy, so that the freeze accepts the files. Standard library only; deterministic.
Names, phones and addresses repeat: the freeze does not require them to be distinct.

Then, e.g.:
    fairdraw keygen --signer bureau --out /tmp/bureau.key
    /usr/bin/time -v fairdraw round freeze /tmp/big-round --inputs OUT_DIR --key /tmp/bureau.key
"""
import csv
import io
import os
import shutil
import sys

WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def check_char(first17):
    return "10X98765432"[sum(int(c) * w for c, w in zip(first17, WEIGHTS)) % 11]


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    n, out_dir = int(sys.argv[1]), sys.argv[2]
    if n < 1 or n > 600 * 90_000:
        sys.exit("N: 1 to 54,000,000")
    here = os.path.dirname(os.path.abspath(__file__))
    county = os.path.join(os.path.dirname(here), "examples", "county")
    os.makedirs(out_dir, exist_ok=True)
    for f in ("policy.toml", "schools.csv", "teachers.csv"):
        shutil.copy(os.path.join(county, f), os.path.join(out_dir, f))
    with open(os.path.join(county, "applicants.csv"), encoding="utf-8-sig") as f:
        rows = list(csv.reader(io.StringIO(f.read())))
    header, body = rows[0], rows[1:]
    col = {h: i for i, h in enumerate(header)}
    app, card, fam, manual = col["申请编号"], col["身份证号"], col["家庭编号"], col["一人一案"]
    with open(os.path.join(out_dir, "applicants.csv"), "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        written = 0
        copy = 0
        while written < n:
            for r in body:
                if written == n:
                    break
                r = list(r)
                r[app] = f"JJ{copy:05d}-{r[app].split('-')[1]}"
                first17 = f"{110000 + copy:06d}" + r[card][6:17]
                r[card] = first17 + check_char(first17)
                if r[fam]:
                    r[fam] = f"{r[fam]}-{copy}"
                if copy > 0:
                    r[manual] = ""
                w.writerow(r)
                written += 1
            copy += 1
    print(f"{n} applicants written to {out_dir}/applicants.csv")


if __name__ == "__main__":
    main()
