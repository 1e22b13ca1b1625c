#!/usr/bin/env bash
#
# bench/proxy.sh — reverse proxy, round robin: expserverd vs HAProxy vs nginx, side by side.
#
# Two backend nginx instances (1 worker each) serve the same ~600-byte small.html on free
# 127.0.0.1 ports. Three proxies on their own free ports balance round robin over both, with
# the same worker count and keep-alive to clients and to the backends:
#
#   expserverd  reverse_proxy route, load_balancing round_robin, upstream_keepalive 64
#   haproxy     mode http, balance roundrobin, http-reuse always, nbthread WORKERS
#   nginx       upstream { keepalive 64; }, proxy_http_version 1.1, worker_processes WORKERS
#
# and, as a reference row, nio-relay (`expbench relay`): a raw TCP relay over SwiftNIO (one
# event loop per core, as WORKERS by default), each client connection paired with its own
# upstream connection, nothing parsed. It is not a proxy (no HTTP, no per-request balancing: a single
# connection's requests all go to one backend); it shows what NIO's channels alone cost for the
# same traffic, the floor under expserverd.
#
# Each proxy must return the file byte for byte before anything is measured. Then an unrecorded
# warm-up, and ROUNDS rounds of wrk per proxy (the order rotates every round). The table shows
# medians and the ratios to HAProxy, then the per-round ratios of expserverd to HAProxy paired by
# round (mean +- standard error). Target (issue): expserverd req/s >= 1.0x HAProxy's and its p99
# no worse than HAProxy's.
#
# The backends' stub_status request counters are read around every run, which gives how many
# requests each backend got from each proxy (the split should be ~50/50) and how many reached
# the backends compared with what wrk counted (a proxy that retries or duplicates shows up).
#
# Usage:  bench/proxy.sh
# Knobs (environment variables):
#   WORKERS=$(nproc)  workers / threads of each proxy (backends: 1 worker each)
#   ROUNDS=3          measured rounds (median reported)
#   DURATION=10s      wrk duration of each measured run
#   CONNECTIONS=64    wrk connections
#   THREADS=2         wrk threads
#   WARMUP=2s         unrecorded wrk run per proxy first (0 = none)
#   UPSTREAM_KEEPALIVE=64  idle upstream connections kept (expserverd, nginx)
#   SKIP_BUILD=1      don't run `swift build` (use the existing binary)
#   EXPSERVERD_BIN    path of the daemon (default .build/release/expserverd)
#   EXPSERVERD_BASE_BIN  another expserverd build, run beside it as the row exp-base with the
#                     same config: an A/B of two builds in one run (this machine's speed drifts
#                     by more than most changes move it, so runs made apart do not compare)
#   OUT_DIR           where run directories go (default bench/out)
#   KEEP_TMP=1        keep the temp dir (backend prefixes, state db)
#
# Only 127.0.0.1 is ever contacted. Every process the script starts is stopped by PID when it
# exits, also on Ctrl-C.

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$BENCH_DIR/lib.sh"

# ---------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------

WORKERS=${WORKERS:-$(nproc)}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-2s}
UPSTREAM_KEEPALIVE=${UPSTREAM_KEEPALIVE:-64}
SKIP_BUILD=${SKIP_BUILD:-0}
EXPSERVERD_BIN=${EXPSERVERD_BIN:-$REPO_ROOT/.build/release/expserverd}
OUT_DIR=${OUT_DIR:-$BENCH_DIR/out}

RUN_OUT="$OUT_DIR/proxy-$(date +%Y%m%d-%H%M%S)"
EXP_CONFIG="$RUN_OUT/expserverd.json"
HAPROXY_CONFIG="$RUN_OUT/haproxy.cfg"

HOST=127.0.0.1
FILE=small.html
PROXIES=(expserverd haproxy nginx nio-relay)
EXPSERVERD_BASE_BIN=${EXPSERVERD_BASE_BIN:-}
[[ -z $EXPSERVERD_BASE_BIN ]] || PROXIES+=(exp-base)
BASELINE=haproxy
START_TIMEOUT=10   # seconds to wait for a server's port

check_knobs WORKERS ROUNDS CONNECTIONS THREADS UPSTREAM_KEEPALIVE

# ---------------------------------------------------------------------------
# Tools and build
# ---------------------------------------------------------------------------

ensure_pkg python3
ensure_pkg curl
ensure_pkg wrk
ensure_pkg nginx
ensure_pkg haproxy

build_release expserverd expbench
EXPBENCH_BIN=$REPO_ROOT/.build/release/expbench
[[ -x $EXPBENCH_BIN ]] || die "expbench binary not found at $EXPBENCH_BIN (build it: scripts/build-release expbench)"
[[ -x $EXPSERVERD_BIN ]] || die "expserverd binary not found at $EXPSERVERD_BIN (build it, or set EXPSERVERD_BIN)"
[[ -z $EXPSERVERD_BASE_BIN || -x $EXPSERVERD_BASE_BIN ]] || die "EXPSERVERD_BASE_BIN: no executable at $EXPSERVERD_BASE_BIN"

# ---------------------------------------------------------------------------
# Scratch space, output dir, file to serve
# ---------------------------------------------------------------------------

bench_run_dir proxy             # server logs next to the wrk output; $BENCH_TMP + cleanup traps from here on

WWW="$BENCH_TMP/www"
mkdir -p "$WWW"
write_small_html "$WWW/$FILE"   # the same ~600-byte page as bench/static.sh
log "backends serve $WWW/$FILE ($(stat -c %s "$WWW/$FILE") B)"

ports=$(pick_free_ports 7) || die "could not pick free ports"
mapfile -t PORTS <<<"$ports"
((${#PORTS[@]} == 7)) || die "could not pick free ports"
BACKEND_PORTS=("${PORTS[0]}" "${PORTS[1]}")
declare -A PORT=([expserverd]=${PORTS[2]} [haproxy]=${PORTS[3]} [nginx]=${PORTS[4]} [nio-relay]=${PORTS[5]} [exp-base]=${PORTS[6]})
declare -A PID=()

# ---------------------------------------------------------------------------
# Backends: two nginx, 1 worker each, keep-alive on, access log off
# ---------------------------------------------------------------------------

# keepalive_requests is raised from nginx's default of 1000 so that no proxy has to reconnect
# to a backend in the middle of a run (the proxies keep their upstream connections).
# /nginx_status (stub_status) is only for the request counters read below.
for i in 0 1; do
    name="backend$((i + 1))"
    nginx_start "$name" 1 "
    sendfile on;
    keepalive_timeout 65s;
    keepalive_requests 1000000;
    open_file_cache off;
    types { text/html html; }
    default_type application/octet-stream;

    server {
        listen $HOST:${BACKEND_PORTS[i]} backlog=4096;
        server_name $name;
        root $WWW;
        location / { }
        location = /nginx_status { stub_status; }
    }"
    cp "$NGINX_PREFIX/nginx.conf" "$RUN_OUT/$name.conf"
    PID[$name]=$NGINX_PID
done

# ---------------------------------------------------------------------------
# Proxies
# ---------------------------------------------------------------------------

B1="$HOST:${BACKEND_PORTS[0]}"
B2="$HOST:${BACKEND_PORTS[1]}"

# expserverd: eXpServer JSON config, one reverse_proxy route on /.
# exp_config NAME: the config of the expserverd instance NAME (its port, state db and socket).
exp_config() {
    cat <<EOF
{
  "server_name": "bench",
  "workers": $WORKERS,
  "state_db": $(json_quote "$BENCH_TMP/$1.db"),
  "control": { "socket": $(json_quote "$BENCH_TMP/$1.sock") },
  "servers": [
    {
      "listeners": [ { "host": "$HOST", "port": ${PORT[$1]} } ],
      "routes": [
        {
          "req_path": "/",
          "type": "reverse_proxy",
          "upstreams": [ "$B1", "$B2" ],
          "load_balancing": "round_robin",
          "upstream_keepalive": $UPSTREAM_KEEPALIVE
        }
      ]
    }
  ]
}
EOF
}
exp_config expserverd >"$EXP_CONFIG"
start_bg expserverd "$EXPSERVERD_BIN" "$EXP_CONFIG"
PID[expserverd]=$BG_PID
if [[ -n $EXPSERVERD_BASE_BIN ]]; then
    exp_config exp-base >"$RUN_OUT/exp-base.json"
    start_bg exp-base "$EXPSERVERD_BASE_BIN" "$RUN_OUT/exp-base.json"
    PID[exp-base]=$BG_PID
fi

# HAProxy: foreground (-db), no logging, keep-alive both sides, idle server connections shared
# by all requests (http-reuse always).
cat >"$HAPROXY_CONFIG" <<EOF
# Generated by bench/proxy.sh — private benchmark instance.
global
    nbthread $WORKERS
    maxconn 4096

defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 30s
    maxconn 4096

frontend fe
    bind $HOST:${PORT[haproxy]}
    default_backend be

backend be
    balance roundrobin
    server b1 $B1
    server b2 $B2
EOF
haproxy -c -q -f "$HAPROXY_CONFIG" >"$RUN_OUT/haproxy-c.log" 2>&1 ||
    { cat "$RUN_OUT/haproxy-c.log" >&2; die "haproxy config check failed: $HAPROXY_CONFIG"; }
start_bg haproxy haproxy -f "$HAPROXY_CONFIG" -db
PID[haproxy]=$BG_PID

# nginx as a proxy: keep-alive upstream pool of UPSTREAM_KEEPALIVE idle connections per worker.
nginx_start nginx "$WORKERS" "
    keepalive_timeout 65s;
    keepalive_requests 1000000;

    upstream backends {
        server $B1;
        server $B2;
        keepalive $UPSTREAM_KEEPALIVE;
        keepalive_requests 1000000;
    }

    server {
        listen $HOST:${PORT[nginx]} backlog=4096;
        server_name bench;
        location / {
            proxy_pass http://backends;
            proxy_http_version 1.1;
            proxy_set_header Connection \"\";
        }
    }"
cp "$NGINX_PREFIX/nginx.conf" "$RUN_OUT/nginx.conf"
PID[nginx]=$NGINX_PID

# The reference: a raw NIO TCP relay (see the top of this file).
start_bg nio-relay "$EXPBENCH_BIN" relay "${PORT[nio-relay]}" "$B1" "$B2"
PID[nio-relay]=$BG_PID

declare -A BASE_URL=()
for srv in backend1 backend2 "${PROXIES[@]}"; do
    case $srv in
        backend1) port=${BACKEND_PORTS[0]} ;;
        backend2) port=${BACKEND_PORTS[1]} ;;
        *) port=${PORT[$srv]} ;;
    esac
    BASE_URL[$srv]="http://$HOST:$port"
    if ! wait_for_port "$HOST" "$port" "$START_TIMEOUT" "${PID[$srv]}"; then
        assert_alive "$srv" "${PID[$srv]}"
        die "$srv did not accept connections on ${BASE_URL[$srv]} within ${START_TIMEOUT}s"
    fi
    log "$srv is up at ${BASE_URL[$srv]}"
done

# ---------------------------------------------------------------------------
# Backend request counters (stub_status)
# ---------------------------------------------------------------------------

# backend_requests NAME: the total request count of backend NAME (this status request included).
backend_requests() {
    curl -fsS --max-time 5 "${BASE_URL[$1]}/nginx_status" |
        awk 'NR == 3 { print $3; ok = 1 } END { exit !ok }'
}

# snapshot_backends: set SNAP_B1, SNAP_B2 to the backends' current counters.
SNAP_B1=0 SNAP_B2=0
snapshot_backends() {
    SNAP_B1=$(backend_requests backend1) || die "cannot read backend1's stub_status"
    SNAP_B2=$(backend_requests backend2) || die "cannot read backend2's stub_status"
}

# backend_delta: after snapshot_backends was called before some traffic, set DELTA_B1 and
# DELTA_B2 to the requests each backend got since (status requests not counted) and take a
# new snapshot.
DELTA_B1=0 DELTA_B2=0
backend_delta() {
    local b1=$SNAP_B1 b2=$SNAP_B2
    snapshot_backends
    DELTA_B1=$((SNAP_B1 - b1 - 1))
    DELTA_B2=$((SNAP_B2 - b2 - 1))
}

# wrk_requests FILE: the "N requests in ..." count of a wrk output.
wrk_requests() {
    awk '/ requests in / { print $1; ok = 1 } END { exit !ok }' "$1"
}


# ---------------------------------------------------------------------------
# Correctness checks
# ---------------------------------------------------------------------------

for srv in backend1 backend2 "${PROXIES[@]}"; do
    check_http_body "${BASE_URL[$srv]}/$FILE" "$WWW/$FILE" || die "$srv serves /$FILE incorrectly"
done
log "the backends and every proxy return $FILE byte for byte"

# Response headers through each proxy, for the record.
for srv in "${PROXIES[@]}"; do
    curl -sS --max-time 10 -o /dev/null -D "$RUN_OUT/headers-$srv.txt" "${BASE_URL[$srv]}/$FILE" ||
        die "GET ${BASE_URL[$srv]}/$FILE failed"
done

# Sequential requests on one keep-alive connection per proxy: both backends must be used.
SEQ_N=20
declare -A SEQ_SPLIT=()
seq_urls=()
for ((i = 0; i < SEQ_N; i++)); do seq_urls+=("/$FILE"); done
for srv in "${PROXIES[@]}"; do
    snapshot_backends
    # One curl, many URLs: curl keeps the connection open between them.
    curl -fsS --max-time 20 "${seq_urls[@]/#/${BASE_URL[$srv]}}" >/dev/null ||
        die "sequential GETs through $srv failed"
    backend_delta
    SEQ_SPLIT[$srv]="$DELTA_B1/$DELTA_B2"
    log "$srv: $SEQ_N sequential requests reached the backends as $DELTA_B1 + $DELTA_B2"
    ((DELTA_B1 + DELTA_B2 == SEQ_N)) ||
        warn "$srv: backends saw $((DELTA_B1 + DELTA_B2)) requests for $SEQ_N sent"
    # (The relay pairs a client connection with one upstream connection: one backend here.)
    [[ $srv == nio-relay ]] || ((DELTA_B1 > 0 && DELTA_B2 > 0)) || warn "$srv did not use both backends for $SEQ_N sequential requests"
done

# ---------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------

# report_errors SRV RAW: details for a run with errors: the wrk output and the server's log.
report_errors() {
    local srv=$1 raw=$2
    warn "$srv: $WRK_ERRORS socket errors / non-2xx-3xx responses in $(basename "$raw"); wrk output:"
    sed 's/^/    /' "$raw" >&2
    if [[ -s $BENCH_LOG_DIR/$srv.log ]]; then
        warn "last lines of $BENCH_LOG_DIR/$srv.log:"
        tail -n 20 "$BENCH_LOG_DIR/$srv.log" | sed 's/^/    /' >&2
    fi
    if [[ $srv == nginx && -s $BENCH_TMP/nginx/logs/error.log ]]; then
        cp "$BENCH_TMP/nginx/logs/error.log" "$RUN_OUT/nginx-error.log"
    fi
}

run_secs=$(duration_secs "$DURATION")
warm_secs=0
[[ $WARMUP == 0 || $WARMUP == 0s ]] || warm_secs=$(duration_secs "$WARMUP")
n=${#PROXIES[@]}
log "wrk: $THREADS threads, $CONNECTIONS connections, $DURATION x $ROUNDS rounds; proxies: $WORKERS workers"
log "expected run time: ~$(((warm_secs + ROUNDS * run_secs) * n + 5))s"

if ((warm_secs > 0)); then
    for srv in "${PROXIES[@]}"; do
        log "warm-up $srv ($WARMUP)"
        raw="$RUN_OUT/warmup-$srv.txt"
        DURATION=$WARMUP run_wrk "${BASE_URL[$srv]}/$FILE" "$raw" || die "warm-up wrk run failed for $srv"
        ((WRK_ERRORS == 0)) || report_errors "$srv" "$raw"
    done
fi

# Per proxy: space-separated values, one per round; backend and wrk request totals; CPU ticks.
declare -A RPS=() P50=() P99=() ERRS=() GOT_B1=() GOT_B2=() DONE_REQS=() CPU=()

for ((round = 1; round <= ROUNDS; round++)); do
    # Rotate the order so that every proxy goes first, second and last equally often.
    order=()
    for ((i = 0; i < n; i++)); do order+=("${PROXIES[(i + round - 1) % n]}"); done
    for srv in "${order[@]}"; do
        assert_alive "$srv" "${PID[$srv]}"
        raw="$RUN_OUT/wrk-$srv-r$round.txt"
        snapshot_backends
        cpu0=$(cpu_ticks "${PID[$srv]}")
        run_wrk "${BASE_URL[$srv]}/$FILE" "$raw" || die "wrk run failed for $srv (see $raw)"
        cpu1=$(cpu_ticks "${PID[$srv]}")
        backend_delta
        CPU[$srv]=$((${CPU[$srv]:-0} + cpu1 - cpu0))
        RPS[$srv]+="$WRK_RPS "
        P50[$srv]+="$WRK_P50_MS "
        P99[$srv]+="$WRK_P99_MS "
        ERRS[$srv]=$((${ERRS[$srv]:-0} + WRK_ERRORS))
        GOT_B1[$srv]=$((${GOT_B1[$srv]:-0} + DELTA_B1))
        GOT_B2[$srv]=$((${GOT_B2[$srv]:-0} + DELTA_B2))
        reqs=$(wrk_requests "$raw") || reqs=0
        DONE_REQS[$srv]=$((${DONE_REQS[$srv]:-0} + reqs))
        log "round $round/$ROUNDS  $(printf '%-10s %10.1f req/s  p50 %7.2f ms  p99 %7.2f ms  errors %d  backends %d/%d' \
            "$srv" "$WRK_RPS" "$WRK_P50_MS" "$WRK_P99_MS" "$WRK_ERRORS" "$DELTA_B1" "$DELTA_B2")"
        ((WRK_ERRORS == 0)) || report_errors "$srv" "$raw"
    done
done
for srv in backend1 backend2 "${PROXIES[@]}"; do assert_alive "$srv" "${PID[$srv]}"; done

# The proxies must still answer correctly after the load.
for srv in "${PROXIES[@]}"; do
    check_http_body "${BASE_URL[$srv]}/$FILE" "$WWW/$FILE" || warn "$srv serves /$FILE incorrectly after the runs"
done

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

declare -A MED_RPS=() MED_P50=() MED_P99=()
# shellcheck disable=SC2086  # the per-round lists are meant to be word-split
for srv in "${PROXIES[@]}"; do
    MED_RPS[$srv]=$(median ${RPS[$srv]})
    MED_P50[$srv]=$(median ${P50[$srv]})
    MED_P99[$srv]=$(median ${P99[$srv]})
done

print_table() {
    printf '%-11s %11s %9s %9s %14s %14s %7s %13s %11s\n' \
        proxy "req/s" "p50 ms" "p99 ms" "req/s vs hap" "p99 vs hap" errors "backend split" "CPU us/req"
    local srv total split cpu
    for srv in "${PROXIES[@]}"; do
        total=$((GOT_B1[$srv] + GOT_B2[$srv]))
        split=$(awk -v a="${GOT_B1[$srv]}" -v t="$total" 'BEGIN { if (t > 0) printf "%.1f/%.1f%%", 100 * a / t, 100 - 100 * a / t; else print "n/a" }')
        cpu=$(awk -v t="${CPU[$srv]}" -v hz="$CLK_TCK" -v n="${DONE_REQS[$srv]}" \
            'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "n/a" }')
        printf '%-11s %11.1f %9.2f %9.2f %14s %14s %7d %13s %11s\n' \
            "$srv" "${MED_RPS[$srv]}" "${MED_P50[$srv]}" "${MED_P99[$srv]}" \
            "$(ratio "${MED_RPS[$srv]}" "${MED_RPS[$BASELINE]}")" \
            "$(ratio "${MED_P99[$srv]}" "${MED_P99[$BASELINE]}")" \
            "${ERRS[$srv]}" "$split" "$cpu"
    done
}


rps_ratio=$(ratio "${MED_RPS[expserverd]}" "${MED_RPS[$BASELINE]}")
p99_ratio=$(ratio "${MED_P99[expserverd]}" "${MED_P99[$BASELINE]}")
verdict=$(awk -v r="${MED_RPS[expserverd]}" -v rb="${MED_RPS[$BASELINE]}" \
              -v p="${MED_P99[expserverd]}" -v pb="${MED_P99[$BASELINE]}" -v e="${ERRS[expserverd]}" '
    BEGIN {
        why = ""
        if (r < rb) why = "req/s below HAProxy"
        if (p > pb) why = why (why == "" ? "" : "; ") "p99 above HAProxy"
        if (e > 0)  why = why (why == "" ? "" : "; ") "expserverd had errors"
        print (why == "" ? "met" : "NOT MET (" why ")")
    }')

{
    echo "reverse proxy benchmark (round robin over 2 nginx backends) — $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "machine: $(nproc) cores; proxies: $WORKERS workers/threads each; backends: 2 x nginx, 1 worker; wrk on the same machine"
    echo "wrk: -t $THREADS -c $CONNECTIONS -d $DURATION --latency /$FILE ($(stat -c %s "$WWW/$FILE") B)," \
         "$ROUNDS round(s) (median shown), warm-up $WARMUP"
    echo "haproxy: $(haproxy -v 2>/dev/null | awk 'NR == 1 { print $3 }'); nginx: $(nginx -v 2>&1 | sed 's/^nginx version: nginx\///');" \
         "expserverd: $EXPSERVERD_BIN (git $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown))"
    [[ -z $EXPSERVERD_BASE_BIN ]] || echo "exp-base: $EXPSERVERD_BASE_BIN (the same config)"
    echo
    print_table
    echo
    echo "target: expserverd req/s >= 1.00x HAProxy's ($rps_ratio) and p99 <= HAProxy's ($p99_ratio): $verdict"
    echo "paired by round, expserverd / HAProxy: req/s $(paired "${RPS[expserverd]}" "${RPS[$BASELINE]}" higher);" \
         "p99 $(paired "${P99[expserverd]}" "${P99[$BASELINE]}" lower)"
    echo "(vs hap = ratio to HAProxy: req/s higher is better, p99 lower is better;"
    echo " CPU us/req = the proxy's own CPU time over the measured runs per request wrk completed)"
    echo
    echo "per round (req/s):"
    for srv in "${PROXIES[@]}"; do printf '  %-11s %s\n' "$srv" "${RPS[$srv]% }"; done
    echo "per round (p99 ms):"
    for srv in "${PROXIES[@]}"; do printf '  %-11s %s\n' "$srv" "${P99[$srv]% }"; done
    echo "requests at the backends (backend1 + backend2) vs completed by wrk, measured runs:"
    for srv in "${PROXIES[@]}"; do
        printf '  %-11s %d + %d = %d  wrk %d\n' "$srv" "${GOT_B1[$srv]}" "${GOT_B2[$srv]}" \
            "$((GOT_B1[$srv] + GOT_B2[$srv]))" "${DONE_REQS[$srv]}"
    done
    echo "sequential check ($SEQ_N requests, one connection): $(for s in "${PROXIES[@]}"; do printf '%s %s  ' "$s" "${SEQ_SPLIT[$s]}"; done)"
    echo
    echo "raw wrk output, configs and server logs: $RUN_OUT"
} | tee "$RUN_OUT/summary.txt"

for srv in "${PROXIES[@]}"; do
    ((ERRS[$srv] == 0)) || warn "$srv: ${ERRS[$srv]} socket errors or non-2xx/3xx responses (see raw wrk output in $RUN_OUT)"
    total=$((GOT_B1[$srv] + GOT_B2[$srv]))
    # Every completed request reached a backend; at most CONNECTIONS per run can be in flight
    # when wrk stops (reached a backend, not counted by wrk).
    if ((total < DONE_REQS[$srv] || total > DONE_REQS[$srv] + ROUNDS * CONNECTIONS)); then
        warn "$srv: backends saw $total requests, wrk completed ${DONE_REQS[$srv]}"
    fi
    if ((total > 0)) && ! awk -v a="${GOT_B1[$srv]}" -v t="$total" 'BEGIN { exit !(a / t >= 0.45 && a / t <= 0.55) }'; then
        warn "$srv: uneven backend split ${GOT_B1[$srv]}/${GOT_B2[$srv]}"
    fi
done
