#!/usr/bin/env bash
# Health transition to signed answer, end to end (issue 14: "a failover of
# the site zone is signed and served within 50 ms of the health
# transition"). Two small Python web servers play the site's `master`
# (127.0.0.108) and `webserver` (127.0.0.110); vigia (release build) serves
# the site's zones from zones/ on 127.0.0.109, both signed (dnssec = true,
# one ECDSA P-256 CSK each, made by `vigia dnssec keygen`), with the rules
# of config.toml (apex A all-healthy / serve-all, www CNAME first-healthy)
# and the fastest check profile (100ms/100ms/1/1).
#
# A probe (Python, raw UDP socket, standard library only) asks
# `www.no-paladar.com.br A` with EDNS DO=1 every PROBE_US microseconds
# (default 1000) for the whole run and notes the wall-clock time of the
# first answer with a new CNAME target AND an RRSIG covering that CNAME in
# ANSWER; every answer without that RRSIG, and every lost or failed query,
# is counted (both must stay 0).
#
# The health transition instant t0 comes from vigia's own log (same clock):
# the check's `probe` line (debug, vigia::health::registry) that flipped the
# state is stamped when the state machine changed; the `health transition`
# line (info) when the rebuild of the snapshot starts, and `zone signed`
# when the re-signing ends. Reported, in ms (min / median / max):
#   transition to signed answer   the figure: the first signed new answer
#                                 - the probe line that flipped the check
#   transition to rebuild         the channel and the build thread
#   rebuild to zone signed        the rules' answers written, re-signing
#   zone signed to answer seen    snapshot built, state directory written,
#                                 swap, and up to one probe period
#   probe resolution              the new answer - the sending of the last
#                                 query answered with the old target
#
# Each run: a random delay, master stopped (listener closed) -> www moves to
# webserver, a random delay, master back -> www moves back. RUNS runs
# (default 10) per configuration:
#   site  the site's two zones, signed;
#   big   the same plus ../shared/bench/zones/db.bench.test (100k records)
#         signed, so the failover happens with a large signed zone loaded.
# After the first failover of each configuration the new answer is
# validated: `delv` with the zone's DS as its only trust anchor, and
# `dnssec-verify -z` on an AXFR of the zone.
#
#   benches/dnssec_failover.sh                     # both configurations
#   RUNS=20 CONFIGS=site benches/dnssec_failover.sh
#   OUT=/tmp/sigfo benches/dnssec_failover.sh      # keep configs, logs, probe files
#   STATE_BASE=/dev/shm benches/dnssec_failover.sh # vigia's state_dir on tmpfs
#   DISK_LOAD=1 benches/dnssec_failover.sh         # a busy disk meanwhile
#
# vigia serves a failover's serial first (state.json reserves it) and
# writes it to its state directory after (state.json renamed into place,
# fsync of the file and the directory). The state directory is the temp
# dir's file system by default, as /var/lib/vigia on the site; STATE_BASE
# puts it elsewhere (tmpfs: no disk in the path). DISK_LOAD=1 writes 256
# MiB files with fsync in a loop beside it for the whole run, the busy disk
# of a machine shared with other work; vigia's debug line `snapshot
# served` says how long writing the state took before the swap.
#
# Only loopback addresses are used. Needs python3, dig and delv
# (bind9-dnsutils), dnssec-verify (bind9-utils) and cargo. Everything it
# starts is stopped by PID on exit, and its temp dir removed.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
shared=$repo/../shared/bench

RUNS=${RUNS:-10}
CONFIGS=${CONFIGS:-"site big"}
PROBE_US=${PROBE_US:-1000}
DNS_IP=127.0.0.109
DNS_PORT=${DNS_PORT:-15319}
METRICS_PORT=${METRICS_PORT:-19119}
MASTER_IP=127.0.0.108
WEB_IP=127.0.0.110
BACKEND_PORT=${BACKEND_PORT:-18118}
ZONE=no-paladar.com.br
REVERSE=0.168.192.in-addr.arpa

for tool in python3 dig delv dnssec-verify cargo; do
    command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }
done

if [ -n "${OUT:-}" ]; then
    work=$OUT
    mkdir -p "$work"
else
    work=$(mktemp -d /tmp/vigia-dnssec-failover.XXXXXX)
fi

# vigia's state directories: in the temp dir, or in one of STATE_BASE's.
if [ -n "${STATE_BASE:-}" ]; then
    states=$(mktemp -d "$STATE_BASE/vigia-dnssec-failover-state.XXXXXX")
else
    states=$work
fi

declare -A PID=()
if [ -n "${DISK_LOAD:-}" ]; then
    # A session of its own (not a group leader here, so setsid does not
    # fork: $! leads it), so that the loop and its dd are killed at once.
    # shellcheck disable=SC2016 # expanded by the inner shell
    setsid bash -c 'while :; do dd if=/dev/zero of="$1" bs=1M count=256 conv=fsync status=none; done' \
        disk-load "$states/disk-load" &
    LOAD=$!
fi
# shellcheck disable=SC2317 # run by the trap
cleanup() {
    [ -z "${LOAD:-}" ] || kill -9 -- "-$LOAD" 2>/dev/null || true
    for k in "${!PID[@]}"; do
        kill -9 "${PID[$k]}" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -f "$states/disk-load"
    [ -n "${OUT:-}" ] || rm -rf "$work"
    [ -z "${STATE_BASE:-}" ] || rm -rf "$states"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
# Backends: the same as benches/failover.sh, GET / answers as the mode file
# says; here only `ok` and `stopped` (listener closed) are used.
# (benches/backend.py, shared with failover.sh)
# ---------------------------------------------------------------------------
# The probe: www A with DO=1 over UDP, one query outstanding, every PROBE_US.
# Writes to OUTFILE (flushed line by line):
#   change T_US TARGET SERIAL PREV_US
#                               first answer with a new CNAME target and its
#                               RRSIG (SERIAL: the SOA asked right after;
#                               PREV_US: when the query before it was sent,
#                               answered with the old target: the new
#                               answer became available between the two)
#   unsigned T_US TARGET        an answer without an RRSIG over the CNAME
#   fail T_US REASON            no answer within 1 s, or not a good answer
#   total QUERIES SIGNED UNSIGNED FAILED   when stopped (SIGTERM)
cat >"$work/probe.py" <<'PY'
"""DNSSEC failover probe. Usage: probe.py IP PORT QNAME INTERVAL_US OUTFILE."""
import os
import signal
import socket
import struct
import sys
import time

ip, port, qname = sys.argv[1], int(sys.argv[2]), sys.argv[3].rstrip(".").lower()
interval = int(sys.argv[4]) / 1e6
out = open(sys.argv[5], "a", buffering=1)

A, CNAME, SOA, OPT, RRSIG = 1, 5, 6, 41, 46


def wire_name(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"


def query(qid, name, qtype, do):
    # Header: ID, flags 0 (no RD), QD=1, AN=0, NS=0, AR=1 (the OPT record).
    q = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 1)
    q += wire_name(name) + struct.pack("!HH", qtype, 1)
    # OPT: root owner, type 41, class = UDP size 1232, TTL = ext-rcode 0,
    # version 0, flags (DO = 0x8000), no options.
    q += b"\0" + struct.pack("!HHIH", OPT, 1232, 0x8000 if do else 0, 0)
    return q


def read_name(msg, off):
    """(name, offset after it); follows compression pointers."""
    labels, end, hops = [], None, 0
    while True:
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if end is None:
                end = off + 2
            off = ((n & 0x3F) << 8) | msg[off + 1]
            hops += 1
            if hops > 64:
                raise ValueError("compression loop")
            continue
        off += 1
        if n == 0:
            return ".".join(labels).lower(), (end if end is not None else off)
        labels.append(msg[off:off + n].decode("ascii", "replace"))
        off += n


def parse(msg, qid):
    """The answer section as [(owner, type, rdata offset, rdata length)]."""
    rid, flags, qd, an = struct.unpack("!HHHH", msg[:8])
    if rid != qid:
        raise ValueError("wrong id")
    if flags & 0x0200:
        raise ValueError("truncated")
    if flags & 0x000F:
        raise ValueError("rcode %d" % (flags & 0x000F))
    off = 12
    for _ in range(qd):
        _, off = read_name(msg, off)
        off += 4
    rrs = []
    for _ in range(an):
        owner, off = read_name(msg, off)
        rtype, _, _, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
        off += 10
        rrs.append((owner, rtype, off, rdlen))
        off += rdlen
    return rrs


stop = False


def on_term(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.connect((ip, port))
sock.settimeout(1.0)
qid = int.from_bytes(os.urandom(2), "big")


def ask(name, qtype, do):
    """(receive time in us, answer RRs, message) or raises."""
    global qid, sent
    qid = (qid + 1) & 0xFFFF
    sent = int(time.time() * 1e6)
    sock.send(query(qid, name, qtype, do))
    while True:
        msg = sock.recv(4096)
        t = int(time.time() * 1e6)
        if msg[:2] == struct.pack("!H", qid):  # a late answer: skip it
            return t, parse(msg, qid), msg


def serial():
    try:
        _, rrs, msg = ask(qname.split(".", 1)[1], SOA, False)
        for owner, rtype, off, rdlen in rrs:
            if rtype == SOA:
                _, o = read_name(msg, off)
                _, o = read_name(msg, o)
                return struct.unpack("!I", msg[o:o + 4])[0]
    except (OSError, ValueError, IndexError, struct.error):
        pass
    return "?"


total = signed = unsigned = failed = 0
last = None
sent = prev_sent = 0
next_at = time.monotonic()
while not stop:
    total += 1
    prev_sent = sent
    try:
        t, rrs, msg = ask(qname, A, True)
        target = None
        covered = False
        for owner, rtype, off, rdlen in rrs:
            if owner == qname and rtype == CNAME:
                target, _ = read_name(msg, off)
            elif owner == qname and rtype == RRSIG and rdlen >= 2:
                covered = covered or struct.unpack("!H", msg[off:off + 2])[0] == CNAME
        if target is None:
            failed += 1
            out.write("fail %d no-cname\n" % t)
        elif not covered:
            unsigned += 1
            out.write("unsigned %d %s\n" % (t, target))
        else:
            signed += 1
            if target != last:
                last = target
                out.write("change %d %s %s %d\n" % (t, target, serial(), prev_sent))
    except (OSError, ValueError, IndexError, struct.error) as e:
        failed += 1
        out.write("fail %d %s\n" % (int(time.time() * 1e6), type(e).__name__))
    next_at += interval
    pause = next_at - time.monotonic()
    if pause > 0:
        time.sleep(pause)
    else:
        next_at = time.monotonic()
out.write("total %d %d %d %d\n" % (total, signed, unsigned, failed))
PY

# ---------------------------------------------------------------------------
# Analysis of one configuration: vigia's log and the probe's file.
cat >"$work/analyse.py" <<'PY'
"""Usage: analyse.py VIGIA_LOG PROBE_FILE LABEL. Prints one result line per
failover on stderr, and on stdout: LABEL down|back min median max (ms) for
each measure, then the checks."""
import calendar
import datetime
import re
import statistics
import sys

log, probe, label = sys.argv[1:4]


def us(stamp):
    d = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
    return calendar.timegm(d.utctimetuple()) * 1_000_000 + d.microsecond


# vigia's log: the master check's probe lines, its transitions, and the
# signing of the site zone that follows each (stamped when signing ended).
events = []
last_probe = None
for line in open(log):
    m = re.match(r"(\S+Z)\s+\w+\s+\S+ (.*)$", line)
    if not m:
        continue
    t, rest = us(m.group(1)), m.group(2)
    if rest.startswith("probe ") and "check=master" in rest:
        last_probe = t
    elif rest.startswith("health transition") and "check=master" in rest:
        to = re.search(r"\bto=\"?(\w+)", rest).group(1)
        events.append({"to": to, "probe": last_probe, "rebuild": t, "signed": None,
                       "built": None, "served": None, "state": None})
    elif rest.startswith("zone signed") and "zone=no-paladar.com.br." in rest and events:
        if events[-1]["signed"] is None:
            events[-1]["signed"] = t
    elif rest.startswith("snapshot built") and "zone=no-paladar.com.br." in rest and events:
        if events[-1]["built"] is None:
            events[-1]["built"] = t
    elif rest.startswith("snapshot served") and events and events[-1]["built"] is not None:
        if events[-1]["served"] is None:
            events[-1]["served"] = t
            events[-1]["state"] = int(re.search(r"state_us=(\d+)", rest).group(1))

changes, unsigned, failed, total = [], 0, 0, None
for line in open(probe):
    f = line.split()
    if f[0] == "change":
        changes.append((int(f[1]), f[2], f[3], int(f[4])))
    elif f[0] == "unsigned":
        unsigned += 1
    elif f[0] == "fail":
        failed += 1
    elif f[0] == "total":
        total = [int(x) for x in f[1:]]

# Per direction, in ms: the whole (probe -> answer), and its three parts:
# probe -> rebuild starts, rebuild -> zone signed, zone signed -> answer
# seen (the snapshot built, the state directory written, the swap, and
# up to one probe period); and the probe's resolution: from sending the
# last query answered with the old target to the new answer.
# "serve" is cut in three by vigia's debug lines: the snapshot built, the
# state directory written (its own figure), and the new answer seen after
# the swap (the probe's period and the query path).
MEASURES = ("total", "queue", "sign", "serve", "resolution", "build", "state", "visible")
res = {k: {m: [] for m in MEASURES} for k in ("down", "back")}
serials, missing = [], 0
for i, e in enumerate(events):
    kind = "down" if e["to"] == "down" else "back"
    want = ("webserver." if kind == "down" else "master.") + "no-paladar.com.br"
    seen = next((c for c in changes if c[0] > e["rebuild"] and c[1] == want), None)
    if seen is None or None in (e["probe"], e["signed"], e["built"], e["served"]):
        missing += 1
        continue
    parts = {
        "total": seen[0] - e["probe"],
        "queue": e["rebuild"] - e["probe"],
        "sign": e["signed"] - e["rebuild"],
        "serve": seen[0] - e["signed"],
        "resolution": seen[0] - seen[3],
        "build": e["built"] - e["signed"],
        "state": e["state"],
        "visible": seen[0] - e["served"],
    }
    for m in MEASURES:
        res[kind][m].append(parts[m] / 1000)
    serials.append(seen[2])
    print("  %s %2d %-4s: signed %-9s answer %6.2f ms after the transition (rebuild after %.2f, signed after %.2f more, seen %.2f later; probe resolution %.2f; of which built %.2f, state written %.2f, seen after swap %.2f), serial %s"
          % (label, i // 2 + 1, kind, want.split(".")[0], *(parts[m] / 1000 for m in MEASURES), seen[2]), file=sys.stderr)

for kind in ("down", "back"):
    for m in MEASURES:
        v = res[kind][m]
        if v:
            print("%s %s %s %.2f %.2f %.2f %d" % (label, kind, m, min(v), statistics.median(v), max(v), len(v)))
# Serial: one step per failover.
steps = sum(1 for x, y in zip(serials, serials[1:]) if x.isdigit() and y.isdigit() and int(y) == int(x) + 1)
print("%s serials %s %s %d/%d" % (label, serials[0] if serials else "?", serials[-1] if serials else "?", steps, max(len(serials) - 1, 0)))
print("%s checks %d %d %d %d %d" % (label, len(events), missing, total[0] if total else -1, unsigned, failed))
PY

# backend_start, set_mode, site_rules
# shellcheck source=benches/failover-lib.sh
source "$here/failover-lib.sh"

stop_pid() { # NAME: SIGTERM, then wait for it
    kill "${PID[$1]}" 2>/dev/null || true
    wait "${PID[$1]}" 2>/dev/null || true
    unset "PID[$1]"
}

# ---------------------------------------------------------------------------
# vigia

# config LABEL: the site's zones signed (plus bench.test for `big`), the
# site's rules, the fastest check profile.
config() {
    cat <<EOF
[server]
listen = ["$DNS_IP:$DNS_PORT"]
state_dir = "$states/state-$1"

[[zone]]
name = "$ZONE"
file = "$repo/zones/db.$ZONE"
dnssec = true
allow_transfer = ["127.0.0.0/8"]

[[zone]]
name = "$REVERSE"
file = "$repo/zones/db.$REVERSE"
dnssec = true
EOF
    if [ "$1" = big ]; then
        cat <<EOF

[[zone]]
name = "bench.test"
file = "$shared/zones/db.bench.test"
dnssec = true
EOF
    fi
    cat <<EOF

[dnssec]
key_dir = "$work/keys-$1"
# bench.test's SOA expire is 14 days: the refresh must outlast it.
validity = "30d"
refresh = "15d"

[metrics]
listen = "$DNS_IP:$METRICS_PORT"

[log]
# The check's probe lines (debug) give the instant a check changes state.
level = "info,vigia::health::registry=debug,vigia::app::build=debug"
EOF
    local name ip
    for name in master webserver; do
        ip=$MASTER_IP
        [ $name = webserver ] && ip=$WEB_IP
        cat <<EOF

[[check]]
name = "$name"
http = "http://$ip:$BACKEND_PORT/"
interval = "100ms"
timeout = "100ms"
fall = 1
rise = 1
expect_status = "200-399"
EOF
    done
    site_rules
}

# vigia_start LABEL: keys, config, start; waits until the last zone answers
# signed (the 100k zone takes seconds to sign at start).
vigia_start() {
    local cfg=$work/vigia-$1.toml z zones="$ZONE $REVERSE" last=$ZONE
    config "$1" >"$cfg"
    [ "$1" = big ] && { zones+=" bench.test"; last=bench.test; }
    for z in $zones; do
        "$vigia" dnssec keygen --config "$cfg" "$z" >/dev/null
    done
    "$vigia" serve --config "$cfg" 2>"$work/vigia-$1.log" &
    PID[vigia]=$!
    wait_started vigia "$work/vigia-$1.log" 300 soa_signed "$last"
}

# soa_signed ZONE: vigia answers ZONE's SOA with its RRSIG.
# shellcheck disable=SC2317 # called through wait_started
soa_signed() {
    dig +dnssec +time=1 +tries=1 -p "$DNS_PORT" @"$DNS_IP" "$1" SOA 2>/dev/null | grep -q 'RRSIG.*SOA'
}

# wait_change FILE TARGET N: until the probe has seen www move to TARGET,
# signed, N times (10 s deadline).
wait_change() {
    local deadline=$((${EPOCHREALTIME/./} + 10000000)) n
    while :; do
        n=$(grep -c "^change [0-9]* $2\.$ZONE " "$1" || true)
        ((n >= $3)) && return 0
        if ((${EPOCHREALTIME/./} > deadline)); then
            echo "www never answered $2 (signed) a ${3}th time within 10 s" >&2
            tail -5 "$1" >&2
            exit 1
        fi
        sleep 0.005
    done
}

# A random delay in [0, 300) ms: transitions land anywhere in the probe cycle.
random_delay() {
    local r=$((RANDOM % 300))
    sleep "$(printf '0.%03d' "$r")"
}

# validate LABEL: the failover answer through delv (the zone's DS as the only
# trust anchor) and dnssec-verify -z on an AXFR of the zone. Sets VALID.
validate() {
    local ds anchors=$work/anchors-$1.conf axfr=$work/$ZONE.$1.axfr text
    ds=$("$vigia" dnssec ds --config "$work/vigia-$1.toml" "$ZONE")
    {
        echo "trust-anchors {"
        awk '{ printf "  %s static-ds %s %s %s \"%s\";\n", $1, $4, $5, $6, $7 }' <<<"$ds"
        echo "};"
    } >"$anchors"
    text=$(delv @"$DNS_IP" -p "$DNS_PORT" -a "$anchors" +root="$ZONE" "www.$ZONE" A 2>&1 || true)
    if grep -q "fully validated" <<<"$text" && grep -q "CNAME.*webserver\.$ZONE\." <<<"$text"; then
        VALID="delv: fully validated"
    else
        VALID="delv FAILED"
        printf '%s\n' "$text" >&2
    fi
    dig -p "$DNS_PORT" @"$DNS_IP" "$ZONE" AXFR +nocmd +nostats +nocomments >"$axfr"
    if grep -q "^www\.$ZONE\..*CNAME.*webserver" "$axfr" &&
        dnssec-verify -z -o "$ZONE" "$axfr" >"$work/verify-$1.txt" 2>&1; then
        VALID+=", dnssec-verify -z on AXFR: ok"
    else
        VALID+=", dnssec-verify on AXFR FAILED"
        cat "$work/verify-$1.txt" >&2
    fi
    echo "  $1: $VALID" >&2
}

# ---------------------------------------------------------------------------
# One configuration

RESULTS=""
declare -A VALIDATED=()

measure_config() {
    local label=$1 probe=$work/probe-$1.txt run
    set_mode master ok
    set_mode webserver ok
    vigia_start "$label"
    : >"$probe"
    python3 "$work/probe.py" "$DNS_IP" "$DNS_PORT" "www.$ZONE" "$PROBE_US" "$probe" &
    PID[probe]=$!
    wait_change "$probe" master 1
    for run in $(seq "$RUNS"); do
        random_delay
        set_mode master stopped
        wait_change "$probe" webserver "$run"
        if ((run == 1)); then
            validate "$label"
            VALIDATED[$label]=$VALID
        fi
        random_delay
        set_mode master ok
        wait_change "$probe" master $((run + 1))
    done
    sleep 0.1 # the last answers
    stop_pid probe
    stop_pid vigia
    RESULTS+=$(python3 "$work/analyse.py" "$work/vigia-$label.log" "$probe" "$label")$'\n'
}

# ---------------------------------------------------------------------------

echo "building vigia (release)" >&2
cargo build --release --quiet --manifest-path "$repo/Cargo.toml"
vigia=${CARGO_TARGET_DIR:-$repo/target}/release/vigia
backend_start master "$MASTER_IP"
backend_start webserver "$WEB_IP"
started=$SECONDS
for c in $CONFIGS; do
    [ "$c" != big ] || [ -f "$shared/zones/db.bench.test" ] || {
        echo "!!! SKIPPED big: $shared/zones/db.bench.test missing" >&2
        continue
    }
    echo "configuration $c: $RUNS failovers and returns" >&2
    measure_config "$c"
done

# A row per configuration and direction: "min / median / max" in ms.
cell() { # LABEL KIND WHAT
    awk -v l="$1" -v k="$2" -v w="$3" '$1 == l && $2 == k && $3 == w { printf "%.2f / %.2f / %.2f", $4, $5, $6; f = 1 }
        END { if (!f) printf "-" }' <<<"$RESULTS"
}

echo
echo "vigia $("$vigia" --version | cut -d' ' -f2), $(nproc) CPUs, $RUNS runs per configuration, probe every $PROBE_US us (UDP, DO=1)${DISK_LOAD:+, disk load beside the state directory}; $((SECONDS - started)) s"
echo
echo "ms, min / median / max:"
echo
echo "| zones | direction | transition to signed answer | transition to rebuild | rebuild to zone signed | zone signed to answer seen | probe resolution |"
echo "|---|---|---|---|---|---|---|"
rows=""
for c in $CONFIGS; do
    grep -q "^$c " <<<"$RESULTS" || continue
    zones="site (2 zones)"
    [ "$c" = big ] && zones="site + bench.test (100k)"
    for k in down back; do
        echo "| $zones | $k | $(cell "$c" $k total) | $(cell "$c" $k queue) | $(cell "$c" $k sign) | $(cell "$c" $k serve) | $(cell "$c" $k resolution) |"
        rows+="| $zones | $k | $(cell "$c" $k build) | $(cell "$c" $k state) | $(cell "$c" $k visible) |"$'\n'
    done
done
echo
echo "zone signed to answer seen, in parts (ms):"
echo
echo "| zones | direction | snapshot built | state directory written | answer seen after the swap |"
echo "|---|---|---|---|---|"
printf "%s" "$rows"
echo
status=0
for c in $CONFIGS; do
    grep -q "^$c " <<<"$RESULTS" || continue
    read -r _ _ from to steps <<<"$(grep "^$c serials" <<<"$RESULTS")"
    read -r _ _ transitions missing queries unsigned failed <<<"$(grep "^$c checks" <<<"$RESULTS")"
    echo "$c: $transitions transitions of master (expected $((RUNS * 2))), $missing without a signed answer;" \
        "serial $from -> $to seen, one step per failover in $steps;" \
        "$queries probe queries, $unsigned answers without the CNAME's RRSIG, $failed failed; ${VALIDATED[$c]}"
    if ((transitions != RUNS * 2 || missing != 0 || unsigned != 0 || failed != 0)) ||
        [[ ${VALIDATED[$c]} == *FAILED* ]]; then
        status=1
    fi
done
exit $status
