#!/usr/bin/env bash
# Fairdraw's deferred acceptance against a peer: the Python `matching` package (pinned 1.4.3,
# HospitalResident, resident-optimal). For each size, one instance is generated
# (bench/peers_gen.py), solved by both, the assignments compared, and both times printed.
#
#   bench/peers.sh                 sizes 10000 and 100000
#   bench/peers.sh 10000           one size
#   PEER_TIMEOUT=300 bench/peers.sh   bound every peer run (seconds; default 300)
#
# The peer is installed into its own virtual environment, bench/.venv (gitignored).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
timeout_s="${PEER_TIMEOUT:-300}"
sizes=("$@")
[[ ${#sizes[@]} -eq 0 ]] && sizes=(10000 100000)

venv="$here/.venv"
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import matching' 2>/dev/null; then
  echo "peers: installing matching==1.4.3 into $venv" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'matching==1.4.3'
fi
bin="${FAIRDRAW:-$root/target/release/fairdraw}"
if [[ -z "${FAIRDRAW:-}" ]]; then
  (cd "$root" && cargo build --release -q -p server)
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

printf '%-9s %-8s %12s %14s %10s  %s\n' students schools fairdraw_s matching_s ratio assignments
for n in "${sizes[@]}"; do
  inst="$work/da-$n.json"
  python3 "$here/peers_gen.py" "$n" "$inst"
  m="$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["capacity"]))' "$inst")"
  ours="$("$bin" bench da --input "$inst" --output "$work/ours-$n.json")"
  ours_s="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["seconds"])' "$ours")"
  set +e
  peer="$(timeout "$timeout_s" "$venv/bin/python" "$here/peers_matching.py" "$inst" "$work/peer-$n.json")"
  rc=$?
  set -e
  if [[ $rc -eq 124 ]]; then
    printf '%-9s %-8s %12.4f %14s %10s  %s\n' "$n" "$m" "$ours_s" "> $timeout_s" "> $(python3 -c "print(round($timeout_s/$ours_s))")" "peer timed out"
    continue
  elif [[ $rc -ne 0 ]]; then
    printf '%-9s %-8s %12.4f %14s %10s  %s\n' "$n" "$m" "$ours_s" "failed" "-" "peer exited with $rc"
    continue
  fi
  peer_s="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["seconds"])' "$peer")"
  if cmp -s <(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])))' "$work/ours-$n.json") \
            <(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])))' "$work/peer-$n.json"); then
    same="identical"
  else
    same="DIFFERENT"
  fi
  printf '%-9s %-8s %12.4f %14.3f %10.0f  %s\n' "$n" "$m" "$ours_s" "$peer_s" "$(python3 -c "print($peer_s/$ours_s)")" "$same"
  [[ "$same" == identical ]] || exit 1
done
