# shellcheck shell=bash disable=SC2154,SC2004
# Shared by failover.sh and dnssec_failover.sh (sourced): the site's web
# backends (benches/backend.py) and its failover rules. Expects $here,
# $work, $BACKEND_PORT and $ZONE set, and an associative array PID.

# wait_started NAME LOG SECONDS CMD...: polls CMD (every 10 ms) until it
# succeeds; if process PID[NAME] exits or SECONDS pass first, prints LOG
# and exits.
wait_started() {
    local name=$1 log=$2 deadline=$((SECONDS + $3))
    shift 3
    until "$@"; do
        if ! kill -0 "${PID[$name]}" 2>/dev/null || ((SECONDS >= deadline)); then
            echo "$name did not start" >&2
            cat "$log" >&2
            exit 1
        fi
        sleep 0.01
    done
}

# backend_start NAME IP: starts a backend whose mode file is
# $work/NAME.mode and waits until it accepts connections.
backend_start() {
    local name=$1 ip=$2
    python3 "$here/backend.py" "$ip" "$BACKEND_PORT" "$work/$name.mode" 2>>"$work/$name.log" &
    PID[$name]=$!
    wait_started "$name" "$work/$name.log" 5 accepts "$ip" "$BACKEND_PORT"
}

# accepts IP PORT: a TCP connection to IP:PORT succeeds.
accepts() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# set_mode NAME MODE: ok, 500, hang or stopped (see backend.py).
set_mode() { echo "$2" >"$work/$1.mode.tmp" && mv "$work/$1.mode.tmp" "$work/$1.mode"; }

# The rules of config.toml: apex A all-healthy with serve-all, www CNAME
# first-healthy, TTL 30 s.
site_rules() {
    cat <<EOF
[[failover]]
name = "$ZONE."
type = "A"
mode = "all-healthy"
pool = [ { address = "192.168.0.108", check = "master" },
         { address = "192.168.0.110", check = "webserver" } ]
when_all_down = "serve-all"
ttl = "30s"

[[failover]]
name = "www.$ZONE."
type = "CNAME"
mode = "first-healthy"
pool = [ { target = "master.$ZONE.", check = "master" },
         { target = "webserver.$ZONE.", check = "webserver" } ]
ttl = "30s"
EOF
}
