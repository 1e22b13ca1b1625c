#!/usr/bin/env bash
#
# bench/tunnel.sh — WebSocket-style tunnels (HTTP/1.1 Upgrade, 101, then raw bytes both ways):
# expserverd vs HAProxy vs nginx, side by side in one run.
#
# One upstream, `expbench tunnel-echo` (SwiftNIO, one event loop per core), accepts any Upgrade
# offer with a 101 (with the Sec-WebSocket-Accept of the offer's key, as a WebSocket server
# answers) and echoes every byte of the tunnel as it comes. Three proxies on their own
# free ports, the same worker count, tunnel to it:
#
#   expserverd  one reverse_proxy route on / (an offer goes upstream, a 101 makes a tunnel)
#   haproxy     mode http (it tunnels upgrades by default), timeout tunnel 1h, nbthread WORKERS
#   nginx       proxy_http_version 1.1, proxy_set_header Upgrade $http_upgrade,
#               proxy_set_header Connection "upgrade", proxy_read_timeout 1h, worker_processes WORKERS
#
# and, as a reference row, `direct`: the load generator against the echo server with no proxy
# (what the generator and the upstream manage together: the ceiling, and the check that the
# generator is not what limits the proxied rows).
#
# The load generator is `expbench tunnel-load` (poll loops on THREADS threads, non-blocking
# sockets): CONNECTIONS connections each send `GET /ws` with `Upgrade: websocket`, check the 101,
# then do sequential round trips (MESSAGE bytes out, the same bytes back, compared) for DURATION.
# Workloads: one per size in SIZES, and (HANDSHAKE=1) `handshake`: HS_CONNECTIONS clients each
# connecting, offering, getting the 101, making one 64-byte round trip and closing, again and
# again (new tunnels per second; its latency is the whole cycle).
#
# Each proxy must answer an offer with a 101 and echo what is sent (a few sizes, up to 256 KiB)
# before anything is measured, and again after. Then per workload an unrecorded warm-up per row,
# and ROUNDS rounds (the order rotates every round). The table shows medians, ratios to HAProxy
# and each proxy's own CPU time per round trip; then expserverd's and nginx's per-round ratios to
# HAProxy paired by round (mean +- standard error), as in proxy.sh.
#
# Usage:  bench/tunnel.sh
# Knobs (environment variables):
#   WORKERS=$(nproc)  workers / threads of each proxy
#   ROUNDS=3          measured rounds (median reported)
#   DURATION=5s       length of each measured run
#   CONNECTIONS=64    tunnels open at once (round-trip workloads)
#   SIZES="64 16384"  message sizes in bytes, one workload each
#   HANDSHAKE=1       also measure new tunnels per second (0 = skip)
#   HS_CONNECTIONS=16 concurrent clients of the handshake workload
#   THREADS=2         load generator threads
#   WARMUP=1s         unrecorded run per row and workload first (0 = none)
#   SKIP_BUILD=1      don't build (use the existing binaries)
#   EXPSERVERD_BIN    path of the daemon (default .build/release/expserverd)
#   EXPBENCH_BIN      path of expbench (default .build/release/expbench)
#   OUT_DIR           where run directories go (default bench/out)
#   KEEP_TMP=1        keep the temp dir (state db)
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
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-64}
SIZES=${SIZES:-64 16384}
HANDSHAKE=${HANDSHAKE:-1}
HS_CONNECTIONS=${HS_CONNECTIONS:-16}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-1s}
SKIP_BUILD=${SKIP_BUILD:-0}
EXPSERVERD_BIN=${EXPSERVERD_BIN:-$REPO_ROOT/.build/release/expserverd}
EXPBENCH_BIN=${EXPBENCH_BIN:-$REPO_ROOT/.build/release/expbench}
OUT_DIR=${OUT_DIR:-$BENCH_DIR/out}

RUN_OUT="$OUT_DIR/tunnel-$(date +%Y%m%d-%H%M%S)"
EXP_CONFIG="$RUN_OUT/expserverd.json"
HAPROXY_CONFIG="$RUN_OUT/haproxy.cfg"

HOST=127.0.0.1
PROXIES=(expserverd haproxy nginx)
ROWS=(direct "${PROXIES[@]}")
BASELINE=haproxy
START_TIMEOUT=10   # seconds to wait for a server's port

check_knobs WORKERS ROUNDS CONNECTIONS THREADS HS_CONNECTIONS
((THREADS <= HS_CONNECTIONS)) || die "THREADS ($THREADS) must not exceed HS_CONNECTIONS ($HS_CONNECTIONS)"
[[ $HANDSHAKE == 0 || $HANDSHAKE == 1 ]] || die "HANDSHAKE must be 0 or 1 (got '$HANDSHAKE')"
read -r -a SIZE_LIST <<<"$SIZES"
((${#SIZE_LIST[@]} > 0)) || die "SIZES is empty"
for s in "${SIZE_LIST[@]}"; do
    [[ $s =~ ^[1-9][0-9]*$ ]] || die "SIZES must be positive integers (got '$s')"
done

# Workloads: "rt:SIZE" per size, then "hs:64".
WORKLOADS=()
for s in "${SIZE_LIST[@]}"; do WORKLOADS+=("rt:$s"); done
[[ $HANDSHAKE == 0 ]] || WORKLOADS+=("hs:64")
# workload_name W: what the table calls it.
workload_name() {
    case $1 in
        rt:*) echo "${1#rt:} B" ;;
        hs:*) echo "handshake" ;;
    esac
}

# ---------------------------------------------------------------------------
# Tools and build
# ---------------------------------------------------------------------------

ensure_pkg python3
ensure_pkg nginx
ensure_pkg haproxy

build_release expserverd expbench
[[ -x $EXPBENCH_BIN ]] || die "expbench binary not found at $EXPBENCH_BIN (build it: scripts/build-release expbench, or set EXPBENCH_BIN)"
[[ -x $EXPSERVERD_BIN ]] || die "expserverd binary not found at $EXPSERVERD_BIN (build it, or set EXPSERVERD_BIN)"

# ---------------------------------------------------------------------------
# Scratch space, output dir, ports
# ---------------------------------------------------------------------------

bench_run_dir tunnel            # server logs next to the load output; $BENCH_TMP + cleanup traps from here on

ports=$(pick_free_ports 4) || die "could not pick free ports"
mapfile -t PORTS <<<"$ports"
((${#PORTS[@]} == 4)) || die "could not pick free ports"
ECHO_PORT=${PORTS[0]}
declare -A PORT=([direct]=$ECHO_PORT [expserverd]=${PORTS[1]} [haproxy]=${PORTS[2]} [nginx]=${PORTS[3]})
declare -A PID=()
# The name of each row's process (its log is $RUN_OUT/NAME.log).
declare -A NAME=([direct]=tunnel-echo [expserverd]=expserverd [haproxy]=haproxy [nginx]=nginx)
ECHO="$HOST:$ECHO_PORT"

# ---------------------------------------------------------------------------
# The upstream and the proxies
# ---------------------------------------------------------------------------

start_bg tunnel-echo "$EXPBENCH_BIN" tunnel-echo "$ECHO_PORT"
PID[direct]=$BG_PID

# expserverd: one reverse_proxy route on /. (timeouts.upstream_read_ms, 60 s by default, is how
# long a tunnel may go without a byte either way: far longer than any pause here.)
cat >"$EXP_CONFIG" <<EOF
{
  "server_name": "bench",
  "workers": $WORKERS,
  "state_db": $(json_quote "$BENCH_TMP/expserverd.db"),
  "control": { "socket": $(json_quote "$BENCH_TMP/expserverd.sock") },
  "servers": [
    {
      "listeners": [ { "host": "$HOST", "port": ${PORT[expserverd]} } ],
      "routes": [
        { "req_path": "/", "type": "reverse_proxy", "upstreams": [ "$ECHO" ] }
      ]
    }
  ]
}
EOF
start_bg expserverd "$EXPSERVERD_BIN" "$EXP_CONFIG"
PID[expserverd]=$BG_PID

# HAProxy: foreground (-db), no logging; mode http tunnels an upgrade by default, and
# `timeout tunnel` replaces client/server timeouts once it is one.
cat >"$HAPROXY_CONFIG" <<EOF
# Generated by bench/tunnel.sh — private benchmark instance.
global
    nbthread $WORKERS
    maxconn 4096

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout tunnel 1h
    maxconn 4096

frontend fe
    bind $HOST:${PORT[haproxy]}
    default_backend be

backend be
    server echo $ECHO
EOF
haproxy -c -q -f "$HAPROXY_CONFIG" >"$RUN_OUT/haproxy-c.log" 2>&1 ||
    { cat "$RUN_OUT/haproxy-c.log" >&2; die "haproxy config check failed: $HAPROXY_CONFIG"; }
start_bg haproxy haproxy -f "$HAPROXY_CONFIG" -db
PID[haproxy]=$BG_PID

# nginx: the documented WebSocket proxying set-up.
nginx_start nginx "$WORKERS" "
    upstream echo {
        server $ECHO;
    }

    server {
        listen $HOST:${PORT[nginx]} backlog=4096;
        server_name bench;
        location / {
            proxy_pass http://echo;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection \"upgrade\";
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
        }
    }"
cp "$NGINX_PREFIX/nginx.conf" "$RUN_OUT/nginx.conf"
PID[nginx]=$NGINX_PID

for row in "${ROWS[@]}"; do
    if ! wait_for_port "$HOST" "${PORT[$row]}" "$START_TIMEOUT" "${PID[$row]}"; then
        assert_alive "${NAME[$row]}" "${PID[$row]}"
        die "${NAME[$row]} did not accept connections on $HOST:${PORT[$row]} within ${START_TIMEOUT}s"
    fi
    log "${NAME[$row]} is up at $HOST:${PORT[$row]}"
done

# ---------------------------------------------------------------------------
# Correctness: each row tunnels
# ---------------------------------------------------------------------------

# check_tunnel ROW OUT: one connection: the offer, a 101 with Upgrade: websocket (and the key's
# Sec-WebSocket-Accept, which tunnel-echo computes: HAProxy refuses a WebSocket 101 without it), then payloads of
# a few sizes (up to 256 KiB) echoed byte for byte; then a plain GET (no Upgrade) must get the
# upstream's 400. The 101's head is written to OUT.
check_tunnel() {
    timeout 20 python3 - "$HOST" "${PORT[$1]}" "$2" <<'PY'
import os, socket, sys
host, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]

def head_of(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit("closed before the end of the answer's head: %r" % data)
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.decode("latin-1"), rest

s = socket.create_connection((host, port), timeout=10)
s.sendall(b"GET /ws HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
head, rest = head_of(s)
open(out, "w").write(head + "\r\n\r\n")
lines = head.split("\r\n")
if not lines[0].startswith("HTTP/1.1 101"):
    sys.exit("not a 101: " + lines[0])
if not any(l.lower().replace(" ", "") == "upgrade:websocket" for l in lines[1:]):
    sys.exit("101 without Upgrade: websocket")
# RFC 6455's example key and its accept value: the key went upstream unchanged, the answer came back.
if not any(l.partition(":")[0].lower() == "sec-websocket-accept" and l.partition(":")[2].strip() == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
           for l in lines[1:]):
    sys.exit("101 without the key's Sec-WebSocket-Accept")
if rest:
    sys.exit("bytes after the 101 before any were sent")
for size in (1, 64, 16384, 262144):
    payload = os.urandom(size)
    s.sendall(payload)
    got = b""
    while len(got) < size:
        chunk = s.recv(size - len(got))
        if not chunk:
            sys.exit("closed after %d of %d echoed bytes" % (len(got), size))
        got += chunk
    if got != payload:
        sys.exit("the %d-byte echo differs" % size)
s.close()

s = socket.create_connection((host, port), timeout=10)
s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
head, _ = head_of(s)
if " 400 " not in head.split("\r\n")[0] + " ":
    sys.exit("a request without Upgrade got " + head.split("\r\n")[0] + " (want the upstream's 400)")
s.close()
PY
}

for row in "${ROWS[@]}"; do
    check_tunnel "$row" "$RUN_OUT/handshake-$row.txt" || die "$row does not tunnel (see above)"
done
log "every row answers an offer with a 101 and echoes 1 B to 256 KiB byte for byte"

# ---------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------


# kv KEY FILE: the value of KEY in tunnel-load's key=value line in FILE.
kv() {
    awk -v k="$1" '{ for (i = 1; i <= NF; i++) { n = index($i, "="); if (substr($i, 1, n - 1) == k) { print substr($i, n + 1); found = 1 } } }
                   END { exit !found }' "$2"
}

# run_load ROW WORKLOAD SECS OUTFILE: tunnel-load against ROW, its line in OUTFILE; sets LOAD_RPS,
# LOAD_P50_MS, LOAD_P99_MS, LOAD_ERRORS, LOAD_RTS, LOAD_GEN_CPU. Bounded by `timeout`. Called
# directly (not in $(...)) so that Ctrl-C reaches the trap, as run_wrk.
LOAD_RPS="" LOAD_P50_MS="" LOAD_P99_MS="" LOAD_ERRORS="" LOAD_RTS="" LOAD_GEN_CPU=""
run_load() {
    local row=$1 workload=$2 secs=$3 out=$4 args=()
    case $workload in
        rt:*) args=("$HOST:${PORT[$row]}" "$CONNECTIONS" "$secs" "${workload#rt:}") ;;
        hs:*) args=(--handshake "$HOST:${PORT[$row]}" "$HS_CONNECTIONS" "$secs" "${workload#hs:}") ;;
    esac
    run_bounded tunnel-load "$secs" "$out" "$EXPBENCH_BIN" tunnel-load --threads "$THREADS" "${args[@]}" ||
        { warn "(against $row)"; return 1; }
    if ! { LOAD_RPS=$(kv rt_per_s "$out") && LOAD_P50_MS=$(kv p50_ms "$out") && LOAD_P99_MS=$(kv p99_ms "$out") &&
        LOAD_ERRORS=$(kv errors "$out") && LOAD_RTS=$(kv round_trips "$out") && LOAD_GEN_CPU=$(kv cpu_s "$out"); }; then
        warn "could not parse tunnel-load output in $out"
        return 1
    fi
}

# report_errors ROW RAW: details for a run with errors: the load output and the proxy's log.
report_errors() {
    local row=$1 raw=$2 name=${NAME[$1]}
    warn "$row: $LOAD_ERRORS errors in $(basename "$raw"): $(cat "$raw")"
    if [[ -s $BENCH_LOG_DIR/$name.log ]]; then
        warn "last lines of $BENCH_LOG_DIR/$name.log:"
        tail -n 20 "$BENCH_LOG_DIR/$name.log" | sed 's/^/    /' >&2
    fi
    if [[ $row == nginx && -s $BENCH_TMP/nginx/logs/error.log ]]; then
        cp "$BENCH_TMP/nginx/logs/error.log" "$RUN_OUT/nginx-error.log"
    fi
}

run_secs=$(duration_secs "$DURATION")
warm_secs=0
[[ $WARMUP == 0 || $WARMUP == 0s ]] || warm_secs=$(duration_secs "$WARMUP")
n=${#ROWS[@]}
log "tunnel-load: $THREADS threads, $CONNECTIONS tunnels (handshake: $HS_CONNECTIONS clients), $DURATION x $ROUNDS rounds;" \
    "workloads: $(for w in "${WORKLOADS[@]}"; do printf '[%s] ' "$(workload_name "$w")"; done)proxies: $WORKERS workers"
log "expected run time: ~$(((warm_secs + ROUNDS * run_secs) * n * ${#WORKLOADS[@]} + 5))s"

# Per "workload|row": space-separated values, one per round; error totals; CPU ticks; round trips.
declare -A RPS=() P50=() P99=() ERRS=() CPU=() RTS=() GEN=()

for w in "${WORKLOADS[@]}"; do
    wn=${w/:/-}
    if ((warm_secs > 0)); then
        for row in "${ROWS[@]}"; do
            raw="$RUN_OUT/warmup-$wn-$row.txt"
            run_load "$row" "$w" "$warm_secs" "$raw" || die "warm-up failed for $row ($(workload_name "$w"))"
            ((LOAD_ERRORS == 0)) || report_errors "$row" "$raw"
        done
    fi
    for ((round = 1; round <= ROUNDS; round++)); do
        # Rotate the order so that every row goes first, second, ... equally often.
        order=()
        for ((i = 0; i < n; i++)); do order+=("${ROWS[(i + round - 1) % n]}"); done
        for row in "${order[@]}"; do
            assert_alive "${NAME[$row]}" "${PID[$row]}"
            raw="$RUN_OUT/load-$wn-$row-r$round.txt"
            cpu0=$(cpu_ticks "${PID[$row]}")
            run_load "$row" "$w" "$run_secs" "$raw" || die "tunnel-load failed for $row (see $raw)"
            cpu1=$(cpu_ticks "${PID[$row]}")
            k="$w|$row"
            CPU[$k]=$((${CPU[$k]:-0} + cpu1 - cpu0))
            RPS[$k]+="$LOAD_RPS "
            P50[$k]+="$LOAD_P50_MS "
            P99[$k]+="$LOAD_P99_MS "
            ERRS[$k]=$((${ERRS[$k]:-0} + LOAD_ERRORS))
            RTS[$k]=$((${RTS[$k]:-0} + LOAD_RTS))
            GEN[$k]=$(awk -v a="${GEN[$k]:-0}" -v b="$LOAD_GEN_CPU" 'BEGIN { print a + b }')
            log "$(printf '%-10s round %d/%d  %-10s %10.1f rt/s  p50 %7.3f ms  p99 %7.3f ms  errors %d' \
                "$(workload_name "$w")" "$round" "$ROUNDS" "$row" "$LOAD_RPS" "$LOAD_P50_MS" "$LOAD_P99_MS" "$LOAD_ERRORS")"
            ((LOAD_ERRORS == 0)) || report_errors "$row" "$raw"
        done
    done
done
for row in "${ROWS[@]}"; do assert_alive "${NAME[$row]}" "${PID[$row]}"; done

# The proxies must still tunnel after the load.
for row in "${ROWS[@]}"; do
    check_tunnel "$row" "$RUN_OUT/handshake-after-$row.txt" || warn "$row does not tunnel correctly after the runs"
done

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------



declare -A MED_RPS=() MED_P50=() MED_P99=()
# shellcheck disable=SC2086  # the per-round lists are meant to be word-split
for w in "${WORKLOADS[@]}"; do
    for row in "${ROWS[@]}"; do
        k="$w|$row"
        MED_RPS[$k]=$(median ${RPS[$k]})
        MED_P50[$k]=$(median ${P50[$k]})
        MED_P99[$k]=$(median ${P99[$k]})
    done
done

print_table() {
    printf '%-10s %-11s %11s %9s %9s %12s %11s %7s %10s %10s\n' \
        workload proxy "rt/s" "p50 ms" "p99 ms" "rt/s vs hap" "p99 vs hap" errors "CPU us/rt" "gen us/rt"
    local w row k cpu gen
    for w in "${WORKLOADS[@]}"; do
        for row in "${ROWS[@]}"; do
            k="$w|$row"
            cpu=$(awk -v t="${CPU[$k]}" -v hz="$CLK_TCK" -v n="${RTS[$k]}" \
                'BEGIN { if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "n/a" }')
            gen=$(awk -v t="${GEN[$k]}" -v n="${RTS[$k]}" 'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / n; else print "n/a" }')
            printf '%-10s %-11s %11.1f %9.3f %9.3f %12s %11s %7d %10s %10s\n' \
                "$(workload_name "$w")" "$row" "${MED_RPS[$k]}" "${MED_P50[$k]}" "${MED_P99[$k]}" \
                "$(ratio "${MED_RPS[$k]}" "${MED_RPS[$w|$BASELINE]}")" \
                "$(ratio "${MED_P99[$k]}" "${MED_P99[$w|$BASELINE]}")" \
                "${ERRS[$k]}" "$cpu" "$gen"
        done
    done
}

{
    echo "tunnel benchmark (HTTP/1.1 Upgrade: websocket, 101, echo upstream) — $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "machine: $(nproc) cores; proxies: $WORKERS workers/threads each; upstream: expbench tunnel-echo ($(nproc) event loops);" \
         "load: expbench tunnel-load, $THREADS threads, on the same machine"
    echo "round trips: $CONNECTIONS tunnels, sizes $SIZES B;" \
         "$([[ $HANDSHAKE == 1 ]] && echo "handshake: $HS_CONNECTIONS clients, connect + 101 + one 64 B round trip + close;")" \
         "$DURATION x $ROUNDS round(s) (median shown), warm-up $WARMUP"
    echo "haproxy: $(haproxy -v 2>/dev/null | awk 'NR == 1 { print $3 }'); nginx: $(nginx -v 2>&1 | sed 's/^nginx version: nginx\///');" \
         "expserverd: $EXPSERVERD_BIN (git $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown))"
    echo
    print_table
    echo
    for w in "${WORKLOADS[@]}"; do
        for srv in expserverd nginx; do
            echo "paired by round, $(workload_name "$w"), $srv / HAProxy: rt/s $(paired "${RPS[$w|$srv]}" "${RPS[$w|$BASELINE]}" higher);" \
                 "p99 $(paired "${P99[$w|$srv]}" "${P99[$w|$BASELINE]}" lower)"
        done
    done
    echo "(rt/s = round trips per second, all tunnels together; in the handshake workload one round trip is a whole"
    echo " new tunnel and its latency the whole cycle. vs hap = ratio to HAProxy: rt/s higher is better, p99 lower is"
    echo " better. CPU us/rt = the proxy's own CPU time over the measured runs per round trip (direct: the echo"
    echo " server's); gen us/rt = the load generator's)"
    echo
    for w in "${WORKLOADS[@]}"; do
        echo "per round, $(workload_name "$w") (rt/s | p99 ms):"
        for row in "${ROWS[@]}"; do printf '  %-11s %s | %s\n' "$row" "${RPS[$w|$row]% }" "${P99[$w|$row]% }"; done
    done
    echo
    echo "raw tunnel-load output, configs and server logs: $RUN_OUT"
} | tee "$RUN_OUT/summary.txt"

for w in "${WORKLOADS[@]}"; do
    for row in "${ROWS[@]}"; do
        ((ERRS[$w|$row] == 0)) || warn "$row ($(workload_name "$w")): ${ERRS[$w|$row]} errors (see the load output in $RUN_OUT)"
    done
done
