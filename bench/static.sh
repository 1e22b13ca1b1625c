#!/usr/bin/env bash
#
# bench/static.sh — static file serving: expserverd vs nginx, side by side.
#
# Builds expserverd (release), starts it and a private nginx on free
# 127.0.0.1 ports, both serving the same directory with equivalent settings,
# then drives them alternately with wrk and prints a comparison table.
# Raw wrk output, server logs and configs go to bench/out/static-<time>/.
#
# Usage:  bench/static.sh
# Knobs (environment variables):
#   WORKERS=$(nproc)  worker processes for both servers
#   ROUNDS=3          measured rounds; servers alternate who goes first
#   DURATION=10s      wrk duration of each measured run
#   CONNECTIONS=64    wrk connections
#   THREADS=2         wrk threads
#   WARMUP=2s         unrecorded wrk run per server and file first (0 = none)
#   CONNECTION_CLOSE=1  every request on a new connection (wrk sends `Connection: close`):
#                     the cost of accepting and closing connections, not of keep-alive requests
#   SKIP_BUILD=1      don't run `swift build` (use the existing binary)
#   EXPSERVERD_BIN    path of the daemon (default .build/release/expserverd)
#   OUT_DIR           where run directories go (default bench/out)
#   KEEP_TMP=1        keep the temp dir (served files, nginx prefix)
#
# Only 127.0.0.1 is ever contacted. Every process the script starts is
# stopped by PID when it exits, also on Ctrl-C.

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
CONNECTION_CLOSE=${CONNECTION_CLOSE:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
EXPSERVERD_BIN=${EXPSERVERD_BIN:-$REPO_ROOT/.build/release/expserverd}
OUT_DIR=${OUT_DIR:-$BENCH_DIR/out}

RUN_OUT="$OUT_DIR/static-$(date +%Y%m%d-%H%M%S)"
EXP_CONFIG="$RUN_OUT/expserverd.json"

# The command that starts expserverd; it gets the JSON config written below.
# Adjust here if the daemon's command line changes.
EXPSERVERD_CMD=("$EXPSERVERD_BIN" "$EXP_CONFIG")

HOST=127.0.0.1
FILES=(small.html big.bin)
SERVERS=(expserverd nginx)
START_TIMEOUT=10   # seconds to wait for a server's port

check_knobs WORKERS ROUNDS CONNECTIONS THREADS
WRK_ARGS=() WRK_ARGS_TEXT=""
if [[ $CONNECTION_CLOSE == 1 ]]; then
    WRK_ARGS=(-H "Connection: close")
    WRK_ARGS_TEXT=" -H 'Connection: close'"
fi

# ---------------------------------------------------------------------------
# Tools and build
# ---------------------------------------------------------------------------

ensure_pkg python3
ensure_pkg curl
ensure_pkg wrk
ensure_pkg nginx

build_release expserverd
[[ -x $EXPSERVERD_BIN ]] || die "expserverd binary not found at $EXPSERVERD_BIN (build it, or set EXPSERVERD_BIN)"

# ---------------------------------------------------------------------------
# Scratch space, output dir, files to serve
# ---------------------------------------------------------------------------

bench_run_dir static            # server logs next to the wrk output; $BENCH_TMP + cleanup traps from here on

WWW="$BENCH_TMP/www"
mkdir -p "$WWW"

write_small_html "$WWW/small.html"   # a small, fixed HTML page (~600 bytes)
# big.bin: 1 MiB of random bytes.
head -c $((1024 * 1024)) /dev/urandom >"$WWW/big.bin"
# index.html so that GET / works on both servers.
cp "$WWW/small.html" "$WWW/index.html"
log "serving $WWW: small.html $(stat -c %s "$WWW/small.html") B, big.bin $(stat -c %s "$WWW/big.bin") B"

# ---------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------

ports=$(pick_free_ports 2) || die "could not pick free ports"
EXP_PORT=$(sed -n 1p <<<"$ports")
NGINX_PORT=$(sed -n 2p <<<"$ports")
[[ -n $EXP_PORT && -n $NGINX_PORT ]] || die "could not pick free ports"

# expserverd: eXpServer JSON config.
cat >"$EXP_CONFIG" <<EOF
{
  "server_name": "bench",
  "workers": $WORKERS,
  "servers": [
    {
      "listeners": [ { "host": "$HOST", "port": $EXP_PORT } ],
      "routes": [
        {
          "req_path": "/",
          "type": "file_serve",
          "dir_path": $(json_quote "$WWW"),
          "index": ["index.html"]
        }
      ]
    }
  ]
}
EOF
start_bg expserverd "${EXPSERVERD_CMD[@]}"
EXP_PID=$BG_PID

# nginx: same directory, same worker count; access log off (lib default),
# keep-alive on, sendfile on, open_file_cache off (nginx's default, spelled
# out). keepalive_requests is raised from its default of 1000 so that nginx
# keeps its connections for the whole run instead of making wrk reconnect.
nginx_start nginx "$WORKERS" "
    sendfile on;
    keepalive_timeout 65s;
    keepalive_requests 1000000;
    open_file_cache off;
    types {
        text/html html;
        application/octet-stream bin;
    }
    default_type application/octet-stream;

    server {
        listen $HOST:$NGINX_PORT;
        server_name bench;
        root $WWW;
        index index.html;
        location / { }
    }"
cp "$NGINX_PREFIX/nginx.conf" "$RUN_OUT/nginx.conf"

declare -A PID=([expserverd]=$EXP_PID [nginx]=$NGINX_PID)
declare -A BASE_URL=([expserverd]="http://$HOST:$EXP_PORT" [nginx]="http://$HOST:$NGINX_PORT")

for srv in "${SERVERS[@]}"; do
    if ! wait_for_port "$HOST" "${BASE_URL[$srv]##*:}" "$START_TIMEOUT" "${PID[$srv]}"; then
        assert_alive "$srv" "${PID[$srv]}"
        die "$srv did not accept connections on ${BASE_URL[$srv]} within ${START_TIMEOUT}s"
    fi
    log "$srv is up at ${BASE_URL[$srv]}"
done

# Both servers must return the exact files before we measure anything.
for srv in "${SERVERS[@]}"; do
    for f in "${FILES[@]}"; do
        check_http_body "${BASE_URL[$srv]}/$f" "$WWW/$f" || die "$srv serves /$f incorrectly"
    done
done
log "both servers return identical bodies for: ${FILES[*]}"

# ---------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------

run_secs=$(duration_secs "$DURATION")
warm_secs=0
[[ $WARMUP == 0 || $WARMUP == 0s ]] || warm_secs=$(duration_secs "$WARMUP")
n_runs=$((${#SERVERS[@]} * ${#FILES[@]}))
log "wrk: $THREADS threads, $CONNECTIONS connections, $DURATION x $ROUNDS rounds; servers: $WORKERS workers"
log "expected run time: ~$(((warm_secs + ROUNDS * run_secs) * n_runs + 2 * n_runs))s"

if ((warm_secs > 0)); then
    for srv in "${SERVERS[@]}"; do
        for f in "${FILES[@]}"; do
            log "warm-up $srv /$f ($WARMUP)"
            DURATION=$WARMUP run_wrk "${BASE_URL[$srv]}/$f" "$RUN_OUT/warmup-$srv-$f.txt" "${WRK_ARGS[@]}" ||
                die "warm-up wrk run failed for $srv /$f"
        done
    done
fi

# Results per "server|file": space-separated values, one per round.
declare -A RPS=() P50=() P99=() ERRS=()

for ((round = 1; round <= ROUNDS; round++)); do
    # Alternate which server goes first so neither always runs on a
    # machine that the other one just warmed up (or heated up).
    if ((round % 2)); then order=("${SERVERS[@]}"); else order=(nginx expserverd); fi
    for f in "${FILES[@]}"; do
        for srv in "${order[@]}"; do
            assert_alive "$srv" "${PID[$srv]}"
            raw="$RUN_OUT/wrk-$srv-$f-r$round.txt"
            run_wrk "${BASE_URL[$srv]}/$f" "$raw" "${WRK_ARGS[@]}" || die "wrk run failed for $srv /$f (see $raw)"
            rps=$WRK_RPS p50=$WRK_P50_MS p99=$WRK_P99_MS errs=$WRK_ERRORS
            k="$srv|$f"
            RPS[$k]+="$rps "
            P50[$k]+="$p50 "
            P99[$k]+="$p99 "
            ERRS[$k]=$((${ERRS[$k]:-0} + errs))
            log "round $round/$ROUNDS  $(printf '%-10s %-10s %10.1f req/s  p50 %7.2f ms  p99 %7.2f ms  errors %d' \
                "$srv" "$f" "$rps" "$p50" "$p99" "$errs")"
        done
    done
done
for srv in "${SERVERS[@]}"; do assert_alive "$srv" "${PID[$srv]}"; done

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

# shellcheck disable=SC2086  # the per-round lists are meant to be word-split
print_table() {
    printf '%-11s %-11s %12s %10s %10s %16s %7s\n' \
        server file "req/s" "p50 ms" "p99 ms" "expserverd/nginx" errors
    local f srv k rps p50 p99 ratio nginx_rps
    for f in "${FILES[@]}"; do
        nginx_rps=$(median ${RPS[nginx|$f]})
        for srv in "${SERVERS[@]}"; do
            k="$srv|$f"
            rps=$(median ${RPS[$k]})
            p50=$(median ${P50[$k]})
            p99=$(median ${P99[$k]})
            if [[ $srv == expserverd ]]; then
                ratio=$(awk -v a="$rps" -v b="$nginx_rps" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }')
            else
                ratio="-"
            fi
            printf '%-11s %-11s %12.1f %10.2f %10.2f %16s %7d\n' \
                "$srv" "$f" "$rps" "$p50" "$p99" "$ratio" "${ERRS[$k]}"
        done
    done
}

{
    echo "static file benchmark — $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "machine: $(nproc) cores; servers: $WORKERS workers each; wrk on the same machine"
    echo "wrk: -t $THREADS -c $CONNECTIONS -d $DURATION --latency$WRK_ARGS_TEXT, $ROUNDS rounds (median shown), warm-up $WARMUP"
    echo "nginx: $(nginx -v 2>&1 | sed 's/^nginx version: //'); expserverd: $EXPSERVERD_BIN" \
         "(git $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown))"
    echo
    print_table
    echo
    echo "per round (req/s):"
    for f in "${FILES[@]}"; do
        for srv in "${SERVERS[@]}"; do
            printf '  %-11s %-11s %s\n' "$srv" "$f" "${RPS[$srv|$f]% }"
        done
    done
    echo
    echo "raw wrk output, configs and server logs: $RUN_OUT"
} | tee "$RUN_OUT/summary.txt"

for k in "${!ERRS[@]}"; do
    ((ERRS[$k] == 0)) || warn "${k%%|*} /${k#*|}: ${ERRS[$k]} socket errors or non-2xx/3xx responses (see raw wrk output)"
done
