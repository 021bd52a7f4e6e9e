#!/usr/bin/env bash
# Issue 6 point 6: soak. dnsperf loads vigia at a fixed rate (default 80 % of
# the saturating rate measured first) for DURATION seconds while the primary
# web server flips between healthy and HTTP 500 every FLIP seconds. A poller
# asks for www every 20 ms and checks that no answer names the primary while
# it has been down for longer than the detection window; RSS is sampled every
# 10 s. Reports SERVFAILs, lost queries, stale answers and memory.
#
#   benches/soak.sh                     # 10 minutes
#   DURATION=60 benches/soak.sh         # a short run
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
queries=$repo/../shared/bench/queries/nopaladar.txt
DURATION=${DURATION:-600}
FLIP=${FLIP:-5}
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
cargo build --release --manifest-path "$repo/Cargo.toml" >/dev/null 2>&1

# Backends: master flips every $FLIP s (state written to a file with the
# time of each change), webserver is always healthy.
cat > "$work/backend.py" <<PY
import http.server, sys, time, threading
addr, flip, log = sys.argv[1], float(sys.argv[2]), sys.argv[3]
start = time.time()
def healthy():
    return flip == 0 or int((time.time() - start) / flip) % 2 == 0
if flip:
    def record():
        last = None
        while True:
            h = healthy()
            if h != last:
                with open(log, "a") as f: f.write(f"{time.time():.3f} {'up' if h else 'down'}\n")
                last = h
            time.sleep(0.005)
    threading.Thread(target=record, daemon=True).start()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 200 if healthy() else 500
        self.send_response(code); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer((addr, 18081), H).serve_forever()
PY
taskset -c 0 python3 "$work/backend.py" 127.0.0.108 "$FLIP" "$work/flips.log" & pids+=($!)
taskset -c 0 python3 "$work/backend.py" 127.0.0.110 0 /dev/null & pids+=($!)

cat > "$work/vigia.toml" <<EOT
[server]
listen = ["127.0.0.28:5300"]
state_dir = "$work/state"
workers = 1
[[zone]]
name = "no-paladar.com.br"
file = "$repo/zones/db.no-paladar.com.br"
[[zone]]
name = "0.168.192.in-addr.arpa"
file = "$repo/zones/db.0.168.192.in-addr.arpa"
[metrics]
listen = "127.0.0.28:9153"
[log]
level = "warn"
[[check]]
name = "master"
http = "http://127.0.0.108:18081/"
interval = "200ms"
timeout = "150ms"
fall = 2
rise = 2
[[check]]
name = "webserver"
http = "http://127.0.0.110:18081/"
interval = "200ms"
timeout = "150ms"
fall = 2
rise = 2
[[failover]]
name = "www.no-paladar.com.br."
type = "CNAME"
mode = "first-healthy"
pool = [ { target = "master.no-paladar.com.br.", check = "master" }, { target = "webserver.no-paladar.com.br.", check = "webserver" } ]
ttl = "30s"
EOT
taskset -c 1 "$repo/target/release/vigia" serve --config "$work/vigia.toml" 2>"$work/vigia.log" & vpid=$!; pids+=($vpid)
until dig +short +time=1 +tries=1 @127.0.0.28 -p 5300 no-paladar.com.br SOA 2>/dev/null | grep -q webmaster; do sleep 0.05; done
grep -v '^;' "$queries" > "$work/q.txt"

# Saturating rate first (10 s), then 80 % of it.
taskset -c 0 dnsperf -s 127.0.0.28 -p 5300 -d "$work/q.txt" -l 10 -c 1 -q 100 > "$work/max.txt" 2>&1
max=$(awk '/Queries per second/ {printf "%d", $4}' "$work/max.txt")
rate=${RATE:-$((max * 8 / 10))}
echo "saturating rate $max qps; soak at $rate qps for $DURATION s, primary flipping every $FLIP s"

# Poller: www every 20 ms; each answer with its time.
cat > "$work/poll.py" <<'PY'
import socket, struct, sys, time, random
end = time.time() + float(sys.argv[1])
q = lambda i: struct.pack(">HHHHHH", i, 0x0100, 1, 0, 0, 0) + b"\x03www\x0ano-paladar\x03com\x02br\x00" + struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1.0)
i = 0
while time.time() < end:
    i = (i + 1) & 0xffff
    t = time.time(); s.sendto(q(i), ("127.0.0.28", 5300))
    try:
        data = s.recv(4096)
        rcode = data[3] & 15
        target = "master" if b"\x06master" in data else ("webserver" if b"\x09webserver" in data else "?")
        print(f"{t:.3f} {rcode} {target}", flush=True)
    except socket.timeout:
        print(f"{t:.3f} timeout -", flush=True)
    time.sleep(0.02)
PY
taskset -c 0 python3 "$work/poll.py" "$DURATION" > "$work/poll.txt" & poller=$!; pids+=($poller)
( while kill -0 $vpid 2>/dev/null; do echo "$(date +%s) $(ps -o rss= -p $vpid)"; sleep 10; done ) > "$work/rss.txt" & pids+=($!)
taskset -c 0 dnsperf -s 127.0.0.28 -p 5300 -d "$work/q.txt" -l "$DURATION" -c 1 -q 100 -Q "$rate" > "$work/soak.txt" 2>&1
wait $poller || true

# Stale answers: 'master' while the primary had been down for longer than
# the detection window (2 failures x 200 ms + 150 ms timeout + 10 % jitter,
# plus 250 ms margin) = 1 s.
python3 - "$work/flips.log" "$work/poll.txt" <<'PY'
import sys, bisect
flips = [(float(t), s) for t, s in (l.split() for l in open(sys.argv[1]))]
times = [t for t, _ in flips]
stale = timeouts = servfail = total = 0
for line in open(sys.argv[2]):
    t, rcode, target = line.split(); t = float(t); total += 1
    if rcode == "timeout": timeouts += 1; continue
    if rcode == "2": servfail += 1
    i = bisect.bisect_right(times, t) - 1
    if i >= 0 and flips[i][1] == "down" and t - flips[i][0] > 1.0 and target == "master":
        stale += 1
print(f"poller: {total} answers, {servfail} SERVFAIL, {timeouts} timeouts, {stale} stale (master while down > 1 s); {len(flips)} flips")
PY
grep -E "Queries sent|Queries completed|Queries lost|Response codes|Queries per second" "$work/soak.txt"
echo "failover events: $(curl -s 127.0.0.28:9153/metrics | awk '/^vigia_failover_events_total/ {s += $2} END {print s + 0}')"
awk 'NR==1 {first=$2} {last=$2; if ($2>max) max=$2} END {printf "RSS KiB: first %d, last %d, max %d\n", first, last, max}' "$work/rss.txt"
