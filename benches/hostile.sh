#!/usr/bin/env bash
# Figures of the README's "Reliability" section: what hostile input costs a
# running vigia (release build) on loopback, with the default limits.
#
# - reload of an exponential $INCLUDE tree (20 files, each including the
#   next twice, a $GENERATE 1-65536 leaf), of $INCLUDE /dev/zero, of a FIFO
#   and of /proc/self/environ: seconds to the error, peak RSS (VmHWM) and
#   RSS after, the old zone still served;
# - vigia check on the tree: seconds and peak RSS (GNU time);
# - 1000 TCP connections that send a 2-octet length prefix (65535) and
#   nothing more: RSS before, while they are held, and after they close.
#
# Usage: benches/hostile.sh [path/to/vigia]   (default target/release/vigia,
# or $CARGO_TARGET_DIR/release/vigia). Only 127.0.0.1 is used.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-${CARGO_TARGET_DIR:-target}/release/vigia}
[ -x "$bin" ] || { echo "no $bin: cargo build --release first" >&2; exit 1; }

work=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

port=$((20000 + RANDOM % 20000))
mport=$((port + 1))
zone=$work/db.hostile.test
good() {
    cat >"$zone" <<EOF
\$TTL 300
@   SOA ns.hostile.test. hostmaster.hostile.test. $1 3600 600 86400 300
@   NS  ns
ns  A   192.0.2.53
www A   192.0.2.80
EOF
}
cat >"$work/vigia.toml" <<EOF
[server]
listen = ["127.0.0.1:$port"]
tcp_max_connections = 1500
tcp_max_per_client = 1500
tcp_idle_timeout = "60s"
tcp_read_timeout = "60s"

[[zone]]
name = "hostile.test"
file = "$zone"

[metrics]
listen = "127.0.0.1:$mport"

[control]
socket = "$work/control.sock"
EOF

kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }

start() {
    good 1
    ulimit -n 4096
    "$bin" serve --config "$work/vigia.toml" 2>"$work/log" &
    pid=$!
    for _ in $(seq 100); do
        dig +short +time=1 +tries=1 -p "$port" @127.0.0.1 hostile.test SOA 2>/dev/null | grep -q hostmaster && return
        sleep 0.1
    done
    echo "vigia did not start" >&2
    cat "$work/log" >&2
    exit 1
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=; }

# One hostile reload on a fresh server: its figures in one line.
reload_case() {
    local what=$1 text=$2
    start
    local rss0 t0 t1 body served
    rss0=$(kib "$pid" VmRSS)
    printf '%s' "$text" >"$zone"
    t0=$(date +%s.%N)
    body=$(curl -s -m 120 --unix-socket "$work/control.sock" -X POST http://localhost/reload)
    t1=$(date +%s.%N)
    served=$(dig +short -p "$port" @127.0.0.1 www.hostile.test A)
    printf '%-22s error after %6.3f s  RSS start %6d KiB  peak %7d KiB  after %7d KiB  still served: %s\n' \
        "$what" "$(echo "$t1 - $t0" | bc)" "$rss0" "$(kib "$pid" VmHWM)" "$(kib "$pid" VmRSS)" "$served"
    echo "    ${body:0:200}"
    stop
}

head=$'$TTL 300\n@ SOA ns.hostile.test. hostmaster.hostile.test. 2 3600 600 86400 300\n@ NS ns\nns A 192.0.2.53\nwww A 192.0.2.81\n'
echo '$GENERATE 1-65536 h$ A 192.0.2.1' >"$work/leaf.db"
for i in $(seq 1 19); do
    next=$work/t$((i + 1)).db
    [ "$i" = 19 ] && next=$work/leaf.db
    printf '$INCLUDE %s\n$INCLUDE %s\n' "$next" "$next" >"$work/t$i.db"
done
tree="$head\$INCLUDE $work/t1.db"$'\n'"\$INCLUDE $work/t1.db"$'\n'
mkfifo "$work/fifo"

reload_case "include tree" "$tree"
reload_case "\$INCLUDE /dev/zero" "$head\$INCLUDE /dev/zero"$'\n'
reload_case "\$INCLUDE FIFO" "$head\$INCLUDE $work/fifo"$'\n'
reload_case "/proc/self/environ" "$head\$INCLUDE /proc/self/environ"$'\n'

printf '%s' "$tree" >"$zone"
/usr/bin/time -f 'vigia check, include tree: exit %x after %e s, peak RSS %M KiB' \
    "$bin" check --config "$work/vigia.toml" >/dev/null 2>"$work/check.err" || true
tail -n 1 "$work/check.err"
head -c 200 "$work/check.err"; echo

# 1000 length-prefix-only connections.
start
before=$(kib "$pid" VmRSS)
python3 - "$port" "$pid" <<'EOF' &
import socket, sys, time
port = int(sys.argv[1])
held = []
for i in range(1000):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"\xff\xff")
    held.append(s)
time.sleep(3)
for s in held:
    s.close()
EOF
clients=$!
sleep 2
during=$(kib "$pid" VmRSS)
wait "$clients"
sleep 1
after=$(kib "$pid" VmRSS)
printf '1000 length-prefix-only TCP connections: RSS before %d KiB, held %d KiB (+%d KiB), 1 s after closing %d KiB\n' \
    "$before" "$during" "$((during - before))" "$after"
stop
