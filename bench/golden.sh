#!/usr/bin/env bash
# Golden check: the bundles `fairdraw simulate` writes must keep exactly the bytes recorded in
# bench/golden.txt. Every performance change is checked with this script.
#
#   bench/golden.sh            compare against bench/golden.txt (exit 1 on any difference)
#   bench/golden.sh --record   (re)record bench/golden.txt — only for an intended byte change
#   FAIRDRAW=path/to/fairdraw bench/golden.sh   use a given binary (default: target/release)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
bin="${FAIRDRAW:-$root/target/release/fairdraw}"
# Built (or found up to date) every time: a stale binary would compare yesterday's engine.
if [[ -z "${FAIRDRAW:-}" ]]; then
  (cd "$root" && cargo build --release -q -p server)
fi
golden="$here/golden.txt"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# name | applicants | schools | seed text | extra args
cases=(
  "small|3000|25|S|"
  "medium|20000|200|golden-medium|"
  "large|100000|500|golden-large|"
)
if [[ -n "${GOLDEN_EXTRA:-}" ]]; then cases+=("choices10|20000|200|golden-ten|--choices 10"); fi
out=""
for c in "${cases[@]}"; do
  IFS='|' read -r name n m seed extra <<<"$c"
  # shellcheck disable=SC2086
  "$bin" simulate --applicants "$n" --schools "$m" --seed-text "$seed" $extra --out "$tmp/$name" >/dev/null
  sum="$(cd "$tmp/$name" && sha256sum -- * | sha256sum | cut -d' ' -f1)"
  out+="$name $n $m $seed $sum"$'\n'
done
if [[ "${1:-}" == "--record" ]]; then
  printf '%s' "$out" >"$golden"
  echo "recorded $golden"
  cat "$golden"
  exit 0
fi
if diff <(printf '%s' "$out") "$golden"; then
  echo "golden: OK (every bundle byte-identical)"
else
  echo "golden: MISMATCH — a published byte changed" >&2
  exit 1
fi
