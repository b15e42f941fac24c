#!/usr/bin/env bash
# Times `fairdraw-verify` on one bundle: N runs of each given binary, alternating between them
# (in reversed order every other round) so that the host's load falls on all alike, then per binary the median and fastest wall time,
# the median user and system time and the median peak memory (from /usr/bin/time).
#
#   bench/verify_runs.sh DIR [N] [BIN ...]
#
# DIR: a bundle, e.g. from `target/release/fairdraw simulate --applicants 1000000 --schools 5000
# --choices 10 --out DIR`. N: runs per binary (default 10). BIN: verifier binaries to compare
# (default target/release/fairdraw-verify). Every run must print VERIFIED (exit 0).
# COLD=S sleeps S seconds before each run (on a VM that hands freed memory back to its host,
# this measures runs that find none of it warm; see docs/PERFORMANCE.md).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
dir="${1:?usage: bench/verify_runs.sh DIR [N] [BIN ...]}"
n="${2:-10}"
shift $(($# < 2 ? $# : 2))
bins=("$@")
if [[ ${#bins[@]} -eq 0 ]]; then
  bins=("$root/target/release/fairdraw-verify")
  [[ -x "${bins[0]}" ]] || (cd "$root" && cargo build --release -q -p verifier)
fi
timer=/usr/bin/time
[[ -x "$timer" ]] || { echo "verify_runs: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
raw="$(mktemp)"
trap 'rm -f "$raw"' EXIT
# The order of the binaries is reversed every other round (A B, B A, …): on this VM the run that
# follows another gets its freed memory warm, which favours a fixed second place.
order=("${!bins[@]}")
for ((r = 1; r <= n; r++)); do
  if ((r % 2 == 0)); then
    rev=()
    for ((j = ${#order[@]} - 1; j >= 0; j--)); do rev+=("${order[$j]}"); done
  else
    rev=("${order[@]}")
  fi
  for k in "${rev[@]}"; do
    [[ -n "${COLD:-}" ]] && sleep "$COLD"
    if ! "$timer" -f "$k %e %U %S %M" -a -o "$raw" "${bins[$k]}" "$dir" >/dev/null; then
      echo "verify_runs: ${bins[$k]} did not verify $dir" >&2
      exit 1
    fi
  done
done
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
printf '%-44s %5s %10s %9s %9s %9s %10s\n' binary runs "wall med" "wall min" "user med" "sys med" "peak MiB"
for k in "${!bins[@]}"; do
  col() { awk -v k="$k" -v c="$1" '$1 == k {print $c}' "$raw"; }
  printf '%-44s %5d %10.2f %9.2f %9.2f %9.2f %10.0f\n' "${bins[$k]}" "$n" \
    "$(col 2 | median)" "$(col 2 | sort -g | head -1)" "$(col 3 | median)" "$(col 4 | median)" \
    "$(col 5 | median | awk '{print $1 / 1024}')"
done
