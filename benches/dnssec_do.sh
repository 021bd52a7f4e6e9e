#!/usr/bin/env bash
# DNSSEC on the query path: vigia serving the reference harness's zones
# (../shared/bench/zones, the 100k-record bench.test among them) unsigned
# and signed (dnssec = true, one ECDSA P-256 CSK per zone), each asked the
# harness's queries (../shared/bench/queries/large.txt, misses included)
# with DO=1 by dnsperf. Reports, per run: QPS, server CPU microseconds per
# query (srv us/q, from /proc/PID/stat, counted from when the server has
# gone idle after its start-up, so that signing, the signatures kept and
# load-time memory freed are not charged to queries), and for the signed
# start the time to sign bench.test and the RSS. Server on CPU 1, dnsperf on CPU 0, as the
# harness pins them. Loopback only (127.0.0.27); stops what it started.
#
# The reference, measured in the same run: Knot DNS (knotd from the knot
# package) signing the same zones itself (automatic signing, one ECDSA
# P-256 CSK per zone, NSEC), asked the same queries with DO=1; the last
# line is vigia's signed srv us/q over Knot's. Without knotd that run is
# skipped, loudly.
#
#   benches/dnssec_do.sh                 # 10 s per run, 3 rounds
#   DURATION=30 ROUNDS=5 benches/dnssec_do.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
shared=$repo/../shared/bench
duration=${DURATION:-10}
rounds=${ROUNDS:-3}
out=$(mktemp -d /tmp/vigia-dnssec-do.XXXXXX)
addr=127.0.0.27
port=5302
cargo build --release --manifest-path "$repo/Cargo.toml" >&2
vigia=${CARGO_TARGET_DIR:-$repo/target}/release/vigia
kport=5303
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null || true; rm -rf "$out"; }
trap cleanup EXIT

config() { # $1: true/false
    cat <<EOC
[server]
listen = ["$addr:$port"]
state_dir = "$out/state-$1"
workers = 1
[[zone]]
name = "no-paladar.com.br"
file = "$shared/zones/db.no-paladar.com.br"
dnssec = $1
[[zone]]
name = "0.168.192.in-addr.arpa"
file = "$shared/zones/db.0.168.192.in-addr.arpa"
dnssec = $1
[[zone]]
name = "bench.test"
file = "$shared/zones/db.bench.test"
dnssec = $1
[dnssec]
key_dir = "$out/keys"
# bench.test's SOA expire is 14 days: the refresh must outlast it.
validity = "30d"
refresh = "15d"
[metrics]
listen = "$addr:9154"
[log]
level = "info"
EOC
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# Start-up work that goes on after the first answer (vigia keeping the
# signatures in its state directory, load-time memory freed; Knot's own
# background work) is not the cost of a query: waits until server $1's
# CPU time stands still for half a second (at most a minute).
settle() {
    local before now
    now=$(cpu_ticks "$1")
    for _ in $(seq 120); do
        sleep 0.5
        before=$now
        now=$(cpu_ticks "$1")
        [ "$now" != "$before" ] || return 0
    done
    echo "!!! server $1 still busy a minute after its first answer: measuring anyway" >&2
}

# dnsperf against $1:$2 with DO=1 while server $3 runs: sets qps and usq.
measure() {
    local hz t0 t1 res completed
    hz=$(getconf CLK_TCK)
    t0=$(cpu_ticks "$3")
    res=$(taskset -c 0 dnsperf -s "$1" -p "$2" -d "$shared/queries/large.txt" -l "$duration" -D -c 1 -q 100 2>&1)
    t1=$(cpu_ticks "$3")
    completed=$(echo "$res" | awk '/Queries completed/ {print $3}')
    qps=$(echo "$res" | awk '/Queries per second/ {print $4}')
    usq=$(echo "($t1 - $t0) * 1000000 / $hz / $completed" | bc -l)
}

knot_config() {
    cat <<EOC
server:
    rundir: "$out/knot"
    listen: $addr@$kport
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "$out/knot/db"
log:
  - target: stderr
    any: info
policy:
  - id: csk
    algorithm: ecdsap256sha256
    single-type-signing: on
template:
  - id: default
    storage: "$out/knot"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
    dnssec-signing: on
    dnssec-policy: csk
zone:
  - domain: no-paladar.com.br
    file: "$shared/zones/db.no-paladar.com.br"
  - domain: 0.168.192.in-addr.arpa
    file: "$shared/zones/db.0.168.192.in-addr.arpa"
  - domain: bench.test
    file: "$shared/zones/db.bench.test"
EOC
}

printf 'run\tQPS\tsrv us/q\tsigned at start (ms)\tready s\tidle s\tRSS MiB at ready\tRSS MiB after the run\n'
for signed in false true; do
    config $signed > "$out/vigia-$signed.toml"
done
for z in no-paladar.com.br 0.168.192.in-addr.arpa bench.test; do
    "$vigia" dnssec keygen --config "$out/vigia-true.toml" "$z" > /dev/null
done
# Unsigned and signed alternate, ROUNDS times, so that a busy machine
# weighs on both alike; the ratio is of the medians. From the second
# round on, the signed start reuses the signatures kept in its state
# directory (as a restart does), so "signed at start" is the first's.
usq_false=(); usq_true=()
for round in $(seq "$rounds"); do
  for signed in false true; do
    cfg=$out/vigia-$signed.toml
    start=$(date +%s.%N)
    taskset -c 1 "$vigia" serve --config "$cfg" 2> "$out/vigia-$signed.log" &
    pid=$!
    # An answer: dig prints its errors on stdout too.
    until dig +short +time=1 +tries=1 @$addr -p $port bench.test SOA 2>/dev/null | grep -q hostmaster; do
        kill -0 $pid 2>/dev/null || { cat "$out/vigia-$signed.log"; exit 1; }
        sleep 0.02
    done
    ready=$(echo "$(date +%s.%N) - $start" | bc)
    rss_ready=$(($(ps -o rss= -p $pid) / 1024))
    sign_ms=$(grep -o 'zone signed zone=bench.test. serial=[0-9]* signed=[0-9]* reused=[0-9]* ms=[0-9]*' "$out/vigia-$signed.log" | sed 's/.*ms=//' || true)
    settle $pid
    idle=$(echo "$(date +%s.%N) - $start" | bc)
    measure $addr $port $pid
    # After the run: load-time garbage is freed beside serving, in the
    # first seconds, so the RSS at the first answer overstates it.
    rss=$(($(ps -o rss= -p $pid) / 1024))
    if [ $signed = true ]; then usq_true+=("$usq"); else usq_false+=("$usq"); fi
    printf '%s\t%s\t%.2f\t%s\t%.2f\t%.2f\t%s\t%s\n' "$([ $signed = true ] && echo "signed DO=1" || echo "unsigned DO=1") ($round)" \
        "$qps" "$usq" "${sign_ms:--}" "$ready" "$idle" "$rss_ready" "$rss"
    kill $pid; wait $pid 2>/dev/null || true; pid=""
  done
done
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
vigia_usq=$(median "${usq_true[@]}")
unsigned_usq=$(median "${usq_false[@]}")
printf 'vigia signed / vigia unsigned (median srv us/q)\t%.2f / %.2f = %.2f\n' "$vigia_usq" "$unsigned_usq" \
    "$(echo "$vigia_usq / $unsigned_usq" | bc -l)"

# The reference: Knot signing the same zones, in the same run. "ready" is
# from start until bench.test's SOA comes back signed.
knotd=$(command -v knotd || echo /usr/sbin/knotd)
if [ ! -x "$knotd" ]; then
    echo "!!! SKIPPED the Knot reference: knotd missing (apt-get install knot)" >&2
    exit 0
fi
mkdir -p "$out/knot/db"
knot_config > "$out/knot.conf"
start=$(date +%s.%N)
taskset -c 1 "$knotd" -c "$out/knot.conf" 2> "$out/knot.log" &
pid=$!
until dig +dnssec +time=1 +tries=1 @$addr -p $kport bench.test SOA 2>/dev/null | grep -q 'RRSIG.*SOA'; do
    kill -0 $pid 2>/dev/null || { cat "$out/knot.log"; exit 1; }
    sleep 0.05
done
ready=$(echo "$(date +%s.%N) - $start" | bc)
rss_ready=$(($(ps -o rss= -p $pid) / 1024))
settle $pid
idle=$(echo "$(date +%s.%N) - $start" | bc)
measure $addr $kport $pid
rss=$(($(ps -o rss= -p $pid) / 1024))
printf '%s\t%s\t%.2f\t%s\t%.2f\t%.2f\t%s\t%s\n' "Knot signed DO=1" "$qps" "$usq" "-" "$ready" "$idle" "$rss_ready" "$rss"
kill $pid; wait $pid 2>/dev/null || true; pid=""
printf 'vigia signed (median) / Knot signed (srv us/q)\t%.2f\n' "$(echo "$vigia_usq / $usq" | bc -l)"
