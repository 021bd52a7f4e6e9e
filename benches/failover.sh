#!/usr/bin/env bash
# Failover detection and recovery times of vigia, measured from outside the
# way a client sees them: two small Python web servers play the site's
# `master` (127.0.0.108) and `webserver` (127.0.0.110), vigia (release build)
# serves the site's zones on 127.0.0.109 with health checks on both, and
# `dig` asks for `www` over UDP every 50 ms (one background dig per poll, on
# a fixed schedule: starting dig takes about as long as the period).
#
# For each settings profile (interval/timeout/fall/rise) and each fault, RUNS
# times (after a random fraction of an interval, so faults land anywhere in
# the probe cycle):
#   primary killed  kill -9 the master process; "down" = until www answers
#                   webserver; "back" = from restarting it until www answers
#                   master again;
#   hanging         master accepts and reads requests but never answers;
#   HTTP 500        master answers 500;
#   both down       both killed (primary first): time until the all-down
#                   answer (serve-all: www -> master, apex both addresses),
#                   then both answers polled for STABLE_S seconds: every poll
#                   must be answered and nothing may change.
# Prints min/median/max per measure and a summary table (medians).
#
#   benches/failover.sh                      # both profiles, 7 runs, ~2.5 min
#   RUNS=5 PROFILES="100ms/100ms/1/1" benches/failover.sh
#   OUT=/tmp/fo benches/failover.sh          # keep configs and vigia logs
#
# Only loopback addresses are used. Needs python3, dig (bind9-dnsutils) and
# cargo. Everything it starts is stopped by PID on exit.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")

RUNS=${RUNS:-7}
PROFILES=${PROFILES:-"1s/500ms/3/2 100ms/100ms/1/1"}
DNS_IP=${DNS_IP:-127.0.0.109}
DNS_PORT=${DNS_PORT:-15309}
METRICS_PORT=${METRICS_PORT:-19109}
MASTER_IP=127.0.0.108
WEB_IP=127.0.0.110
BACKEND_PORT=${BACKEND_PORT:-18108}
POLL_US=50000          # dig every 50 ms
STABLE_S=${STABLE_S:-5}
ZONE=no-paladar.com.br

for ip in "$DNS_IP" "$MASTER_IP" "$WEB_IP"; do
    [[ $ip == 127.* ]] || { echo "only loopback addresses may be used ($ip)" >&2; exit 2; }
done
for tool in python3 dig cargo; do
    command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }
done

if [ -n "${OUT:-}" ]; then
    work=$OUT
    mkdir -p "$work"
else
    work=$(mktemp -d)
fi

declare -A PID=()
cleanup() {
    for k in "${!PID[@]}"; do
        kill -9 "${PID[$k]}" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    [ -n "${OUT:-}" ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------
# Backends: GET / answers as the mode file says (ok, 500, hang, stopped).
# (benches/backend.py, shared with dnssec_failover.sh)
# backend_start, set_mode, site_rules
# shellcheck source=benches/failover-lib.sh
source "$here/failover-lib.sh"

backend_kill() {
    kill -9 "${PID[$1]}" 2>/dev/null || true
    wait "${PID[$1]}" 2>/dev/null || true
    unset "PID[$1]"
}


# ---------------------------------------------------------------------------
# vigia

vigia_start() {
    local interval=$1 timeout=$2 fall=$3 rise=$4 cfg=$work/vigia-$5.toml
    cat >"$cfg" <<EOF
[server]
listen = ["$DNS_IP:$DNS_PORT"]
state_dir = "$work/state-$5"

[[zone]]
name = "$ZONE"
file = "$repo/zones/db.$ZONE"

[[zone]]
name = "0.168.192.in-addr.arpa"
file = "$repo/zones/db.0.168.192.in-addr.arpa"

[metrics]
listen = "$DNS_IP:$METRICS_PORT"

[log]
level = "info"
EOF
    local name ip
    for name in master webserver; do
        ip=$MASTER_IP
        [ $name = webserver ] && ip=$WEB_IP
        cat >>"$cfg" <<EOF

[[check]]
name = "$name"
http = "http://$ip:$BACKEND_PORT/"
interval = "$interval"
timeout = "$timeout"
fall = $fall
rise = $rise
expect_status = "200-399"
EOF
    done
    site_rules >>"$cfg"
    "$repo/target/release/vigia" serve --config "$cfg" 2>"$work/vigia-$5.log" &
    PID[vigia]=$!
    wait_started vigia "$work/vigia-$5.log" 10 soa_answered
}

# soa_answered: vigia answers the zone's SOA.
soa_answered() {
    dig +short +time=1 +tries=1 -p "$DNS_PORT" @"$DNS_IP" "$ZONE" SOA 2>/dev/null | grep -q webmaster
}

# ---------------------------------------------------------------------------
# Polling. dig takes about as long to start as the poll period, so each poll
# is its own background dig, launched on a fixed 50 ms cadence; it writes
# "COMPLETION_US ANSWER" to its file when done. A change counts from the
# completion of the first poll that shows it: when a client has it.

FAILED_POLLS=0
POLLS=0
POLL_PIDS=()

now_us() { REPLY=${EPOCHREALTIME/./}; }

# poll_launch NAME FILE: the A answer (+short) on one line, "FAIL" if none.
poll_launch() {
    (
        out=$(dig +short +time=1 +tries=1 -p "$DNS_PORT" @"$DNS_IP" "$1" A 2>/dev/null | tr '\n' ' ') || true
        out=${out% }
        if [ -z "$out" ] || [[ $out == *";;"* ]]; then
            out=FAIL
        fi
        printf '%s %s\n' "${EPOCHREALTIME/./}" "$out" >"$2.tmp"
        mv "$2.tmp" "$2"
    ) &
    POLL_PIDS+=($!)
}

# polls_done DIR: waits for every launched poll, counts them and the failed.
polls_done() {
    wait "${POLL_PIDS[@]}" 2>/dev/null || true
    POLL_PIDS=()
    local f t ans
    for f in "$1"/r.*[0-9]; do
        read -r t ans <"$f"
        POLLS=$((POLLS + 1))
        [ "$ans" != FAIL ] || FAILED_POLLS=$((FAILED_POLLS + 1))
    done
}

# sleep_until US
sleep_until() {
    now_us
    local left=$(($1 - REPLY))
    ((left > 0)) || return 0
    sleep "$(printf '%d.%06d' $((left / 1000000)) $((left % 1000000)))"
}

seconds() { printf '%d.%06d' $(($1 / 1000000)) $(($1 % 1000000)); }

# wait_www WANT T0_US DEADLINE_S: polls www until it answers WANT...;
# REPLY = seconds from T0_US to the earliest completed poll showing it.
wait_www() {
    local want=$1 t0=$2 deadline=$(($2 + $3 * 1000000)) dir n=0 f t ans best=""
    dir=$(mktemp -d "$work/poll.XXXXXX")
    while [ -z "$best" ]; do
        poll_launch "www.$ZONE" "$dir/r.$n"
        n=$((n + 1))
        for f in "$dir"/r.*[0-9]; do
            [ -f "$f" ] || continue
            read -r t ans <"$f"
            [[ $ans != "$want"* ]] || best=$t
        done
        [ -n "$best" ] && break
        now_us
        if ((REPLY > deadline)); then
            polls_done "$dir"
            echo "www never answered $want within $3 s" >&2
            return 1
        fi
        sleep_until $((t0 + n * POLL_US))
    done
    polls_done "$dir"
    for f in "$dir"/r.*[0-9]; do
        read -r t ans <"$f"
        if [[ $ans == "$want"* ]] && ((t < best)); then
            best=$t
        fi
    done
    rm -rf "$dir"
    REPLY=$(seconds $((best - t0)))
}

# A random delay in [0, interval): faults land anywhere in the probe cycle.
random_phase() {
    local r=$((RANDOM % $1))
    sleep "$(printf '%d.%03d' $((r / 1000)) $((r % 1000)))"
}

# stats VALUES...: "min median max"
stats() {
    printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {
        m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2;
        printf "%.2f %.2f %.2f", v[1], m, v[NR] }'
}

ms_of() { # "1s" "500ms" "100ms" -> milliseconds
    case $1 in
        *ms) echo "${1%ms}" ;;
        *s) echo $((${1%s} * 1000)) ;;
        *) echo "$1" ;;
    esac
}

# ---------------------------------------------------------------------------
# One profile

declare -A SUMMARY=()
DETAIL=""

measure_profile() {
    local profile=$1
    IFS=/ read -r interval timeout fall rise <<<"$profile"
    local ims tms label=${profile//\//-}
    ims=$(ms_of "$interval")
    tms=$(ms_of "$timeout")
    # Worst case for the slowest fault: fall probes 10 % late, the last one
    # timing out; generous, only to tell slow from never.
    local deadline=$(((ims * 11 / 10 * (fall + rise + 2) + tms) / 1000 + 10))

    set_mode master ok
    set_mode webserver ok
    backend_start master "$MASTER_IP"
    backend_start webserver "$WEB_IP"
    vigia_start "$interval" "$timeout" "$fall" "$rise" "$label"
    now_us
    wait_www master "$REPLY" "$deadline" >/dev/null

    local fault run t0
    for fault in killed hang 500; do
        local downs=() backs=()
        for run in $(seq "$RUNS"); do
            random_phase "$ims"
            now_us
            t0=$REPLY
            case $fault in
                killed) backend_kill master ;;
                *) set_mode master "$fault" ;;
            esac
            wait_www webserver "$t0" "$deadline"
            downs+=("$REPLY")
            random_phase "$ims"
            # Back counts from when the restarted process listens again.
            case $fault in
                killed) set_mode master ok; backend_start master "$MASTER_IP" ;;
                *) set_mode master ok ;;
            esac
            now_us
            t0=$REPLY
            wait_www master "$t0" "$deadline"
            backs+=("$REPLY")
            printf '  %-16s %-6s run %d: down %ss, back %ss\n' "$profile" "$fault" "$run" "${downs[-1]}" "${backs[-1]}" >&2
        done
        local d b
        d=$(stats "${downs[@]}")
        b=$(stats "${backs[@]}")
        DETAIL+="| vigia, $profile | $fault | ${d// / \/ } | ${b// / \/ } |"$'\n'
        SUMMARY[$profile,$fault]="$(cut -d' ' -f2 <<<"$d") / $(cut -d' ' -f2 <<<"$b")"
    done

    # Both down: primary first, then the secondary.
    backend_kill master
    now_us
    wait_www webserver "$REPLY" "$deadline" >/dev/null
    now_us
    t0=$REPLY
    backend_kill webserver
    wait_www master "$t0" "$deadline"
    local to_all_down=$REPLY
    local dir polls=0 changes=0 failed_before=$FAILED_POLLS f t ans www="" apex=""
    dir=$(mktemp -d "$work/poll.XXXXXX")
    now_us
    t0=$REPLY
    while ((polls < STABLE_S * 1000000 / POLL_US)); do
        poll_launch "www.$ZONE" "$dir/r.www.$polls"
        poll_launch "$ZONE" "$dir/r.apex.$polls"
        polls=$((polls + 1))
        sleep_until $((t0 + polls * POLL_US))
    done
    polls_done "$dir"
    for f in "$dir"/r.www.*; do
        read -r t ans <"$f"
        [ -n "$www" ] || www=$ans
        [ "$ans" = "$www" ] || changes=$((changes + 1))
    done
    for f in "$dir"/r.apex.*; do
        read -r t ans <"$f"
        [ -n "$apex" ] || apex=$ans
        [ "$ans" = "$apex" ] || changes=$((changes + 1))
    done
    rm -rf "$dir"
    local failed=$((FAILED_POLLS - failed_before)) verdict=stable
    [ "$www" = "master.$ZONE. 192.168.0.108" ] || verdict="WRONG www: $www"
    [ "$apex" = "192.168.0.108 192.168.0.110" ] || verdict="WRONG apex: $apex"
    ((changes == 0 && failed == 0)) || verdict="UNSTABLE ($changes changes, $failed unanswered)"
    SUMMARY[$profile,both]="$verdict: serve-all after $(printf '%.2f' "$to_all_down") s, then $((polls * 2)) polls in ${STABLE_S} s all the same"
    printf '  %-16s both down: %s\n' "$profile" "${SUMMARY[$profile,both]}" >&2

    kill -9 "${PID[vigia]}" 2>/dev/null || true
    wait "${PID[vigia]}" 2>/dev/null || true
    unset "PID[vigia]"
    # Every fault and return is one transition, plus the two of both down.
    local transitions expected=$((RUNS * 3 * 2 + 2))
    transitions=$(grep -c "health transition" "$work/vigia-$label.log" || true)
    [ "$transitions" = "$expected" ] || echo "  $profile: $transitions transitions logged, expected $expected" >&2
    DETAIL+="| vigia, $profile | (vigia's log) | $transitions health transitions (expected $expected) | |"$'\n'
}

# ---------------------------------------------------------------------------

echo "building vigia (release)" >&2
cargo build --release --quiet --manifest-path "$repo/Cargo.toml"
started=$SECONDS
for p in $PROFILES; do
    echo "profile $p (interval/timeout/fall/rise), $RUNS runs per fault" >&2
    measure_profile "$p"
done

echo
echo "vigia $("$repo/target/release/vigia" --version | cut -d' ' -f2), $(nproc) CPUs, $RUNS runs per fault, dig every 50 ms over UDP; $POLLS polls, $FAILED_POLLS unanswered; $((SECONDS - started)) s"
echo
echo "| server, settings | primary killed: down / back (median s) | hanging | HTTP 500 | both down |"
echo "|---|---|---|---|---|"
for p in $PROFILES; do
    echo "| vigia, $p | ${SUMMARY[$p,killed]} | ${SUMMARY[$p,hang]} | ${SUMMARY[$p,500]} | ${SUMMARY[$p,both]} |"
done
echo
echo "min / median / max (s):"
echo
echo "| server, settings | fault | down | back |"
echo "|---|---|---|---|"
printf '%s' "$DETAIL"
