#!/usr/bin/env python3
"""Randomized robustness run of expserverd's reverse proxy (not part of `swift test`).

Starts expserverd (2 workers) in front of a fake upstream that answers with mutated responses
(headers and framing damaged, bodies cut, answers split at random points, 1xx/204/304/101,
Content-Length lists, transfer codings, connections dropped), with `gzip_proxied` on and a
static route beside it, while 8 client threads send valid, mutated and pipelined requests in
random pieces, close early, and read slowly. Afterwards the daemon must still be running, its
resident memory must not have grown past a bound, and a plain request must get an answer (502:
the upstream is stopped by then).

Usage:  scripts/fuzz-proxy.py [SECONDS=60] [SEED=1] [BINARY=.build/release/expserverd]
Exit status 0 when all of that holds, 1 otherwise. Only 127.0.0.1 is used, on free ports; the
daemon is stopped (SIGTERM, then SIGKILL) before it exits, and its files live in a temp dir
(removed afterwards unless the run failed).
"""
import json
import os
import shutil
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

DURATION = float(sys.argv[1]) if len(sys.argv) > 1 else 60
random.seed(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = sys.argv[3] if len(sys.argv) > 3 else os.path.join(REPO, ".build/release/expserverd")
RSS_GROWTH_LIMIT_KIB = 64 * 1024


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


BODY = b"x" * 37
RESPONSES = [
    b"HTTP/1.1 200 OK\r\nContent-Length: 37\r\nX-A: 1\r\n\r\n" + BODY,
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 37\r\nETag: \"e\"\r\n\r\n" + BODY,
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n" + b"z" * 4096 + b"\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n20\r\n" + b"y" * 32 + b"\r\n0\r\nT: 1\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nX: y\r\n\r\n" + BODY,
    b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\nabc",
    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + BODY,
    b"HTTP/1.1 101 Switching\r\nUpgrade: x\r\n\r\n",
]
REQUESTS = [
    b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /a HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n",
    b"GET /static/f.txt HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n",
    b"GET /static/ HTTP/1.1\r\nHost: h\r\n\r\n",
    b"HEAD /b HTTP/1.1\r\nHost: h\r\n\r\n",
    b"POST /c HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /d HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"GET /e HTTP/1.0\r\n\r\n",
    b"GET /f HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    b"PUT /g HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
]
INSERTS = [b"\r\n", b"\n", b":", b" ", b"\x00", b"0", b"ffffffffffffffffff", b"chunked",
           b"Content-Length: 9\r\n", b"Transfer-Encoding: gzip\r\n"]


def mutate(data):
    b = bytearray(data)
    for _ in range(random.choice([0, 0, 0, 1, 1, 2, 5])):
        if not b:
            break
        op, i = random.random(), random.randrange(len(b))
        if op < 0.3:
            b[i] = random.randrange(256)
        elif op < 0.5:
            del b[i:i + random.randrange(1, 8)]
        elif op < 0.7:
            b[i:i] = random.choice(INSERTS)
        else:
            b = b[:i]
    return bytes(b)


def send_in_pieces(sock, data):
    i = 0
    while i < len(data):
        n = random.randrange(1, len(data) - i + 1)
        sock.sendall(data[i:i + n])
        i += n
        if random.random() < 0.1:
            time.sleep(0.001)


def upstream(port, stop):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(512)
    srv.settimeout(0.5)

    def serve(conn):
        conn.settimeout(2)
        try:
            buf = b""
            while not stop.is_set():
                while b"\r\n\r\n" not in buf:
                    more = conn.recv(65536)
                    if not more:
                        return
                    buf += more
                buf = b""
                if random.random() < 0.05:
                    time.sleep(random.random() * 0.3)
                send_in_pieces(conn, mutate(random.choice(RESPONSES)))
                if random.random() < 0.2:
                    return
        except OSError:
            pass
        finally:
            conn.close()

    while not stop.is_set():
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(conn,), daemon=True).start()
    srv.close()


def client(port, stop, stats, lock):
    while not stop.is_set():
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=3)
            count = random.choice([1, 1, 2, 3])
            data = b"".join(mutate(random.choice(REQUESTS)) if random.random() < 0.3 else random.choice(REQUESTS)
                            for _ in range(count))
            send_in_pieces(s, data)
            if random.random() < 0.1:
                s.close()
                with lock:
                    stats["closed early"] += 1
                continue
            got, started = b"", time.time()
            while time.time() - started < 3:
                if random.random() < 0.05:
                    time.sleep(0.05)  # a slow reader
                try:
                    more = s.recv(random.choice([1, 16, 65536]))
                except socket.timeout:
                    break
                if not more:
                    break
                got += more
                if got.count(b"HTTP/1.") >= count and random.random() < 0.5:
                    break
            s.close()
            with lock:
                stats["exchanges"] += 1
        except OSError as e:
            with lock:
                stats[type(e).__name__] = stats.get(type(e).__name__, 0) + 1
            time.sleep(0.01)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(f.read().split("VmRSS:")[1].split()[0])


def main():
    work = tempfile.mkdtemp(prefix="expserver-fuzz-")
    os.makedirs(os.path.join(work, "www"))
    with open(os.path.join(work, "www", "f.txt"), "w") as f:
        f.write("hello fuzz " * 500)
    up, listen = free_port(), free_port()
    config = {
        "workers": 2, "state_db": os.path.join(work, "state.db"), "control": {"socket": os.path.join(work, "ctl.sock")},
        "timeouts": {"upstream_read_ms": 1000, "header_ms": 2000, "body_ms": 2000},
        "servers": [{"listeners": [{"host": "127.0.0.1", "port": listen}], "routes": [
            {"req_path": "/", "type": "reverse_proxy", "upstreams": [f"127.0.0.1:{up}"], "upstream_keepalive": 8,
             "gzip_proxied": True, "gzip_min_length": 0},
            {"req_path": "/static", "type": "file_serve", "dir_path": os.path.join(work, "www"), "gzip_enable": True}]}]}
    with open(os.path.join(work, "config.json"), "w") as f:
        json.dump(config, f)
    stop = threading.Event()
    threading.Thread(target=upstream, args=(up, stop), daemon=True).start()
    log = open(os.path.join(work, "expserverd.log"), "w")
    daemon = subprocess.Popen([BINARY, "--config", os.path.join(work, "config.json")], stdout=log, stderr=subprocess.STDOUT)
    ok = True
    try:
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", listen), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        start_rss = rss_kib(daemon.pid)
        stats, lock = {"exchanges": 0, "closed early": 0}, threading.Lock()
        threads = [threading.Thread(target=client, args=(listen, stop, stats, lock), daemon=True) for _ in range(8)]
        for t in threads:
            t.start()
        started, samples = time.time(), []
        while time.time() - started < DURATION and daemon.poll() is None:
            time.sleep(min(5, DURATION))
            if daemon.poll() is None:
                samples.append(rss_kib(daemon.pid))
        stop.set()
        for t in threads:
            t.join(timeout=5)
        alive = daemon.poll() is None
        try:
            s = socket.create_connection(("127.0.0.1", listen), timeout=3)
            s.sendall(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
            final = s.recv(100)[:30]
            s.close()
        except OSError as e:
            final = repr(e).encode()
        growth = (max(samples) - start_rss) if samples else 0
        print(f"alive: {alive} (exit status {daemon.poll()}); clients: {stats}")
        print(f"resident memory: {start_rss} KiB at the start, samples {samples} KiB (growth {growth} KiB)")
        print(f"a plain request afterwards: {final!r}")
        ok = alive and growth < RSS_GROWTH_LIMIT_KIB and final.startswith(b"HTTP/1.1 ")
        if not alive:
            print(f"the daemon died; its log: {log.name}")
    finally:
        if daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(15)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
    log.close()
    if ok:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"kept for a look: {work}")
    print("ok" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
