#!/usr/bin/env bash
#
# bench/stats.sh — what statistics collection costs: two expserverd serving the same 600-byte
# file, one with `stats.enabled: false`, driven side by side by wrk, ROUNDS rounds alternating.
# Target: the difference is at most 3% of small-file req/s.
#
# Knobs: WORKERS (nproc), ROUNDS (5), DURATION (10s), CONNECTIONS (64), THREADS (2), SKIP_BUILD=1.

set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$BENCH_DIR/lib.sh"

WORKERS=${WORKERS:-$(nproc)}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
SKIP_BUILD=${SKIP_BUILD:-0}
OUT_DIR=${OUT_DIR:-$BENCH_DIR/out}
BIN=$REPO_ROOT/.build/release/expserverd

ensure_pkg wrk
build_release expserverd
bench_run_dir stats

WWW="$BENCH_TMP/www"
mkdir -p "$WWW"
head -c 600 /dev/zero | tr '\0' 'x' >"$WWW/small.html"
chmod -R a+rX "$WWW"
ports=$(pick_free_ports 2)
declare -A PORT=([on]=$(sed -n 1p <<<"$ports") [off]=$(sed -n 2p <<<"$ports"))
for which in on off; do
    enabled=true
    [[ $which == off ]] && enabled=false
    cat >"$BENCH_TMP/$which.json" <<JSON
{ "workers": $WORKERS, "state_db": "$BENCH_TMP/$which.db", "control": { "socket": "$BENCH_TMP/$which.sock" },
  "stats": { "enabled": $enabled },
  "servers": [ { "listeners": [ { "host": "127.0.0.1", "port": ${PORT[$which]} } ],
    "routes": [ { "req_path": "/", "type": "file_serve", "dir_path": "$WWW" } ] } ] }
JSON
    start_bg "stats-$which" "$BIN" "$BENCH_TMP/$which.json"
    wait_for_port 127.0.0.1 "${PORT[$which]}" 10 || die "expserverd ($which) did not start"
done

declare -A RPS=()
for ((round = 1; round <= ROUNDS; round++)); do
    if ((round % 2)); then order=(on off); else order=(off on); fi
    for which in "${order[@]}"; do
        run_wrk "http://127.0.0.1:${PORT[$which]}/small.html" "$RUN_OUT/wrk-$which-r$round.txt" || die "wrk failed"
        RPS[$which]+="$WRK_RPS "
        log "round $round stats $which: $WRK_RPS req/s"
    done
done
# shellcheck disable=SC2086
{
    on=$(median ${RPS[on]}) off=$(median ${RPS[off]})
    echo "stats cost — $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) cores, $WORKERS workers, $ROUNDS rounds"
    printf 'stats on:  %.1f req/s\nstats off: %.1f req/s\ncost: %.1f%%\n' "$on" "$off" "$(awk -v a="$on" -v b="$off" 'BEGIN{print (1-a/b)*100}')"
} | tee "$RUN_OUT/summary.txt"
