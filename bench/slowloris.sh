#!/usr/bin/env bash
#
# bench/slowloris.sh — a normal client's throughput and latency under a slowloris attack.
#
# For expserverd and nginx in turn (same workers, same 600-byte file): wrk measures a normal
# client with no attack (baseline), then again while SLOW (5,000) connections each trickle a
# header byte every 100 ms, reopened as soon as the server closes them (bench/slowloris.c: one
# thread, epoll, compiled here with cc, so that the attacker takes little of the machine it
# shares with the server; its report — bytes sent, connections opened, held open on average —
# goes into the summary). expserverd uses `timeouts.header_ms` HEADER_MS (10 s); nginx
# `client_header_timeout` the same. The summary also gives each server's and the attacker's CPU
# during the attacked run, and the server's CPU for ATTACK_ONLY (6) more seconds of attack with
# no wrk: what the attack alone costs each server.
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
ATTACK_ONLY=${ATTACK_ONLY:-6}   # seconds of attack without wrk, to measure its cost to the server alone
SKIP_BUILD=${SKIP_BUILD:-0}
OUT_DIR=${OUT_DIR:-$BENCH_DIR/out}
BIN=$REPO_ROOT/.build/release/expserverd

ensure_pkg python3
ensure_pkg gcc
ensure_pkg wrk
ensure_pkg nginx
build_release expserverd
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
bench_run_dir slowloris

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
EXP_PID=$BG_PID
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

ATTACKER="$BENCH_TMP/slowloris"
cc -O2 -Wall -o "$ATTACKER" "$BENCH_DIR/slowloris.c" || die "could not compile bench/slowloris.c"

# cpu_secs PID: user+system CPU seconds of PID so far (all threads, and its children's).
cpu_secs() {
    awk -v t="$(cpu_ticks "$1")" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz }'
}

declare -A RESULT=() SERVER_PID=([expserverd]=$EXP_PID [nginx]=$NGINX_PID) CPU=() ATTACK_REPORT=()
for srv in expserverd nginx; do
    port=$EXP_PORT
    [[ $srv == nginx ]] && port=$NGINX_PORT
    run_wrk "http://127.0.0.1:$port/small.html" "$RUN_OUT/$srv-baseline.txt" || die "wrk failed"
    RESULT[$srv-base]="$WRK_RPS $WRK_P99_MS $WRK_ERRORS"
    secs=$(duration_secs "$DURATION")
    "$ATTACKER" "$port" "$SLOW" $((secs + 4 + ATTACK_ONLY + 2)) 2>"$RUN_OUT/$srv-attacker.txt" &
    attack=$!
    track_pid slowloris "$attack"
    sleep 4   # let the attack open its connections
    s0=$(cpu_secs "${SERVER_PID[$srv]}") a0=$(cpu_secs "$attack")
    run_wrk "http://127.0.0.1:$port/small.html" "$RUN_OUT/$srv-attack.txt" || die "wrk failed under attack"
    s1=$(cpu_secs "${SERVER_PID[$srv]}") a1=$(cpu_secs "$attack")
    RESULT[$srv-attack]="$WRK_RPS $WRK_P99_MS $WRK_ERRORS"
    # Then the attack alone: what it costs the server by itself.
    s2=$(cpu_secs "${SERVER_PID[$srv]}")
    sleep "$ATTACK_ONLY"
    s3=$(cpu_secs "${SERVER_PID[$srv]}")
    CPU[$srv]=$(awk -v s0="$s0" -v s1="$s1" -v a0="$a0" -v a1="$a1" -v d="$secs" -v s2="$s2" -v s3="$s3" -v o="$ATTACK_ONLY" \
        'BEGIN { printf "with wrk: server %.2f cores, attacker %.2f cores; attack alone: server %.3f cores", (s1 - s0) / d, (a1 - a0) / d, (s3 - s2) / o }')
    wait "$attack" || true
    untrack_pid "$attack"
    ATTACK_REPORT[$srv]=$(cat "$RUN_OUT/$srv-attacker.txt")
    log "$srv: baseline ${RESULT[$srv-base]} / attack ${RESULT[$srv-attack]} (${CPU[$srv]})"
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
    echo "CPU (cores):"
    for srv in expserverd nginx; do printf '  %-11s %s\n' "$srv" "${CPU[$srv]}"; done
    echo "attacker:"
    for srv in expserverd nginx; do printf '  %-11s %s\n' "$srv" "${ATTACK_REPORT[$srv]}"; done
    echo "target: expserverd keeps >= 90% of its baseline req/s with p99 < 10 ms"
} | tee "$RUN_OUT/summary.txt"
