/*
 * OpenSSL beside benches/server_scale.rs: full DTLS 1.2 PSK handshakes (PSK-AES128-CCM8) per
 * second on one core, client and server in this one process over memory BIOs, and the memory an
 * established server-side SSL holds (RSS delta / sessions) at each count. Like ours, every client
 * is freed after its handshake and every server SSL is kept. Benchmark harness, no network.
 *
 *   openssl_scale [-n 10000,100000] [--no-cookie] [-i WIRE_IDENTITY]     JSON on stdout
 *   openssl_scale --attack N [--no-record]                                JSON on stdout
 *   openssl_scale --flood RATE SECS [--sessions 100] [--hold 30] [--max 9900]   JSON line on stdout
 *
 * --attack N: the half-open reassembly attack of benches/dtls_halfopen_attack.rs on libssl: N
 * server SSLs each run the cookie exchange and send their first flight, then get one 429-byte
 * record of eight out-of-order ClientKeyExchange fragments (message_seq 2..9) claiming 16 KiB;
 * prints the RSS growth per half-open handshake (--no-record: without the attack record, what a
 * half-open handshake costs by itself).
 *
 * --flood RATE SECS: the flood of `dtls_halfopen_attack --flood` on libssl: RATE half-open
 * handshakes per second (each fed the attack record) for SECS seconds, while SESSIONS established
 * client/server pairs each exchange one 32-byte record both ways every 100 ms. libssl itself
 * keeps a half-open SSL as long as the application does, so this harness applies the policy of
 * our server's defaults: each half-open SSL is freed after --hold seconds (half_open_timeout),
 * and no more than --max are held (max_connections less the sessions); beyond it a handshake is
 * refused (counted). Prints RSS at start, peak and end, and the growth per half-open handshake
 * held at the peak. Same process, memory BIOs: no sockets, no per-address accounting.
 *
 * The scale runs use identity "dev" and a key of sixteen 7s, as benches/server_scale.rs does;
 * the wire counts use WIRE_IDENTITY (default "dev"): the report passes its 16-byte identity.
 *
 * Server: SSL_OP_COOKIE_EXCHANGE with cookie callbacks (HMAC-free: a keyed hash of the counter
 * is enough for a benchmark, the exchange's bytes and state machine are what count), no
 * tickets, session cache off (ours: session_cache = 0), MTU 1400 with SSL_OP_NO_QUERY_MTU.
 * Also reports the bytes, datagrams and flights of one handshake, with and without cookie,
 * counted at the memory BIOs (one BIO write = one datagram: OpenSSL flushes a flight at once).
 */
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const unsigned char KEY[16] = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};
static const char *ID = "dev";

static unsigned int psk_client(SSL *s, const char *hint, char *id, unsigned int id_max,
                               unsigned char *psk, unsigned int psk_max) {
    (void)s, (void)hint;
    if (strlen(ID) + 1 > id_max || sizeof KEY > psk_max) return 0;
    strcpy(id, ID);
    memcpy(psk, KEY, sizeof KEY);
    return sizeof KEY;
}

static unsigned int psk_server(SSL *s, const char *id, unsigned char *psk, unsigned int psk_max) {
    (void)s;
    if (strcmp(id, ID) || sizeof KEY > psk_max) return 0;
    memcpy(psk, KEY, sizeof KEY);
    return sizeof KEY;
}

/* A fixed 16-byte cookie: the harness has one client address; what counts is that the
 * exchange (HelloVerifyRequest, second ClientHello) runs. */
static int cookie_gen(SSL *s, unsigned char *c, unsigned int *len) {
    (void)s;
    memset(c, 0xC0, 16);
    *len = 16;
    return 1;
}

static int cookie_ok(SSL *s, const unsigned char *c, unsigned int len) {
    (void)s;
    return len == 16 && c[0] == 0xC0 && c[15] == 0xC0;
}

/* Wire counting: BIO callbacks on the two memory BIOs. */
struct wire {
    long bytes[2], dgrams[2], flights;
    int last;
};
static struct wire W;
static int counting;

static long count_cb(BIO *b, int op, const char *argp, size_t len, int argi, long argl, int ret,
                     size_t *processed) {
    (void)argp, (void)len, (void)argi, (void)argl;
    if (counting && op == (BIO_CB_WRITE | BIO_CB_RETURN) && ret > 0 && processed && *processed) {
        int dir = (int)(long)BIO_get_callback_arg(b); /* 0: client to server, 1: back */
        W.bytes[dir] += (long)*processed;
        W.dgrams[dir]++;
        if (W.last != dir) W.flights++, W.last = dir;
    }
    return ret;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long rss(void) {
    long pages = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
    fclose(f);
    return res * 4096;
}

static SSL_CTX *ctx(int server, int cookie) {
    SSL_CTX *c = SSL_CTX_new(server ? DTLS_server_method() : DTLS_client_method());
    if (!c) return NULL;
    SSL_CTX_set_min_proto_version(c, DTLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(c, DTLS1_2_VERSION);
    if (!SSL_CTX_set_cipher_list(c, "PSK-AES128-CCM8")) return NULL;
    SSL_CTX_set_options(c, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET);
    if (server) {
        SSL_CTX_set_psk_server_callback(c, psk_server);
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
        if (cookie) {
            SSL_CTX_set_options(c, SSL_OP_COOKIE_EXCHANGE);
            SSL_CTX_set_cookie_generate_cb(c, cookie_gen);
            SSL_CTX_set_cookie_verify_cb(c, cookie_ok);
        }
    } else {
        SSL_CTX_set_psk_client_callback(c, psk_client);
    }
    return c;
}

static BIO *mem(int dir) {
    BIO *b = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(b, -1); /* empty: "retry", not EOF */
    BIO_set_callback_ex(b, count_cb);
    BIO_set_callback_arg(b, (char *)(long)dir);
    return b;
}

/* A client and a server SSL joined by two memory BIOs (c2s: client to server, s2c: back). */
static int joined(SSL_CTX *cc, SSL_CTX *sc, SSL **c, SSL **s, BIO **c2s, BIO **s2c) {
    *c = SSL_new(cc), *s = SSL_new(sc);
    if (!*c || !*s) return 0;
    *c2s = mem(0), *s2c = mem(1);
    BIO_up_ref(*c2s);
    BIO_up_ref(*s2c);
    SSL_set_bio(*c, *s2c, *c2s); /* each SSL owns one reference of each BIO */
    SSL_set_bio(*s, *c2s, *s2c);
    SSL_set_mtu(*c, 1400);
    SSL_set_mtu(*s, 1400);
    DTLS_set_link_mtu(*c, 1400);
    DTLS_set_link_mtu(*s, 1400);
    SSL_set_connect_state(*c);
    SSL_set_accept_state(*s);
    return 1;
}

/* One handshake; returns the established server SSL (NULL on failure). */
static SSL *handshake(SSL_CTX *cc, SSL_CTX *sc) {
    SSL *c, *s;
    BIO *c2s, *s2c;
    if (!joined(cc, sc, &c, &s, &c2s, &s2c)) return NULL;
    int cd = 0, sd = 0;
    for (int i = 0; i < 40 && !(cd && sd); i++) {
        if (!cd) {
            int r = SSL_do_handshake(c);
            if (r == 1) cd = 1;
            else if (SSL_get_error(c, r) != SSL_ERROR_WANT_READ) break;
        }
        if (!sd) {
            int r = SSL_do_handshake(s);
            if (r == 1) sd = 1;
            else if (SSL_get_error(s, r) != SSL_ERROR_WANT_READ) break;
        }
    }
    SSL_free(c);
    if (!(cd && sd)) {
        SSL_free(s);
        return NULL;
    }
    return s;
}

static int wire_json(SSL_CTX *cc, int cookie, const char *name) {
    SSL_CTX *sc = ctx(1, cookie);
    if (!sc) return 0;
    memset(&W, 0, sizeof W);
    W.last = -1;
    counting = 1;
    SSL *s = handshake(cc, sc);
    counting = 0;
    if (!s) return 0;
    printf("    \"%s\": {\"c2s_bytes\": %ld, \"s2c_bytes\": %ld, \"c2s_datagrams\": %ld, "
           "\"s2c_datagrams\": %ld, \"flights\": %ld}",
           name, W.bytes[0], W.bytes[1], W.dgrams[0], W.dgrams[1], W.flights);
    SSL_free(s);
    SSL_CTX_free(sc);
    return 1;
}

/* The attack record: eight fragments (seq 2..9, length 16384, offset 16000, 40 bytes). */
static size_t attack_record(unsigned char *d) {
    size_t n = 13;
    for (int m = 2; m < 10; m++) {
        unsigned char *f = d + n;
        f[0] = 16; /* client_key_exchange */
        f[1] = 0x00, f[2] = 0x40, f[3] = 0x00; /* length 16384 */
        f[4] = 0, f[5] = (unsigned char)m; /* message_seq */
        f[6] = 0x00, f[7] = 0x3E, f[8] = 0x80; /* fragment_offset 16000 */
        f[9] = 0, f[10] = 0, f[11] = 40; /* fragment_length */
        memset(f + 12, 0xA5, 40);
        n += 52;
    }
    unsigned char h[13] = {22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0};
    h[11] = (unsigned char)((n - 13) >> 8), h[12] = (unsigned char)(n - 13);
    memcpy(d, h, 13);
    return n;
}

/* A server SSL after the cookie exchange and its first flight, fed the attack record (unless
 * `quiet`: then nothing more, the cost of a half-open handshake alone). */
static SSL *half_open(SSL_CTX *cc, SSL_CTX *sc, int quiet) {
    SSL *c, *s;
    BIO *c2s, *s2c;
    if (!joined(cc, sc, &c, &s, &c2s, &s2c)) return NULL;
    /* CH, HVR, CH with cookie, ServerHello..ServerHelloDone */
    for (int i = 0; i < 2; i++) {
        SSL_do_handshake(c);
        SSL_do_handshake(s);
    }
    SSL_free(c);
    if (SSL_get_state(s) != TLS_ST_SW_SRVR_DONE) { /* its first flight is out */
        SSL_free(s);
        return NULL;
    }
    unsigned char rec[512];
    size_t n = attack_record(rec);
    (void)BIO_reset(s2c); /* the first flight, which the client never reads */
    if (!quiet) {
        BIO_write(c2s, rec, (int)n);
        SSL_do_handshake(s);
    }
    return s;
}

static int attack(long n, int quiet) {
    SSL_CTX *cc = ctx(0, 0), *sc = ctx(1, 1);
    if (!cc || !sc) return 3;
    SSL_free(half_open(cc, sc, quiet)); /* warm-up */
    SSL **held = calloc((size_t)n, sizeof *held);
    if (!held) return 5;
    long base = rss();
    long opened = 0;
    for (long i = 0; i < n; i++) opened += (held[i] = half_open(cc, sc, quiet)) != NULL;
    long grown = rss() - base;
    if (opened != n) {
        fprintf(stderr, "only %ld of %ld handshakes reached the half-open state\n", opened, n);
        return 6;
    }
    unsigned char rec[512];
    printf("{\"version\": \"%s\", \"half_open\": %ld, \"attack_record_bytes\": %zu, "
           "\"rss_growth_kib\": %.1f, \"rss_growth_per_half_open_kib\": %.2f}\n",
           OpenSSL_version(OPENSSL_VERSION), n, quiet ? 0 : attack_record(rec), (double)grown / 1024.0,
           (double)grown / 1024.0 / (double)n);
    for (long i = 0; i < n; i++) SSL_free(held[i]);
    free(held);
    SSL_CTX_free(cc);
    SSL_CTX_free(sc);
    return 0;
}

/* A client/server pair whose handshake completed; both kept (NULL server on failure). */
struct pair {
    SSL *c, *s;
};

static struct pair established(SSL_CTX *cc, SSL_CTX *sc) {
    struct pair p = {NULL, NULL};
    SSL *c, *s;
    BIO *c2s, *s2c;
    if (!joined(cc, sc, &c, &s, &c2s, &s2c)) return p;
    int cd = 0, sd = 0;
    for (int i = 0; i < 40 && !(cd && sd); i++) {
        if (!cd) cd = SSL_do_handshake(c) == 1;
        if (!sd) sd = SSL_do_handshake(s) == 1;
    }
    if (!(cd && sd)) {
        SSL_free(c);
        SSL_free(s);
        return p;
    }
    p.c = c, p.s = s;
    return p;
}

/* One 32-byte record client to server and back; 1 if it came back whole. */
static int talk(struct pair *p, long n) {
    unsigned char rec[32] = {0}, got[64];
    memcpy(rec, &n, sizeof n);
    if (SSL_write(p->c, rec, sizeof rec) != (int)sizeof rec) return 0;
    if (SSL_read(p->s, got, sizeof got) != (int)sizeof rec) return 0;
    if (SSL_write(p->s, got, sizeof rec) != (int)sizeof rec) return 0;
    return SSL_read(p->c, got, sizeof got) == (int)sizeof rec && !memcmp(got, rec, sizeof rec);
}

static int flood(long rate, double secs, long sessions, double hold, long max) {
    SSL_CTX *cc = ctx(0, 0), *sc = ctx(1, 1);
    if (!cc || !sc || rate <= 0 || max <= 0 || sessions < 0) return 3;
    SSL_free(half_open(cc, sc, 0)); /* warm-up */
    struct pair *pairs = calloc((size_t)sessions + 1, sizeof *pairs);
    SSL **ring = calloc((size_t)max, sizeof *ring);
    double *born = calloc((size_t)max, sizeof *born);
    if (!pairs || !ring || !born) return 5;
    for (long i = 0; i < sessions; i++) {
        pairs[i] = established(cc, sc);
        if (!pairs[i].s) {
            fprintf(stderr, "session %ld: handshake failed\n", i);
            return 6;
        }
    }
    long base = rss(), peak = base, made = 0, refused = 0, failed = 0, head = 0, count = 0;
    long held_peak = 0, sent = 0, echoed = 0;
    double t0 = now(), next_round = t0, el;
    struct timespec tick = {0, 1000000};
    while ((el = now() - t0) < secs) {
        long due = (long)((double)rate * el);
        while (made + refused + failed < due) {
            double t = now();
            while (count > 0 && born[head] <= t - hold) { /* half-open lifetime over */
                SSL_free(ring[head]);
                head = (head + 1) % max, count--;
            }
            if (count >= max) {
                refused++;
                continue;
            }
            SSL *s = half_open(cc, sc, 0);
            if (!s) {
                failed++;
                continue;
            }
            long at = (head + count) % max;
            ring[at] = s, born[at] = t, count++, made++;
        }
        if (count > held_peak) held_peak = count;
        if (now() >= next_round) {
            for (long i = 0; i < sessions; i++, sent++) echoed += talk(&pairs[i], sent);
            next_round += 0.1;
        }
        long r = rss();
        if (r > peak) peak = r;
        nanosleep(&tick, NULL);
    }
    el = now() - t0;
    long end = rss();
    if (end > peak) peak = end;
    printf("{\"version\": \"%s\", \"flood_seconds\": %.1f, \"hostile_handshakes\": %ld, "
           "\"hostile_per_second\": %.0f, \"half_open_accepted\": %ld, "
           "\"half_open_refused_by_caps\": %ld, \"half_open_failed\": %ld, "
           "\"half_open_held_peak\": %ld, \"hold_seconds\": %.0f, \"sessions\": %ld, "
           "\"session_records_sent\": %ld, \"session_records_lost\": %ld, "
           "\"rss_start_kib\": %ld, \"rss_peak_kib\": %ld, \"rss_end_kib\": %ld, "
           "\"rss_growth_per_half_open_kib\": %.2f}\n",
           OpenSSL_version(OPENSSL_VERSION), el, made + refused + failed,
           (double)(made + refused + failed) / el, made, refused, failed, held_peak, hold,
           sessions, sent, sent - echoed, base / 1024, peak / 1024, end / 1024,
           held_peak ? (double)(peak - base) / 1024.0 / (double)held_peak : 0.0);
    for (long i = 0; i < count; i++) SSL_free(ring[(head + i) % max]);
    for (long i = 0; i < sessions; i++) SSL_free(pairs[i].c), SSL_free(pairs[i].s);
    free(pairs), free(ring), free(born);
    SSL_CTX_free(cc);
    SSL_CTX_free(sc);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 4 && !strcmp(argv[1], "--flood")) {
        long sessions = 100, max = 9900;
        double hold = 30;
        for (int i = 4; i + 1 < argc; i += 2) {
            if (!strcmp(argv[i], "--sessions")) sessions = atol(argv[i + 1]);
            else if (!strcmp(argv[i], "--hold")) hold = atof(argv[i + 1]);
            else if (!strcmp(argv[i], "--max")) max = atol(argv[i + 1]);
            else {
                fprintf(stderr, "--flood: unknown option %s\n", argv[i]);
                return 2;
            }
        }
        return flood(atol(argv[2]), atof(argv[3]), sessions, hold, max);
    }
    if (argc >= 3 && !strcmp(argv[1], "--attack"))
        return attack(atol(argv[2]), argc == 4 && !strcmp(argv[3], "--no-record"));
    long counts[8] = {10000, 100000};
    int ncounts = 2, cookie = 1;
    const char *wire_id = "dev";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--no-cookie")) cookie = 0;
        else if (!strcmp(argv[i], "-i") && i + 1 < argc) wire_id = argv[++i];
        else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
            ncounts = 0;
            for (char *p = strtok(argv[++i], ","); p && ncounts < 8; p = strtok(NULL, ","))
                counts[ncounts++] = atol(p);
        }
    }
    SSL_CTX *cc = ctx(0, 0), *sc = ctx(1, cookie);
    if (!cc || !sc) {
        ERR_print_errors_fp(stderr);
        return 3;
    }
    printf("{\n  \"version\": \"%s\",\n  \"cookie\": %s,\n  \"suite\": \"PSK-AES128-CCM8\",\n",
           OpenSSL_version(OPENSSL_VERSION), cookie ? "true" : "false");
    printf("  \"wire_identity_bytes\": %zu,\n  \"wire\": {\n", strlen(wire_id));
    ID = wire_id;
    if (!wire_json(cc, 1, "cookie")) return 4;
    printf(",\n");
    if (!wire_json(cc, 0, "no_cookie")) return 4;
    ID = "dev";
    printf("\n  },\n  \"rows\": [");
    /* warm-up: code pages and allocator arenas touched before the baseline */
    SSL *warm = handshake(cc, sc);
    if (!warm) return 4;
    SSL_free(warm);
    long max = 0;
    for (int i = 0; i < ncounts; i++) if (counts[i] > max) max = counts[i];
    SSL **held = calloc((size_t)max, sizeof *held);
    if (!held) return 5;
    long base = rss(), done = 0;
    double t0 = now();
    for (int k = 0; k < ncounts; k++) {
        for (; done < counts[k]; done++) {
            held[done] = handshake(cc, sc);
            if (!held[done]) {
                fprintf(stderr, "handshake %ld failed\n", done);
                ERR_print_errors_fp(stderr);
                return 6;
            }
        }
        double secs = now() - t0;
        printf("%s\n    {\"sessions\": %ld, \"handshakes_per_s\": %.1f, \"bytes_per_session\": %.1f}",
               k ? "," : "", done, (double)done / secs, (double)(rss() - base) / (double)done);
        fflush(stdout);
    }
    printf("\n  ]\n}\n");
    for (long i = 0; i < done; i++) SSL_free(held[i]);
    free(held);
    SSL_CTX_free(cc);
    SSL_CTX_free(sc);
    return 0;
}
