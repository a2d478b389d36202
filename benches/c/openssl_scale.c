/*
 * OpenSSL beside benches/server_scale.rs: full DTLS 1.2 PSK handshakes (PSK-AES128-CCM8) per
 * second on one core, client and server in this one process over memory BIOs, and the memory an
 * established server-side SSL holds (RSS delta / sessions) at each count. Like ours, every client
 * is freed after its handshake and every server SSL is kept. Benchmark harness, no network.
 *
 *   openssl_scale [-n 10000,100000] [--no-cookie] [-i WIRE_IDENTITY]     JSON on stdout
 *   openssl_scale --attack N [--no-record]                                JSON on stdout
 *
 * --attack N: the half-open reassembly attack of benches/dtls_halfopen_attack.rs on libssl: N
 * server SSLs each run the cookie exchange and send their first flight, then get one 429-byte
 * record of eight out-of-order ClientKeyExchange fragments (message_seq 2..9) claiming 16 KiB;
 * prints the RSS growth per half-open handshake (--no-record: without the attack record, what a
 * half-open handshake costs by itself).
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

int main(int argc, char **argv) {
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
