#!/usr/bin/env bash
#
# bench/instructions.sh — user-space instructions per proxied request, counted by callgrind:
# expserverd, HAProxy and the raw NIO relay (`expbench relay`), one worker/thread each, proxying
# one keep-alive client's sequential requests for the ~600-byte page to one nginx backend.
#
# Unlike req/s on this shared 2-core machine (±20% between runs), the count repeats to within a
# fraction of a percent, so it tells whether a change to the request path made it cheaper, and
# by how much, without a quiet machine. It counts user-space instructions only (no kernel time,
# no cache effects), so it complements proxy.sh rather than replacing it.
#
# Each server runs twice under valgrind, for FEW and for MANY requests; (total(MANY) -
# total(FEW)) / (MANY - FEW) is the cost of one request, start-up and shutdown cancelling out.
# The client checks every answer (status 200, the page's length).
#
# Usage:  bench/instructions.sh
# Knobs (environment variables):
#   FEW=300 MANY=2300   requests of the two runs of each server
#   SKIP_BUILD=1        don't run `swift build` (use the existing binaries)
#   EXPSERVERD_BIN      path of the daemon (default .build/release/expserverd)
#   OUT_DIR             where run directories go (default bench/out)
#   KEEP_TMP=1          keep the temp dir
#
# Only 127.0.0.1 is contacted; every process started is stopped by PID on exit.

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$BENCH_DIR/lib.sh"

FEW=${FEW:-300}
MANY=${MANY:-2300}
EXPSERVERD_BIN=${EXPSERVERD_BIN:-$REPO_ROOT/.build/release/expserverd}
OUT_DIR=${OUT_DIR:-$BENCH_DIR/out}
HOST=127.0.0.1
FILE=small.html

[[ $FEW =~ ^[1-9][0-9]*$ && $MANY =~ ^[1-9][0-9]*$ ]] || die "FEW and MANY must be positive integers"
((MANY > FEW)) || die "MANY ($MANY) must be larger than FEW ($FEW)"

ensure_pkg valgrind
ensure_pkg strip binutils
ensure_pkg nginx
ensure_pkg haproxy
ensure_pkg python3

build_release expserverd expbench
EXPBENCH_BIN=$REPO_ROOT/.build/release/expbench
[[ -x $EXPSERVERD_BIN && -x $EXPBENCH_BIN ]] || die "release binaries not found (build them, or set EXPSERVERD_BIN)"

bench_run_dir instructions

WWW="$BENCH_TMP/www"
mkdir -p "$WWW"
write_small_html "$WWW/$FILE"
SIZE=$(stat -c %s "$WWW/$FILE")

ports=$(pick_free_ports 4) || die "could not pick free ports"
mapfile -t PORTS <<<"$ports"
BACKEND_PORT=${PORTS[0]}
declare -A PORT=([expserverd]=${PORTS[1]} [haproxy]=${PORTS[2]} [nio-relay]=${PORTS[3]})

nginx_start backend 1 "
    sendfile on;
    keepalive_timeout 65s;
    keepalive_requests 1000000;
    types { text/html html; }
    server {
        listen $HOST:$BACKEND_PORT;
        root $WWW;
        location / { }
    }"
wait_for_port "$HOST" "$BACKEND_PORT" 10 "$NGINX_PID"

# valgrind 3.19 cannot read the DWARF 5 debug info Swift emits: count copies without it.
strip --strip-debug -o "$BENCH_TMP/expserverd" "$EXPSERVERD_BIN"
strip --strip-debug -o "$BENCH_TMP/expbench" "$EXPBENCH_BIN"

cat >"$RUN_OUT/expserverd.json" <<EOF
{
  "workers": 1,
  "state_db": $(json_quote "$BENCH_TMP/exp.db"),
  "control": { "socket": $(json_quote "$BENCH_TMP/exp.sock") },
  "servers": [ { "listeners": [ { "host": "$HOST", "port": ${PORT[expserverd]} } ],
    "routes": [ { "req_path": "/", "type": "reverse_proxy", "upstreams": [ "$HOST:$BACKEND_PORT" ],
                  "upstream_keepalive": 8 } ] } ]
}
EOF
cat >"$RUN_OUT/haproxy.cfg" <<EOF
global
    nbthread 1
defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend fe
    bind $HOST:${PORT[haproxy]}
    default_backend be
backend be
    server b1 $HOST:$BACKEND_PORT
EOF

# The client: COUNT sequential requests on one connection, each answer checked.
cat >"$BENCH_TMP/client.py" <<'EOF'
import socket, sys
count, port, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port), timeout=60)
request = b"GET /small.html HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n\r\n" % port
for i in range(count):
    s.sendall(request)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit("connection closed after %d answers" % i)
        data += chunk
        end = data.find(b"\r\n\r\n")
        if end >= 0 and len(data) >= end + 4 + size:
            break
    if not data.startswith(b"HTTP/1.1 200"):
        sys.exit("answer %d: %r" % (i, data[:40]))
s.close()
EOF

command_for() {
    case $1 in
        expserverd) echo "$BENCH_TMP/expserverd $RUN_OUT/expserverd.json" ;;
        haproxy) echo "haproxy -f $RUN_OUT/haproxy.cfg -db" ;;
        nio-relay) echo "$BENCH_TMP/expbench relay ${PORT[nio-relay]} $HOST:$BACKEND_PORT" ;;
    esac
}

# count NAME N: COUNTED = total instructions of NAME's process over a run answering N requests.
# (Not a $(...) subshell: processes started there would be stopped when it exits.)
count() {
    local name=$1 n=$2 out="$RUN_OUT/callgrind-$1-$2.out" cmd
    read -ra cmd <<<"$(command_for "$name")"
    start_bg "$name-$n" valgrind --tool=callgrind --callgrind-out-file="$out" "${cmd[@]}"
    local pid=$BG_PID
    wait_for_port "$HOST" "${PORT[$name]}" 120 "$pid"
    python3 "$BENCH_TMP/client.py" "$n" "${PORT[$name]}" "$SIZE" || die "$name: the client failed"
    stop_pid "$pid" 30
    untrack_pid "$pid"
    [[ -s $out ]] || die "$name: callgrind wrote no profile"
    COUNTED=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ && !done { gsub(",", "", $1); print $1; done = 1 }')
    [[ $COUNTED =~ ^[0-9]+$ ]] || die "$name: no instruction total in $out"
}

declare -A PER_REQUEST=()
for name in expserverd haproxy nio-relay; do
    log "$name: $FEW and $MANY requests under callgrind"
    count "$name" "$FEW"
    few=$COUNTED
    count "$name" "$MANY"
    many=$COUNTED
    PER_REQUEST[$name]=$(((many - few) / (MANY - FEW)))
done

{
    echo "user-space instructions per proxied request (callgrind; one worker, one keep-alive client) — $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "expserverd: $EXPSERVERD_BIN (git $(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')); haproxy: $(dpkg-query -W -f='${Version}' haproxy 2>/dev/null)"
    echo
    printf '%-12s %14s %10s\n' proxy instructions "vs hap"
    for name in expserverd haproxy nio-relay; do
        printf '%-12s %14d %9.2fx\n' "$name" "${PER_REQUEST[$name]}" \
            "$(awk -v a="${PER_REQUEST[$name]}" -v b="${PER_REQUEST[haproxy]}" 'BEGIN { print a / b }')"
    done
    echo
    echo "profiles: $RUN_OUT/callgrind-*.out (callgrind_annotate FILE)"
} | tee "$RUN_OUT/summary.txt"
