#!/usr/bin/env bash
#
# bench/gzip.sh — gzip: expserverd vs nginx (gzip_comp_level 6), same workers, side by side.
#
# 1. Repeat requests: a ~100 KiB text file with `Accept-Encoding: gzip`, wrk, ROUNDS rounds
#    alternating servers (target: expserverd ≥ 20x nginx, from its compressed-variant cache).
# 2. First requests: 1,000 distinct ~100 KiB text files, each fetched once, gzip, by a
#    keep-alive Python client with 8 connections; wall time per server (target: ≥ 1.0x nginx).
# 3. Stall check: one client fetching a 10 MiB text file with gzip in a loop (too big to cache:
#    compressed as a stream every time) while wrk measures a small file on other connections;
#    expserverd's p99 with and without it (target: under 10 ms).
#
# Knobs: WORKERS (nproc), ROUNDS (3), DURATION (10s), CONNECTIONS (64), THREADS (2), FILES (1000),
# SKIP_BUILD=1. Only 127.0.0.1; every process started is stopped by PID on exit.

set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$BENCH_DIR/lib.sh"

WORKERS=${WORKERS:-$(nproc)}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
FILES=${FILES:-1000}
SKIP_BUILD=${SKIP_BUILD:-0}
OUT_DIR=${OUT_DIR:-$BENCH_DIR/out}
BIN=$REPO_ROOT/.build/release/expserverd

ensure_pkg python3
ensure_pkg wrk
ensure_pkg nginx
build_release expserverd
bench_run_dir gzip

WWW="$BENCH_TMP/www"
mkdir -p "$WWW/many"
python3 - "$WWW" "$FILES" <<'PY'
import os, random, sys
www, files = sys.argv[1], int(sys.argv[2])
rnd = random.Random(3)
words = "the quick brown fox jumps over lazy dog server request response header body gzip cache event loop".split()
def text(n):
    out = []
    size = 0
    while size < n:
        line = " ".join(rnd.choice(words) for _ in range(12)) + "\n"
        out.append(line)
        size += len(line)
    return "".join(out)[:n]
open(os.path.join(www, "text.txt"), "w").write(text(100 * 1024))
open(os.path.join(www, "small.txt"), "w").write(text(600))
open(os.path.join(www, "huge.txt"), "w").write(text(10 * 1024 * 1024))
base = text(100 * 1024)
for i in range(files):
    # distinct content per file (a different prefix), so no cache helps
    open(os.path.join(www, "many", "f%04d.txt" % i), "w").write(("file %d\n" % i) + base[:-10])
PY
chmod -R a+rX "$WWW"

ports=$(pick_free_ports 2)
EXP_PORT=$(sed -n 1p <<<"$ports")
NGINX_PORT=$(sed -n 2p <<<"$ports")
cat >"$BENCH_TMP/exp.json" <<JSON
{ "workers": $WORKERS, "state_db": "$BENCH_TMP/exp.db", "control": { "socket": "$BENCH_TMP/exp.sock" },
  "servers": [ { "listeners": [ { "host": "127.0.0.1", "port": $EXP_PORT } ],
    "routes": [ { "req_path": "/", "type": "file_serve", "dir_path": "$WWW", "gzip_enable": true, "gzip_level": 6 } ] } ] }
JSON
start_bg expserverd "$BIN" "$BENCH_TMP/exp.json"
nginx_start nginx "$WORKERS" "
    sendfile on;
    keepalive_requests 1000000;
    gzip on;
    gzip_comp_level 6;
    gzip_min_length 256;
    gzip_types text/plain;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WWW;
    }"
wait_for_port 127.0.0.1 "$EXP_PORT" 10 || die "expserverd did not start"
wait_for_port 127.0.0.1 "$NGINX_PORT" 10 || die "nginx did not start"
declare -A PORT=([expserverd]=$EXP_PORT [nginx]=$NGINX_PORT)

for srv in expserverd nginx; do
    enc=$(curl -s -o /dev/null -D - -H 'Accept-Encoding: gzip' "http://127.0.0.1:${PORT[$srv]}/text.txt" | tr -d '\r' | awk -F': ' 'tolower($1)=="content-encoding"{print $2}')
    [[ $enc == gzip ]] || die "$srv does not gzip text.txt"
done

# 1. repeat requests
declare -A RPS=() P99=()
for ((round = 1; round <= ROUNDS; round++)); do
    if ((round % 2)); then order=(expserverd nginx); else order=(nginx expserverd); fi
    for srv in "${order[@]}"; do
        run_wrk "http://127.0.0.1:${PORT[$srv]}/text.txt" "$RUN_OUT/repeat-$srv-r$round.txt" -H 'Accept-Encoding: gzip' || die "wrk failed"
        RPS[$srv]+="$WRK_RPS "
        P99[$srv]+="$WRK_P99_MS "
        log "repeat round $round $srv: $WRK_RPS req/s p99 $WRK_P99_MS ms (errors $WRK_ERRORS)"
    done
done

# 2. first request for each of FILES distinct files
first_fetch() {
    python3 - "$1" "$FILES" <<'PY'
import http.client, sys, threading, time
port, files = int(sys.argv[1]), int(sys.argv[2])
paths = ["/many/f%04d.txt" % i for i in range(files)]
lock = threading.Lock()
errors = [0]
def worker(k):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    for p in paths[k::8]:
        conn.request("GET", p, headers={"Accept-Encoding": "gzip"})
        r = conn.getresponse()
        body = r.read()
        if r.status != 200 or r.getheader("Content-Encoding") != "gzip" or not body:
            with lock:
                errors[0] += 1
t0 = time.time()
threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print("%.3f %d" % (time.time() - t0, errors[0]))
PY
}
declare -A FIRST=()
for srv in expserverd nginx; do
    read -r secs errs < <(first_fetch "${PORT[$srv]}")
    [[ $errs == 0 ]] || die "$srv: $errs bad responses in the first-request run"
    FIRST[$srv]=$secs
    log "first requests $srv: $FILES files in $secs s"
done

# 3. stall check (expserverd): small-file p99 alone, then while a client gzips huge.txt in a loop
run_wrk "http://127.0.0.1:$EXP_PORT/small.txt" "$RUN_OUT/stall-baseline.txt" || die "wrk failed"
base_p99=$WRK_P99_MS base_rps=$WRK_RPS
( end=$((SECONDS + $(duration_secs "$DURATION") + 2)); while ((SECONDS < end)); do
      curl -s -o /dev/null -H 'Accept-Encoding: gzip' "http://127.0.0.1:$EXP_PORT/huge.txt" || true
  done ) &
loader=$!
track_pid loader "$loader"
run_wrk "http://127.0.0.1:$EXP_PORT/small.txt" "$RUN_OUT/stall-loaded.txt" || die "wrk failed"
load_p99=$WRK_P99_MS load_rps=$WRK_RPS
stop_pid "$loader" 2>/dev/null || kill "$loader" 2>/dev/null || true

# shellcheck disable=SC2086
{
    echo "gzip benchmark — $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) cores, $WORKERS workers, wrk -t$THREADS -c$CONNECTIONS -d$DURATION x $ROUNDS"
    e=$(median ${RPS[expserverd]}) n=$(median ${RPS[nginx]})
    printf '%-34s %12s %12s %8s\n' test expserverd nginx ratio
    printf '%-34s %12.1f %12.1f %7.2fx\n' "repeat 100 KiB text (req/s)" "$e" "$n" "$(awk -v a="$e" -v b="$n" 'BEGIN{print a/b}')"
    printf '%-34s %12s %12s\n' "  p99 ms" "$(median ${P99[expserverd]})" "$(median ${P99[nginx]})"
    fe=${FIRST[expserverd]} fn=${FIRST[nginx]}
    printf '%-34s %12.3f %12.3f %7.2fx\n' "first request, $FILES files (s)" "$fe" "$fn" "$(awk -v a="$fe" -v b="$fn" 'BEGIN{print b/a}')"
    printf 'stall check (expserverd small file): p99 %.2f ms alone (%s req/s), %.2f ms while a 10 MiB file is gzipped in a loop (%s req/s)\n' \
        "$base_p99" "$base_rps" "$load_p99" "$load_rps"
} | tee "$RUN_OUT/summary.txt"
