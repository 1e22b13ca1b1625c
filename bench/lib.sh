# shellcheck shell=bash
#
# bench/lib.sh — shared helpers for the expserver benchmark scripts.
#
# Source it from a benchmark script (which should itself `set -euo pipefail`):
#
#     source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#     bench_init              # temp dir + EXIT/INT/TERM cleanup traps
#
# What it provides (all generic; nothing here knows about a particular bench):
#
#   log MSG... / warn MSG... / die MSG...   messages on stderr
#   bench_init                  create $BENCH_TMP, install cleanup traps
#   ensure_pkg CMD [PKG]        apt-get install PKG if CMD / PKG is missing
#   pick_free_port              print one free TCP port on 127.0.0.1
#   pick_free_ports N           print N distinct free ports, one per line
#   wait_for_port HOST PORT [TIMEOUT_S] [PID]
#                               wait until HOST:PORT accepts connections
#   start_bg NAME CMD...        start CMD in the background, log to
#                               $BENCH_LOG_DIR/NAME.log, record its PID
#                               (sets BG_PID)
#   assert_alive NAME PID       die (with the log tail) if PID has exited
#   stop_pid PID                TERM, wait, then KILL; reaps the child
#   stop_all                    stop every process start_bg recorded
#   duration_secs DUR           wrk-style duration (10s, 2m, 1h, 30) -> seconds
#   track_pid NAME PID / untrack_pid PID
#                               add/remove a PID to/from what stop_all stops
#   run_wrk URL OUTFILE         run wrk, save raw output, set WRK_RPS,
#                               WRK_P50_MS, WRK_P99_MS, WRK_ERRORS
#   parse_wrk FILE              print "REQ_PER_SEC P50_MS P99_MS ERRORS"
#   median NUM...               median of numbers
#   json_quote STRING           STRING as a JSON string literal
#   check_http_body URL FILE    GET URL, compare the body with FILE
#   nginx_start NAME WORKERS HTTP_BODY
#                               run a private foreground nginx (sets
#                               NGINX_PID, NGINX_PREFIX)
#   build_release PRODUCT...    scripts/build-release PRODUCT... (the
#                               deployment build), unless SKIP_BUILD=1
#                               (needs REPO_ROOT)
#   bench_run_dir NAME          RUN_OUT (OUT_DIR/NAME-<time> unless set), a
#                               NAME-latest link, server logs there, then
#                               bench_init
#   check_knobs VAR...          each VAR a positive integer, THREADS <=
#                               CONNECTIONS, DURATION (and WARMUP) valid
#   write_small_html FILE       the ~600-byte page of static.sh and proxy.sh
#
# Every process is started by us, tracked by PID and stopped by PID at exit,
# including on Ctrl-C. Nothing is ever killed by name.

# Globals such as BG_PID, NGINX_PID and WRK_RPS are set here for the caller.
# shellcheck disable=SC2034

# ---------------------------------------------------------------------------
# Messages
# ---------------------------------------------------------------------------

log()  { printf '[bench] %s\n' "$*" >&2; }
warn() { printf '[bench] WARNING: %s\n' "$*" >&2; }
die()  { printf '[bench] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------
# Temp dir, process bookkeeping and cleanup
# ---------------------------------------------------------------------------

BENCH_TMP=""           # private scratch dir, removed at exit (unless KEEP_TMP=1)
BENCH_LOG_DIR=""       # where start_bg writes NAME.log (defaults to $BENCH_TMP)
BENCH_PIDS=()          # PIDs started by start_bg, in start order
BENCH_PID_NAMES=()     # matching names, for messages
BG_PID=""              # PID of the last start_bg
_BENCH_CLEANED=0

# bench_init: create the temp dir and install the traps. Call once, early.
bench_init() {
    BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/expserver-bench.XXXXXX")
    BENCH_LOG_DIR=${BENCH_LOG_DIR:-$BENCH_TMP}
    trap bench_cleanup EXIT
    # Turn signals into a normal exit so the EXIT trap runs exactly once.
    trap 'log "interrupted"; exit 130' INT
    trap 'log "terminated"; exit 143' TERM
    trap 'exit 129' HUP
}

# bench_cleanup: EXIT trap. Stops our processes, removes the temp dir.
bench_cleanup() {
    local rc=$?
    [[ $_BENCH_CLEANED == 1 ]] && return "$rc"
    _BENCH_CLEANED=1
    trap '' INT TERM HUP   # don't let a second Ctrl-C interrupt the cleanup
    stop_all
    if [[ -n $BENCH_TMP && -d $BENCH_TMP ]]; then
        if [[ ${KEEP_TMP:-0} == 1 ]]; then
            log "keeping temp dir $BENCH_TMP"
        else
            rm -rf -- "$BENCH_TMP"
        fi
    fi
    return "$rc"
}

# _pid_running PID: true while PID exists and is not a zombie.
_pid_running() {
    local pid=$1 state
    [[ -r /proc/$pid/stat ]] || return 1
    # Field 3 of /proc/PID/stat is the state; the command name (field 2) is in
    # parentheses and may contain spaces, so strip through the last ')'.
    state=$(sed -e 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [[ -n $state && $state != Z && $state != X ]]
}

# start_bg NAME CMD...: run CMD in the background with stdin from /dev/null
# and stdout+stderr to $BENCH_LOG_DIR/NAME.log. Records the PID for stop_all
# and leaves it in BG_PID. Must be called in the main shell (not inside
# $(...)), otherwise the PID would not be recorded.
start_bg() {
    local name=$1; shift
    [[ -n $BENCH_TMP ]] || die "start_bg: call bench_init first"
    local logf="$BENCH_LOG_DIR/$name.log"
    # `exec` makes the PID that $! reports the PID of CMD itself. `setsid`
    # (which execs too: a background child is never a process group leader)
    # puts CMD in its own session, so a Ctrl-C on the terminal reaches only
    # the script and wrk; the servers are then stopped by PID from the trap.
    # (Without it nginx, which handles SIGINT itself, would die mid-run.)
    ( exec setsid "$@" ) </dev/null >"$logf" 2>&1 &
    BG_PID=$!
    track_pid "$name" "$BG_PID"
    log "started $name (pid $BG_PID): $*"
}

# track_pid NAME PID / untrack_pid PID: add a process started some other way
# to (or remove it from) the set that stop_all stops.
track_pid() {
    BENCH_PIDS+=("$2")
    BENCH_PID_NAMES+=("$1")
}
untrack_pid() {
    local i pids=() names=()
    for i in "${!BENCH_PIDS[@]}"; do
        if [[ ${BENCH_PIDS[i]} != "$1" ]]; then
            pids+=("${BENCH_PIDS[i]}")
            names+=("${BENCH_PID_NAMES[i]}")
        fi
    done
    BENCH_PIDS=("${pids[@]}")
    BENCH_PID_NAMES=("${names[@]}")
}

# assert_alive NAME PID: die with the tail of NAME's log if PID is gone.
assert_alive() {
    local name=$1 pid=$2
    if ! _pid_running "$pid"; then
        warn "$name (pid $pid) is not running; last lines of its log:"
        tail -n 20 "$BENCH_LOG_DIR/$name.log" >&2 2>/dev/null || true
        # An nginx started by nginx_start logs most errors to its error.log.
        if [[ -s $BENCH_TMP/$name/logs/error.log ]]; then
            warn "last lines of $BENCH_TMP/$name/logs/error.log:"
            tail -n 20 "$BENCH_TMP/$name/logs/error.log" >&2 || true
        fi
        die "$name exited unexpectedly"
    fi
}

# stop_pid PID [GRACE_S]: SIGTERM, wait up to GRACE_S (default 5) seconds,
# then SIGKILL. Reaps the process if it is our child.
stop_pid() {
    local pid=$1 grace=${2:-5} i
    if _pid_running "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < grace * 10; i++)); do
            _pid_running "$pid" || break
            sleep 0.1
        done
        if _pid_running "$pid"; then
            warn "pid $pid ignored SIGTERM for ${grace}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
}

# stop_all: stop every recorded process, newest first.
stop_all() {
    local i
    for ((i = ${#BENCH_PIDS[@]} - 1; i >= 0; i--)); do
        if _pid_running "${BENCH_PIDS[i]}"; then
            log "stopping ${BENCH_PID_NAMES[i]} (pid ${BENCH_PIDS[i]})"
        fi
        stop_pid "${BENCH_PIDS[i]}"
    done
    BENCH_PIDS=()
    BENCH_PID_NAMES=()
}

# ---------------------------------------------------------------------------
# Packages
# ---------------------------------------------------------------------------

_BENCH_APT_UPDATED=0

# ensure_pkg CMD [PKG]: make sure command CMD (from Debian package PKG,
# default CMD) is available. Installs with apt-get only if both
# `command -v CMD` and `dpkg -s PKG` say it is missing; runs `apt-get update`
# at most once per script.
ensure_pkg() {
    local cmd=$1 pkg=${2:-$1}
    if command -v "$cmd" >/dev/null 2>&1; then
        return 0
    fi
    if dpkg -s "$pkg" >/dev/null 2>&1; then
        die "package $pkg is installed but '$cmd' is not on PATH ($PATH)"
    fi
    command -v apt-get >/dev/null 2>&1 || die "$cmd is missing and apt-get is not available; install $pkg"
    local sudo=()
    if [[ $EUID -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "$cmd is missing; need root (or sudo) to install $pkg"
        sudo=(sudo)
    fi
    if [[ $_BENCH_APT_UPDATED == 0 ]]; then
        log "apt-get update"
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        _BENCH_APT_UPDATED=1
    fi
    # Packages like nginx try to start a system-wide service from their
    # postinst. Deny that with a temporary policy-rc.d (only if the system
    # has none) so installing never leaves a daemon we did not start.
    local policy=/usr/sbin/policy-rc.d added_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
        "${sudo[@]}" chmod 755 "$policy"
        added_policy=1
    fi
    log "apt-get install $pkg"
    local rc=0
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "$pkg" >&2 || rc=$?
    if [[ $added_policy == 1 ]]; then
        "${sudo[@]}" rm -f "$policy"
    fi
    [[ $rc == 0 ]] || die "apt-get install $pkg failed"
    command -v "$cmd" >/dev/null 2>&1 || die "installed $pkg but $cmd is still not on PATH"
}

# ---------------------------------------------------------------------------
# Ports
# ---------------------------------------------------------------------------

# pick_free_ports N: print N distinct free TCP ports on 127.0.0.1. All N
# sockets are held open at once so the kernel cannot hand out a duplicate.
# (A port can still be taken by someone else before our server binds it;
# wait_for_port/assert_alive will then report the failure.)
pick_free_ports() {
    local n=${1:-1}
    python3 - "$n" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
for s in socks:
    s.close()
PY
}

# pick_free_port: print one free TCP port on 127.0.0.1.
pick_free_port() { pick_free_ports 1; }

# wait_for_port HOST PORT [TIMEOUT_S] [PID]: poll until HOST:PORT accepts a
# TCP connection. Returns 1 after TIMEOUT_S seconds (default 10), or at once
# if PID is given and that process has exited.
wait_for_port() {
    local host=$1 port=$2 timeout_s=${3:-10} pid=${4:-}
    local deadline=$((SECONDS + timeout_s))
    while ((SECONDS < deadline)); do
        if [[ -n $pid ]] && ! _pid_running "$pid"; then
            return 1
        fi
        # bash's /dev/tcp; `timeout` bounds a connect that hangs.
        # shellcheck disable=SC2016  # $0/$1 expand in the inner bash
        if timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# ---------------------------------------------------------------------------
# HTTP / wrk
# ---------------------------------------------------------------------------

# duration_secs DUR: convert a wrk duration (e.g. 10, 10s, 2m, 1h) to seconds.
duration_secs() {
    local d=$1
    case $d in
        *[0-9]s) echo "${d%s}" ;;
        *[0-9]m) echo $((${d%m} * 60)) ;;
        *[0-9]h) echo $((${d%h} * 3600)) ;;
        *[0-9])  echo "$d" ;;
        *) die "bad duration: $d (use e.g. 10s, 2m)" ;;
    esac
}

# run_bounded NAME SECONDS OUT CMD...: runs CMD (a load generator meant to take SECONDS) with its
# output in OUT, stopped if it takes 30 s longer, tracked so the EXIT trap stops it on Ctrl-C; on
# a non-zero status, warns with the output and returns 1.
run_bounded() {
    local name=$1 secs=$2 out=$3 pid rc=0
    shift 3
    timeout -k 5 $((secs + 30)) "$@" </dev/null >"$out" 2>&1 &
    pid=$!
    track_pid "$name" "$pid"
    wait "$pid" || rc=$?
    untrack_pid "$pid"
    if [[ $rc != 0 ]]; then
        warn "$name exited with status $rc; output:"
        cat "$out" >&2
        return 1
    fi
}

# run_wrk URL OUTFILE [EXTRA_WRK_ARGS...]: run wrk against URL with
# $THREADS threads, $CONNECTIONS connections for $DURATION, with --latency.
# The raw output is written to OUTFILE. On success sets
#     WRK_RPS WRK_P50_MS WRK_P99_MS WRK_ERRORS
# where WRK_ERRORS = socket errors (connect+read+write+timeout) + non-2xx/3xx
# responses. The run is bounded by `timeout` (duration + 30 s).
#
# Call it directly, not inside $(...): wrk is run in the background and
# waited for with `wait`, the only way a Ctrl-C reliably reaches our trap.
# (wrk catches SIGINT and exits 0 with a partial report; bash then ignores
# the SIGINT for a foreground command, so the script would just go on.)
WRK_RPS="" WRK_P50_MS="" WRK_P99_MS="" WRK_ERRORS=""
run_wrk() {
    local url=$1 out=$2; shift 2
    local threads=${THREADS:-2} conns=${CONNECTIONS:-64} dur=${DURATION:-10s}
    local res
    WRK_RPS="" WRK_P50_MS="" WRK_P99_MS="" WRK_ERRORS=""
    run_bounded wrk "$(duration_secs "$dur")" "$out" \
        wrk --latency -t "$threads" -c "$conns" -d "$dur" "$@" "$url" || return 1
    res=$(parse_wrk "$out") || return 1
    read -r WRK_RPS WRK_P50_MS WRK_P99_MS WRK_ERRORS <<<"$res"
}

# parse_wrk FILE: parse wrk --latency output, print
# "REQ_PER_SEC P50_MS P99_MS ERRORS" (latencies converted to milliseconds).
parse_wrk() {
    awk '
        function ms(v,   n, u) {
            n = v; sub(/[a-z]+$/, "", n); u = v; sub(/^[0-9.]+/, "", u)
            if (u == "us") return n / 1000
            if (u == "ms") return n
            if (u == "s")  return n * 1000
            if (u == "m")  return n * 60000
            if (u == "h")  return n * 3600000
            return -1
        }
        /^Requests\/sec:/               { rps = $2 }
        /^[ \t]+50%[ \t]/               { p50 = ms($2) }
        /^[ \t]+99%[ \t]/               { p99 = ms($2) }
        /Socket errors:/ {
            # Socket errors: connect 0, read 0, write 0, timeout 0
            for (i = 3; i <= NF; i += 2) { v = $(i + 1); sub(/,/, "", v); errs += v }
        }
        /Non-2xx or 3xx responses:/     { errs += $NF }
        END {
            if (rps == "" || p50 == "" || p99 == "") exit 1
            printf "%s %.3f %.3f %d\n", rps, p50, p99, errs
        }
    ' "$1" || { warn "could not parse wrk output in $1"; return 1; }
}

# median NUM...: print the median (mean of the middle two for even counts).
median() {
    printf '%s\n' "$@" | sort -g | awk '
        { v[NR] = $1 }
        END {
            if (NR == 0) exit 1
            if (NR % 2) print v[(NR + 1) / 2]
            else        print (v[NR / 2] + v[NR / 2 + 1]) / 2
        }'
}

# cpu_ticks PID: user+system CPU time (clock ticks, CLK_TCK a second) of PID (all its threads)
# plus that of its direct children (nginx's workers). On a busy machine CPU time per request is
# steadier than req/s.
cpu_ticks() {
    local pid=$1 total=0 p t
    for p in "$pid" $(ps -o pid= --ppid "$pid" 2>/dev/null); do
        # Fields 14 and 15 (utime, stime) counted after the ")" that ends the command name.
        t=$(sed -e 's/^.*) //' "/proc/$p/stat" 2>/dev/null | awk '{ print $12 + $13 }') || continue
        total=$((total + ${t:-0}))
    done
    echo "$total"
}
CLK_TCK=$(getconf CLK_TCK)

# ratio A B: A/B with two decimals and an x, or n/a.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }

# paired A-LIST B-LIST higher|lower: the per-round ratios A/B (each round runs the servers back to
# back, so a round's ratio is free of the drift between rounds): their mean, its standard error,
# and in how many rounds A did as well as B or better (a higher or a lower value being better).
paired() {
    awk -v a="$1" -v b="$2" -v better="$3" 'BEGIN {
        n = split(a, x, " "); split(b, y, " "); k = 0; s = 0; ss = 0; ok = 0
        for (i = 1; i <= n; i++) if (y[i] > 0) {
            r = x[i] / y[i]; k++; s += r; ss += r * r
            ok += (better == "higher" ? r >= 1 : r <= 1)
        }
        if (k == 0) { print "n/a"; exit }
        m = s / k; se = (k > 1) ? sqrt((ss - k * m * m) / (k - 1) / k) : 0
        printf "%.3fx +- %.3f (as good or better in %d of %d rounds)", m, se, ok, k
    }'
}

# json_quote STRING: print STRING as a JSON string literal (with quotes).
json_quote() {
    python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"
}

# check_http_body URL FILE: GET URL (status must be 2xx) and compare the body
# byte for byte with FILE. Bounded to 10 s.
check_http_body() {
    local url=$1 want=$2 got
    got=$(mktemp "$BENCH_TMP/body.XXXXXX")
    if ! curl -fsS --max-time 10 -o "$got" "$url"; then
        rm -f "$got"
        warn "GET $url failed"
        return 1
    fi
    if ! cmp -s "$got" "$want"; then
        warn "GET $url: body differs from $want ($(stat -c %s "$got") vs $(stat -c %s "$want") bytes)"
        rm -f "$got"
        return 1
    fi
    rm -f "$got"
}

# ---------------------------------------------------------------------------
# nginx
# ---------------------------------------------------------------------------

# Set by nginx_start, for the caller.
NGINX_PID=""
NGINX_PREFIX=""

# nginx_start NAME WORKERS HTTP_BODY: run a private nginx in the foreground
# (`daemon off`) with its own prefix $BENCH_TMP/NAME. HTTP_BODY is the
# contents of the http { } block (server blocks, upstreams, gzip, ...); this
# function supplies the rest: worker_processes WORKERS, pid file, error log
# and all temp paths inside the prefix, `user root` when running as root,
# access_log off. The config is checked with `nginx -t` first. Sets
# NGINX_PID and NGINX_PREFIX; the config is $NGINX_PREFIX/nginx.conf and the
# process log is $BENCH_LOG_DIR/NAME.log. Does not wait for the port: call
# wait_for_port afterwards.
nginx_start() {
    local name=$1 workers=$2 http_body=$3
    [[ -n $BENCH_TMP ]] || die "nginx_start: call bench_init first"
    local p="$BENCH_TMP/$name"
    mkdir -p "$p/logs" "$p/tmp/client_body" "$p/tmp/proxy" \
             "$p/tmp/fastcgi" "$p/tmp/uwsgi" "$p/tmp/scgi"
    local user_line=""
    [[ $EUID -eq 0 ]] && user_line="user root;"

    cat >"$p/nginx.conf" <<EOF
# Generated by bench/lib.sh nginx_start — private benchmark instance.
$user_line
worker_processes $workers;
pid $p/nginx.pid;
error_log $p/logs/error.log warn;

events {
    worker_connections ${NGINX_WORKER_CONNECTIONS:-4096};
}

http {
    access_log off;
    client_body_temp_path $p/tmp/client_body;
    proxy_temp_path       $p/tmp/proxy;
    fastcgi_temp_path     $p/tmp/fastcgi;
    uwsgi_temp_path       $p/tmp/uwsgi;
    scgi_temp_path        $p/tmp/scgi;

$http_body
}
EOF
    # -e stderr: the log used before the config is read goes to NAME.log
    # (otherwise nginx tries the compiled-in /var/log/nginx/error.log).
    local cmd=(nginx -p "$p" -e stderr -c "$p/nginx.conf" -g 'daemon off;')
    if ! "${cmd[@]}" -t -q >"$p/logs/nginx-t.log" 2>&1; then
        cat "$p/logs/nginx-t.log" >&2
        die "nginx config check failed: $p/nginx.conf"
    fi
    start_bg "$name" "${cmd[@]}"
    NGINX_PID=$BG_PID
    NGINX_PREFIX=$p
}

# ---------------------------------------------------------------------------
# Build and run directory (the same first steps of every benchmark)
# ---------------------------------------------------------------------------

# build_release PRODUCT...: the deployment build (scripts/build-release: static Swift runtime,
# no run-time exclusivity checks) of each PRODUCT, in REPO_ROOT, unless SKIP_BUILD=1.
build_release() {
    [[ ${SKIP_BUILD:-0} == 1 ]] && return 0
    log "building $* (scripts/build-release)"
    "$REPO_ROOT/scripts/build-release" "$@" >&2 || die "scripts/build-release failed for $*"
}

# bench_run_dir NAME: the run's output directory RUN_OUT (OUT_DIR/NAME-<date-time> unless the
# script set it already), a NAME-latest link to it beside it, server logs in it (BENCH_LOG_DIR),
# then bench_init (temp dir and cleanup traps from here on).
bench_run_dir() {
    RUN_OUT=${RUN_OUT:-$OUT_DIR/$1-$(date +%Y%m%d-%H%M%S)}
    mkdir -p "$RUN_OUT"
    ln -sfn "$(basename "$RUN_OUT")" "$OUT_DIR/$1-latest"
    BENCH_LOG_DIR=$RUN_OUT
    bench_init
}

# check_knobs VAR...: each named variable must be a positive integer; THREADS must not exceed
# CONNECTIONS; DURATION (and WARMUP, when set and not 0) must be wrk durations.
check_knobs() {
    local v
    for v in "$@"; do
        [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
    done
    ((THREADS <= CONNECTIONS)) || die "THREADS ($THREADS) must not exceed CONNECTIONS ($CONNECTIONS)"
    duration_secs "$DURATION" >/dev/null
    [[ ${WARMUP:-0} == 0 || ${WARMUP:-0} == 0s ]] || duration_secs "$WARMUP" >/dev/null
}

# write_small_html FILE: the small, fixed HTML page (~600 bytes) that static.sh serves and
# proxy.sh's backends serve, so that their figures compare.
write_small_html() {
    {
        printf '<!DOCTYPE html>\n<html>\n<head><meta charset="utf-8"><title>expserver bench</title></head>\n<body>\n'
        for i in $(seq 1 9); do
            printf '<p>Paragraph %02d of the small static benchmark page.</p>\n' "$i"
        done
        printf '</body>\n</html>\n'
    } >"$1"
}
