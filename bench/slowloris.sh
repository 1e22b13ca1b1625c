#!/usr/bin/env bash
#
# bench/slowloris.sh — a normal client's throughput and latency under a slowloris attack.
#
# For expserverd and nginx in turn (same workers, same 600-byte file): wrk measures a normal
# client with no attack (baseline), then again while SLOW (5,000) connections each trickle a
# header byte every 100 ms (python3 asyncio, reconnecting when the server closes them).
# expserverd uses `timeouts.header_ms` HEADER_MS (10 s); nginx `client_header_timeout` the same.
# Target: expserverd keeps ≥ 90% of its baseline req/s, with p99 under 10 ms.
#
# Knobs: WORKERS (nproc), DURATION (10s), CONNECTIONS (64), THREADS (2), SLOW (5000),
# HEADER_MS (10000), SKIP_BUILD=1. Only 127.0.0.1; every process started is stopped by PID.

set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$BENCH_DIR/lib.sh"

WORKERS=${WORKERS:-$(nproc)}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
SLOW=${SLOW:-5000}
HEADER_MS=${HEADER_MS:-10000}
SKIP_BUILD=${SKIP_BUILD:-0}
OUT_DIR=${OUT_DIR:-$BENCH_DIR/out}
BIN=$REPO_ROOT/.build/release/expserverd

ensure_pkg python3
ensure_pkg wrk
ensure_pkg nginx
if [[ $SKIP_BUILD != 1 ]]; then
    (cd "$REPO_ROOT" && swift build -c release --product expserverd) >&2
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

RUN_OUT="$OUT_DIR/slowloris-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$RUN_OUT"
BENCH_LOG_DIR=$RUN_OUT
bench_init

WWW="$BENCH_TMP/www"
mkdir -p "$WWW"
python3 -c 'print("<!DOCTYPE html><html><body>" + "<p>slowloris benchmark page</p>" * 18 + "</body></html>")' >"$WWW/small.html"
chmod -R a+rX "$WWW"

ports=$(pick_free_ports 2)
EXP_PORT=$(sed -n 1p <<<"$ports")
NGINX_PORT=$(sed -n 2p <<<"$ports")
cat >"$BENCH_TMP/exp.json" <<JSON
{ "workers": $WORKERS, "state_db": "$BENCH_TMP/exp.db", "control": { "socket": "$BENCH_TMP/exp.sock" },
  "timeouts": { "header_ms": $HEADER_MS },
  "servers": [ { "listeners": [ { "host": "127.0.0.1", "port": $EXP_PORT } ],
    "routes": [ { "req_path": "/", "type": "file_serve", "dir_path": "$WWW" } ] } ] }
JSON
start_bg expserverd "$BIN" "$BENCH_TMP/exp.json"
NGINX_WORKER_CONNECTIONS=$((SLOW * 2 + 1024)) nginx_start nginx "$WORKERS" "
    keepalive_requests 1000000;
    client_header_timeout $((HEADER_MS / 1000))s;
    server {
        listen 127.0.0.1:$NGINX_PORT backlog=4096;
        root $WWW;
    }"
wait_for_port 127.0.0.1 "$EXP_PORT" 10 || die "expserverd did not start"
wait_for_port 127.0.0.1 "$NGINX_PORT" 10 || die "nginx did not start"
sleep 1

cat >"$BENCH_TMP/slowloris.py" <<'PY'
import asyncio, sys
port, count, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
head = b"GET / HTTP/1.1\r\nHost: x\r\nX-a: " + b"b" * 100000
async def one(stop):
    while not stop.is_set():
        try:
            r, w = await asyncio.open_connection("127.0.0.1", port)
            for i in range(len(head)):
                if stop.is_set(): break
                w.write(head[i:i+1]); await w.drain()
                await asyncio.sleep(0.1)
            w.close()
        except Exception:
            await asyncio.sleep(0.1)
async def main():
    stop = asyncio.Event()
    tasks = [asyncio.create_task(one(stop)) for _ in range(count)]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
asyncio.run(main())
PY

declare -A RESULT=()
for srv in expserverd nginx; do
    port=$EXP_PORT
    [[ $srv == nginx ]] && port=$NGINX_PORT
    run_wrk "http://127.0.0.1:$port/small.html" "$RUN_OUT/$srv-baseline.txt" || die "wrk failed"
    RESULT[$srv-base]="$WRK_RPS $WRK_P99_MS $WRK_ERRORS"
    secs=$(duration_secs "$DURATION")
    python3 "$BENCH_TMP/slowloris.py" "$port" "$SLOW" $((secs + 6)) &
    attack=$!
    track_pid slowloris "$attack"
    sleep 4   # let the attack open its connections
    run_wrk "http://127.0.0.1:$port/small.html" "$RUN_OUT/$srv-attack.txt" || die "wrk failed under attack"
    RESULT[$srv-attack]="$WRK_RPS $WRK_P99_MS $WRK_ERRORS"
    wait "$attack" || true
    untrack_pid "$attack"
    log "$srv: baseline ${RESULT[$srv-base]} / attack ${RESULT[$srv-attack]}"
done

{
    echo "slowloris benchmark — $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) cores, $WORKERS workers, $SLOW slow connections, wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
    printf '%-11s %14s %10s %14s %10s %8s\n' server "base req/s" "base p99" "attack req/s" "attack p99" kept
    for srv in expserverd nginx; do
        read -r br bp _ <<<"${RESULT[$srv-base]}"
        read -r ar ap ae <<<"${RESULT[$srv-attack]}"
        printf '%-11s %14.1f %9.2fms %14.1f %9.2fms %7.0f%%  (errors under attack: %s)\n' "$srv" "$br" "$bp" "$ar" "$ap" \
            "$(awk -v a="$ar" -v b="$br" 'BEGIN{print 100*a/b}')" "$ae"
    done
} | tee "$RUN_OUT/summary.txt"
