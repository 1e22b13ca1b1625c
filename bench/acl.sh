#!/usr/bin/env bash
#
# bench/acl.sh — the global access list under load.
#
# 1. `expbench acl`: builds an IPSet of 100,000 mixed IPv4/IPv6 deny prefixes and reports build
#    time, memory per entry and lookup ns/op (random addresses, and 1,000 recurring clients).
# 2. Two expserverd on 127.0.0.1 serving the same ~600-byte file: one with an empty access list,
#    one with 100,000 deny entries (mixed IPv4/IPv6, prefix lengths /16-/32 and /32-/128; none
#    matches 127.0.0.1). wrk drives both side by side, alternating, ROUNDS times; the table shows
#    the ratio (target: within 5%).
# 3. The `expctl acl deny` round trip (CLI start, control socket, durable SQLite commit, answer),
#    timed over REPS runs: median and p99 (target: under 50 ms).
#
# Knobs: WORKERS ($(nproc)), ROUNDS (3), DURATION (10s), CONNECTIONS (64), THREADS (2),
# ENTRIES (100000), REPS (100), SKIP_BUILD=1. Only 127.0.0.1 is contacted; every process started
# is stopped by PID on exit.

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
ENTRIES=${ENTRIES:-100000}
REPS=${REPS:-100}
SKIP_BUILD=${SKIP_BUILD:-0}
OUT_DIR=${OUT_DIR:-$BENCH_DIR/out}
BIN=$REPO_ROOT/.build/release

ensure_pkg python3
ensure_pkg wrk
build_release expserverd expctl expbench
bench_run_dir acl

log "lookup micro-benchmark (expbench acl $ENTRIES)"
"$BIN/expbench" acl "$ENTRIES" | tee "$RUN_OUT/expbench.txt"

WWW="$BENCH_TMP/www"
mkdir -p "$WWW"
python3 -c 'print("<!DOCTYPE html><html><body>" + "<p>access list benchmark page</p>" * 18 + "</body></html>")' >"$WWW/small.html"

ports=$(pick_free_ports 2)
PORT_EMPTY=$(sed -n 1p <<<"$ports")
PORT_FULL=$(sed -n 2p <<<"$ports")

# write_config FILE PORT NAME DENY_JSON_FILE|""
write_config() {
    python3 - "$@" "$WWW" "$WORKERS" "$BENCH_TMP" <<'PY'
import json, random, sys
path, port, name, entries, www, workers, tmp = sys.argv[1:8]
entries = int(entries)
rnd = random.Random(7)
deny = []
for i in range(entries):
    if i % 2 == 0:
        length = rnd.randint(16, 32)
        a = rnd.getrandbits(32)
        while (a >> 24) == 127:  # never cover the benchmark client
            a = rnd.getrandbits(32)
        a &= (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF
        deny.append("%d.%d.%d.%d/%d" % (a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255, length))
    else:
        length = rnd.randint(32, 128)
        a = (0x2001 << 112) | rnd.getrandbits(112)
        a &= ((1 << 128) - 1) ^ ((1 << (128 - length)) - 1)
        groups = ["%x" % ((a >> (112 - 16 * k)) & 0xFFFF) for k in range(8)]
        deny.append(":".join(groups) + "/%d" % length)
config = {
    "workers": int(workers), "state_db": "%s/%s.db" % (tmp, name),
    "control": {"socket": "%s/%s.sock" % (tmp, name)},
    "acl": {"deny": deny},
    "servers": [{"listeners": [{"host": "127.0.0.1", "port": int(port)}],
                 "routes": [{"req_path": "/", "type": "file_serve", "dir_path": www}]}],
}
json.dump(config, open(path, "w"))
PY
}
write_config "$BENCH_TMP/empty.json" "$PORT_EMPTY" empty 0
write_config "$BENCH_TMP/full.json" "$PORT_FULL" full "$ENTRIES"

start_bg empty "$BIN/expserverd" "$BENCH_TMP/empty.json"
start_bg full "$BIN/expserverd" "$BENCH_TMP/full.json"
wait_for_port 127.0.0.1 "$PORT_EMPTY" 10 || die "expserverd (empty list) did not start"
wait_for_port 127.0.0.1 "$PORT_FULL" 30 || die "expserverd ($ENTRIES entries) did not start"

declare -A RPS=() P99=()
for ((round = 1; round <= ROUNDS; round++)); do
    if ((round % 2)); then order=(empty full); else order=(full empty); fi
    for which in "${order[@]}"; do
        port=$PORT_EMPTY
        [[ $which == full ]] && port=$PORT_FULL
        run_wrk "http://127.0.0.1:$port/small.html" "$RUN_OUT/wrk-$which-r$round.txt" || die "wrk failed"
        [[ $WRK_ERRORS == 0 ]] || die "$which: $WRK_ERRORS errors (see $RUN_OUT/wrk-$which-r$round.txt)"
        RPS[$which]+="$WRK_RPS "
        P99[$which]+="$WRK_P99_MS "
        log "round $round/$ROUNDS $which: $WRK_RPS req/s, p99 $WRK_P99_MS ms"
    done
done

# expctl round trips against the daemon with the full list.
times=()
for ((i = 0; i < REPS; i++)); do
    t0=$(date +%s%N)
    "$BIN/expctl" acl deny "198.51.100.$((i % 250 + 1))" --socket "$BENCH_TMP/full.sock" --reason bench >/dev/null
    t1=$(date +%s%N)
    times+=("$(((t1 - t0) / 1000))")
done
rt_median=$(median "${times[@]}")
rt_p99=$(printf '%s\n' "${times[@]}" | sort -n | awk '{ v[NR] = $1 } END { i = int(NR * 0.99); if (i < 1) i = 1; print v[i] }')

# shellcheck disable=SC2086
{
    echo "access list benchmark — $(date -u '+%Y-%m-%d %H:%M:%S UTC'), $(nproc) cores, $WORKERS workers, wrk -t$THREADS -c$CONNECTIONS -d$DURATION x $ROUNDS"
    cat "$RUN_OUT/expbench.txt"
    e=$(median ${RPS[empty]}) f=$(median ${RPS[full]})
    printf '%-22s %12s %10s\n' list "req/s" "p99 ms"
    printf '%-22s %12.1f %10.2f\n' "empty" "$e" "$(median ${P99[empty]})"
    printf '%-22s %12.1f %10.2f\n' "$ENTRIES deny entries" "$f" "$(median ${P99[full]})"
    awk -v a="$f" -v b="$e" 'BEGIN { printf "ratio (full/empty): %.3f (%+.1f%%)\n", a / b, (a / b - 1) * 100 }'
    awk -v m="$rt_median" -v p="$rt_p99" -v n="$REPS" 'BEGIN { printf "expctl acl deny round trip (%d runs): median %.1f ms, p99 %.1f ms\n", n, m / 1000, p / 1000 }'
} | tee "$RUN_OUT/summary.txt"
