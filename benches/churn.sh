#!/usr/bin/env bash
# Issue 4, target 4: does failover churn cost the query path anything?
#
# Runs vigia (pinned to CPU 1, one worker) on the harness zones twice per
# round: once without failover, once with the site's two rules, checks every
# 200 ms, and a backend on 127.0.0.108 that flips between 200 and 500 every
# second (fall 1 / rise 1: a snapshot swap about every second). dnsperf
# (CPU 0) saturates it with the site query mix; the script reports server
# CPU microseconds per answered query, lost queries and SERVFAILs.
#
#   benches/churn.sh            # 3 rounds x 2 configs x 10 s
#   ROUNDS=5 DURATION=20 benches/churn.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
zones=$(cd "$repo/../shared/bench/zones" && pwd)
queries=$repo/../shared/bench/queries/nopaladar.txt
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
cargo build --release --manifest-path "$repo/Cargo.toml" >/dev/null 2>&1

# A backend that answers 200 for one second, then 500 for one second.
cat > "$work/flap.py" <<'PY'
import http.server, time
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 200 if int(time.time()) % 2 == 0 else 500
        self.send_response(code); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.108", 18080), H).serve_forever()
PY
taskset -c 0 python3 "$work/flap.py" & pids+=($!)
grep -v '^;' "$queries" > "$work/q.txt"

base="[server]
listen = [\"127.0.0.27:5300\"]
state_dir = \"$work/state\"
workers = 1
[[zone]]
name = \"no-paladar.com.br\"
file = \"$zones/db.no-paladar.com.br\"
[[zone]]
name = \"0.168.192.in-addr.arpa\"
file = \"$zones/db.0.168.192.in-addr.arpa\"
[[zone]]
name = \"bench.test\"
file = \"$zones/db.bench.test\"
[metrics]
listen = \"127.0.0.27:9153\"
[log]
level = \"warn\""
echo "$base" > "$work/plain.toml"
cat > "$work/churn.toml" <<EOT
$base
[[check]]
name = "master"
http = "http://127.0.0.108:18080/"
interval = "200ms"
timeout = "100ms"
fall = 1
rise = 1
[[check]]
name = "webserver"
tcp = "127.0.0.108:18080"
interval = "200ms"
timeout = "100ms"
[[failover]]
name = "no-paladar.com.br."
type = "A"
mode = "all-healthy"
pool = [ { address = "192.168.0.108", check = "master" }, { address = "192.168.0.110", check = "webserver" } ]
ttl = "30s"
[[failover]]
name = "www.no-paladar.com.br."
type = "CNAME"
mode = "first-healthy"
pool = [ { target = "master.no-paladar.com.br.", check = "master" }, { target = "webserver.no-paladar.com.br.", check = "webserver" } ]
ttl = "30s"
EOT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
run() { # config -> "us/q qps lost servfail transitions"
    taskset -c 1 "$repo/target/release/vigia" serve --config "$work/$1.toml" 2>"$work/$1.log" & local p=$!
    until dig +short +time=1 +tries=1 @127.0.0.27 -p 5300 no-paladar.com.br SOA 2>/dev/null | grep -q webmaster; do sleep 0.05; done
    local t0; t0=$(cpu_ticks $p)
    taskset -c 0 dnsperf -s 127.0.0.27 -p 5300 -d "$work/q.txt" -l "$DURATION" -c 1 -q 100 > "$work/dp.txt" 2>&1
    local t1; t1=$(cpu_ticks $p)
    local events; events=$(curl -s 127.0.0.27:9153/metrics | awk '/^vigia_failover_events_total/ {s += $2} END {print s + 0}')
    kill $p; wait $p 2>/dev/null || true
    local done qps lost sf hz
    hz=$(getconf CLK_TCK)
    done=$(awk '/Queries completed/ {print $3}' "$work/dp.txt")
    qps=$(awk '/Queries per second/ {printf "%d", $4}' "$work/dp.txt")
    lost=$(awk '/Queries lost/ {print $3}' "$work/dp.txt")
    sf=$(awk '/SERVFAIL/ {print $2}' "$work/dp.txt"); sf=${sf:-0}
    echo "$(echo "scale=2; ($t1 - $t0) * 1000000 / $hz / $done" | bc) $qps $lost $sf $events"
}
echo "| round | config | srv us/q | QPS | lost | SERVFAIL | failover events |"
echo "|---|---|---:|---:|---:|---:|---:|"
for r in $(seq 1 "$ROUNDS"); do
    for c in plain churn; do
        read -r usq qps lost sf ev <<<"$(run $c)"
        echo "| $r | $c | $usq | $qps | $lost | $sf | $ev |"
    done
done
