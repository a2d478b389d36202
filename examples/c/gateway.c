/*
 * A plain-UDP CoAP forwarder over a simbridge upstream session, with its own poll() loop:
 * local CoAP clients send datagrams to the route's `listen` address; each goes through the
 * UICC-anchored DTLS session to the route's `upstream` server; what the server answers goes
 * back to the last local client. The library does no I/O: this file owns the sockets and time.
 *
 *   gateway --config FILE [--route UPSTREAM] [--state-file FILE]
 *           [--host-key IDENTITY --host-key-file HEXFILE]
 *
 * Key: from the configured card (GBA, `psk = "gba"`), or with --host-key from this program
 * through the key callback (the route says `psk = "host"`). --state-file: on SIGINT/SIGTERM the
 * session is exported there (mode 0600) and the next start continues it without a handshake.
 * The first line on stdout is "listening on ADDR:PORT".
 *
 * Build: cc gateway.c $(pkg-config --cflags --libs simbridge) -o gateway
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <simbridge.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE 65536

static volatile sig_atomic_t stopping = 0;

static void on_signal(int sig) {
    (void)sig;
    stopping = 1;
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The key the callback gives: identity and key bytes, read at start from the command line
 * and a hex file; the key is wiped once the library has it. */
struct host_key {
    const char *identity;
    uint8_t key[SIMBRIDGE_MAX_KEY];
    size_t key_len;
};

static int key_callback(void *user, uint8_t *identity, size_t identity_cap,
                        size_t *identity_len, uint8_t *key, size_t key_cap, size_t *key_len) {
    struct host_key *k = user;
    size_t n = strlen(k->identity);
    if (n == 0 || n > identity_cap || k->key_len == 0 || k->key_len > key_cap) return -1;
    memcpy(identity, k->identity, n);
    *identity_len = n;
    memcpy(key, k->key, k->key_len);
    *key_len = k->key_len;
    return 0;
}

static int read_hex_key(const char *path, struct host_key *k) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    int c, hi = -1;
    k->key_len = 0;
    while ((c = fgetc(f)) != EOF) {
        int v;
        if (c >= '0' && c <= '9') v = c - '0';
        else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
        else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
        else break;
        if (hi < 0) {
            hi = v;
        } else {
            if (k->key_len == sizeof k->key) break;
            k->key[k->key_len++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    fclose(f);
    if (k->key_len == 0 || hi >= 0) {
        fprintf(stderr, "%s: not a hex key of 1 to %d bytes\n", path, SIMBRIDGE_MAX_KEY);
        return -1;
    }
    return 0;
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *b = realloc(buf, cap);
            if (!b) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = b;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
    }
    fclose(f);
    buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

static int write_private(const char *path, const uint8_t *data, size_t len) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return -1;
    ssize_t w = write(fd, data, len);
    int ok = w == (ssize_t)len && fsync(fd) == 0;
    close(fd);
    return ok ? 0 : -1;
}

/* A UDP socket bound to (or connected to) "IP:PORT" ("[v6]:PORT" too). */
static int udp_socket(const char *addr, int do_connect) {
    char host[256];
    snprintf(host, sizeof host, "%s", addr);
    char *colon = strrchr(host, ':');
    if (!colon) return -1;
    *colon = '\0';
    const char *port = colon + 1;
    char *h = host;
    if (h[0] == '[') {
        h++;
        h[strlen(h) - 1] = '\0';
    }
    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM, .ai_flags = AI_NUMERICHOST}, *ai;
    if (getaddrinfo(h, port, &hints, &ai) != 0) return -1;
    int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd >= 0 && (do_connect ? connect(fd, ai->ai_addr, ai->ai_addrlen)
                               : bind(fd, ai->ai_addr, ai->ai_addrlen)) != 0) {
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    return fd;
}

static void fail(simbridge_session *s, const char *what, int rc) {
    fprintf(stderr, "gateway: %s: %s (status %d)\n", what, simbridge_last_error(s), rc);
}

struct gateway {
    simbridge_session *s;
    int local, up[2];
    struct sockaddr_storage client;
    socklen_t client_len;
    uint8_t buf[BUF_SIZE];
};

/* Sends what the session wants sent and delivers what it received. */
static int flush(struct gateway *g) {
    size_t len;
    uint8_t path;
    int rc;
    while ((rc = simbridge_session_poll_transmit(g->s, g->buf, sizeof g->buf, &len, &path)) ==
           SIMBRIDGE_OK) {
        /* An ICMP error surfaces as a failed send: the session retransmits, so carry on. */
        if (send(g->up[path], g->buf, len, 0) < 0 && errno != ECONNREFUSED)
            perror("gateway: send upstream");
    }
    if (rc != SIMBRIDGE_EMPTY) return fail(g->s, "poll_transmit", rc), -1;
    while ((rc = simbridge_session_receive(g->s, g->buf, sizeof g->buf, &len)) == SIMBRIDGE_OK) {
        if (g->client_len == 0) continue; /* nobody asked yet */
        if (sendto(g->local, g->buf, len, 0, (struct sockaddr *)&g->client, g->client_len) < 0)
            perror("gateway: send to the local client");
    }
    if (rc != SIMBRIDGE_EMPTY) return fail(g->s, "receive", rc), -1;
    return 0;
}

static int run(struct gateway *g) {
    for (;;) {
        if (flush(g) != 0) return -1;
        if (stopping) return 0;
        uint64_t deadline;
        int timeout = -1;
        int rc = simbridge_session_next_timeout(g->s, &deadline);
        if (rc == SIMBRIDGE_OK) {
            uint64_t now = now_ms();
            timeout = deadline <= now ? 0 : (int)(deadline - now > 60000 ? 60000 : deadline - now);
        } else if (rc != SIMBRIDGE_EMPTY) {
            return fail(g->s, "next_timeout", rc), -1;
        }
        struct pollfd fds[3] = {
            {.fd = g->local, .events = POLLIN},
            {.fd = g->up[0], .events = POLLIN},
            {.fd = g->up[1], .events = POLLIN},
        };
        int n = poll(fds, 3, timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("gateway: poll");
            return -1;
        }
        if (fds[0].revents & POLLIN) {
            g->client_len = sizeof g->client;
            ssize_t r = recvfrom(g->local, g->buf, sizeof g->buf, 0,
                                 (struct sockaddr *)&g->client, &g->client_len);
            if (r > 0 && (rc = simbridge_session_send(g->s, g->buf, (size_t)r, now_ms())) != 0)
                fail(g->s, "send", rc);
        }
        for (uint8_t p = 0; p < 2; p++) {
            if (!(fds[1 + p].revents & (POLLIN | POLLERR))) continue;
            ssize_t r;
            while ((r = recv(g->up[p], g->buf, sizeof g->buf, 0)) >= 0) {
                rc = simbridge_session_handle_datagram(g->s, p, g->buf, (size_t)r, now_ms());
                if (rc != SIMBRIDGE_OK) fail(g->s, "handle_datagram", rc);
            }
        }
        if ((rc = simbridge_session_handle_timeout(g->s, now_ms())) != SIMBRIDGE_OK)
            return fail(g->s, "handle_timeout", rc), -1;
    }
}

static void usage(void) {
    fprintf(stderr, "usage: gateway --config FILE [--route UPSTREAM] [--state-file FILE]\n"
                    "               [--host-key IDENTITY --host-key-file HEXFILE]\n");
}

int main(int argc, char **argv) {
    const char *config = NULL, *route = NULL, *state_file = NULL, *key_file = NULL;
    struct host_key key = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return usage(), 64;
        if (!strcmp(a, "--config")) config = v;
        else if (!strcmp(a, "--route")) route = v;
        else if (!strcmp(a, "--state-file")) state_file = v;
        else if (!strcmp(a, "--host-key")) key.identity = v;
        else if (!strcmp(a, "--host-key-file")) key_file = v;
        else return usage(), 64;
        i++;
    }
    if (!config || (key.identity == NULL) != (key_file == NULL)) return usage(), 64;
    if (key_file && read_hex_key(key_file, &key) != 0) return 1;
    char *text = read_file(config, NULL);
    if (!text) return fprintf(stderr, "%s: %s\n", config, strerror(errno)), 1;

    struct gateway g = {.local = -1, .up = {-1, -1}};
    int rc = simbridge_session_new(text, route, key_file ? key_callback : NULL, &key, &g.s);
    memset(key.key, 0, sizeof key.key); /* the library holds (and will wipe) its own copy */
    free(text);
    if (rc != SIMBRIDGE_OK) return fail(NULL, "configuration", rc), 1;

    char listen[128], upstream[128];
    size_t n;
    int status = 1;
    if (simbridge_session_address(g.s, 0, listen, sizeof listen, &n) != SIMBRIDGE_OK ||
        simbridge_session_address(g.s, 1, upstream, sizeof upstream, &n) != SIMBRIDGE_OK) {
        fail(g.s, "address", -1);
        goto out;
    }
    g.local = udp_socket(listen, 0);
    g.up[0] = udp_socket(upstream, 1);
    g.up[1] = udp_socket(upstream, 1);
    if (g.local < 0 || g.up[0] < 0 || g.up[1] < 0) {
        fprintf(stderr, "gateway: cannot open the sockets for %s -> %s\n", listen, upstream);
        goto out;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (state_file) {
        size_t len;
        char *saved = read_file(state_file, &len);
        if (saved) {
            unlink(state_file); /* an export is good once */
            rc = simbridge_session_import(g.s, (const uint8_t *)saved, len, now_ms());
            free(saved);
            if (rc == SIMBRIDGE_OK) fprintf(stderr, "gateway: session continued from %s\n", state_file);
            else fail(g.s, "import (a handshake follows)", rc);
        }
    }
    struct sockaddr_storage bound;
    socklen_t bl = sizeof bound;
    char host[INET6_ADDRSTRLEN] = "?";
    getsockname(g.local, (struct sockaddr *)&bound, &bl);
    int port = 0;
    if (bound.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&bound;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        port = ntohs(a->sin_port);
        printf("listening on %s:%d\n", host, port);
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&bound;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
        printf("listening on [%s]:%d\n", host, port);
    }
    fflush(stdout);
    fprintf(stderr, "gateway: simbridge %s (ABI %d), %s -> %s\n", simbridge_version(),
            SIMBRIDGE_ABI_VERSION, listen, upstream);

    if (run(&g) == 0) {
        status = 0;
        if (state_file) {
            size_t len;
            rc = simbridge_session_export(g.s, g.buf, sizeof g.buf, &len);
            if (rc == SIMBRIDGE_OK && write_private(state_file, g.buf, len) == 0)
                fprintf(stderr, "gateway: session exported to %s\n", state_file);
            else if (rc != SIMBRIDGE_OK)
                fail(g.s, "export", rc);
            else
                perror("gateway: write the export"), status = 1;
        }
        simbridge_counters c;
        if (simbridge_session_counters(g.s, &c) == SIMBRIDGE_OK)
            fprintf(stderr,
                    "gateway: %llu bootstraps, %llu full + %llu abbreviated handshakes, "
                    "%llu continued, %llu B on air\n",
                    (unsigned long long)c.bootstraps, (unsigned long long)c.handshakes_full,
                    (unsigned long long)c.handshakes_abbreviated,
                    (unsigned long long)c.handshakes_none_needed,
                    (unsigned long long)c.bytes_on_air);
    }
out:
    for (int i = 0; i < 2; i++)
        if (g.up[i] >= 0) close(g.up[i]);
    if (g.local >= 0) close(g.local);
    simbridge_session_free(g.s);
    return status;
}
