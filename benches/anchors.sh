#!/usr/bin/env bash
# Measures vigia beside BIND, Knot, NSD, PowerDNS and gdnsd in one run of the
# shared harness (../shared/bench/anchors.sh), same pinning for all: the
# server on CPU 1, dnsperf on CPU 0. Needs root (the harness adds 127.0.0.21
# to lo) and the Debian packages listed in ../shared/bench/README.md.
#
#   benches/anchors.sh                 # all servers + vigia, ~5 minutes
#   benches/anchors.sh --only gdnsd,knot,vigia
#   WORKERS=2 benches/anchors.sh --only vigia   # vigia on both cores
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
harness=${HARNESS:-$repo/../shared/bench/anchors.sh}
out=${OUT:-$repo/target/anchors}
mkdir -p "$out"
cargo build --release --manifest-path "$repo/Cargo.toml"
cfg=$here/anchors-vigia.toml
cpus=1
if [ -n "${WORKERS:-}" ]; then
    cfg=$out/vigia-workers.toml
    sed "s/^workers = 1/workers = $WORKERS/" "$here/anchors-vigia.toml" > "$cfg"
    sed -i "s#\.\./\.\./shared#$repo/../shared#" "$cfg"
    cpus=0-1
fi
start=$(date +%s.%N)
taskset -c "$cpus" "$repo/target/release/vigia" serve --config "$cfg" 2>"$out/vigia.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
until dig +short +time=1 +tries=1 @127.0.0.26 -p 5300 bench.test SOA 2>/dev/null | grep -q hostmaster; do
    kill -0 $pid 2>/dev/null || { cat "$out/vigia.log"; exit 1; }
    sleep 0.02
done
echo "vigia ready in $(echo "$(date +%s.%N) - $start" | bc) s (100k-record zone loaded), RSS $(($(ps -o rss= -p $pid) / 1024)) MiB"
PIN_TARGETS=$([ "$cpus" = 1 ] && echo 1 || echo 0) "$harness" --target vigia=127.0.0.26:5300 --out "$out" "$@"
