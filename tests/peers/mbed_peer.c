/*
 * Mbed TLS 3.6 DTLS 1.2 PSK peer for simbridge's interop tests (RFC 9146 Connection ID,
 * session tickets / session-ID resumption). Test harness code, loopback only.
 *
 *   mbed_peer server PORT [opts]        serves -N connections, echoes every record
 *   mbed_peer client PORT [opts]        sends -n messages "msg <i>", expects each echoed
 * opts:
 *   -k HEX     PSK (default 000102...0f)      -i ID   identity (default Client_identity)
 *   -c HEX     use a Connection ID (our own; "" for zero-length, "none" to not offer)
 *   -l HEX     cipher suite (IANA, hex, e.g. c0a8)  -n N    messages (client, default 1)
 *   -N N       connections (server, default 1)       -w MS   idle timeout (default 8000)
 *   -r         client: after the first message, move to a new UDP socket (new source port)
 *   -s FILE    client: resume from FILE if it exists; save the session there afterwards
 *   -T         server: no session tickets (default: tickets on, plus a session-ID cache);
 *              client: do not offer the session ticket extension
 *   -C         server: no cookie exchange (no HelloVerifyRequest)
 *   -G         offer/accept only the secp256r1 group (ECDHE-PSK suites)
 * stdout: "CONNECTED peer_cid=<hex|none>", "RECV <text>", "PEER <port>" (server, on change),
 * "REBOUND <port>" (client), "CLOSED".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mbedtls/ctr_drbg.h"
#include "mbedtls/entropy.h"
#include "mbedtls/ssl.h"
#include "mbedtls/ssl_cache.h"
#include "mbedtls/ssl_cookie.h"
#include "mbedtls/ssl_ticket.h"
#include "mbedtls/timing.h"
#include "psa/crypto.h"

#define ERR_SEND (-0x004E) /* MBEDTLS_ERR_NET_SEND_FAILED (net_sockets.h, not built here) */
#define ERR_RECV (-0x004C) /* MBEDTLS_ERR_NET_RECV_FAILED */

struct io {
    int fd;
    int server;
    int locked; /* server: peer fixed after the handshake, moves only after an authenticated read */
    struct sockaddr_in peer, last;
};

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static size_t unhex(const char *s, unsigned char *out, size_t max) {
    size_t n = 0;
    while (s[0] && s[1] && n < max) {
        out[n++] = (unsigned char)(hexval(s[0]) << 4 | hexval(s[1]));
        s += 2;
    }
    return n;
}

static void puthex(const unsigned char *b, size_t n) {
    for (size_t i = 0; i < n; i++) printf("%02x", b[i]);
}

static int udp_socket(void) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&a, sizeof a);
    return fd;
}

static int io_send(void *ctx, const unsigned char *buf, size_t len) {
    struct io *io = ctx;
    ssize_t n = sendto(io->fd, buf, len, 0, (struct sockaddr *)&io->peer, sizeof io->peer);
    return n < 0 ? ERR_SEND : (int)n;
}

static int io_recv(void *ctx, unsigned char *buf, size_t len, uint32_t timeout) {
    struct io *io = ctx;
    struct pollfd p = {io->fd, POLLIN, 0};
    int r = poll(&p, 1, timeout ? (int)timeout : 200);
    if (r == 0) return MBEDTLS_ERR_SSL_TIMEOUT;
    if (r < 0) return ERR_RECV;
    socklen_t sl = sizeof io->last;
    ssize_t n = recvfrom(io->fd, buf, len, 0, (struct sockaddr *)&io->last, &sl);
    if (n < 0) return ERR_RECV;
    if (io->server && !io->locked) io->peer = io->last;
    return (int)n;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: mbed_peer client|server PORT [opts]\n");
        return 2;
    }
    int server = strcmp(argv[1], "server") == 0;
    int port = atoi(argv[2]);
    unsigned char psk[64];
    size_t psk_len = unhex("000102030405060708090a0b0c0d0e0f", psk, sizeof psk);
    const char *identity = "Client_identity";
    const char *cid_hex = NULL;
    int suite = 0xC0A8, msgs = 1, conns = 1, idle = 8000, rebind = 0, tickets = 1, cookies = 1;
    int p256_only = 0;
    const char *sess_file = NULL;
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "-k")) psk_len = unhex(v, psk, sizeof psk), i++;
        else if (!strcmp(a, "-i")) identity = v, i++;
        else if (!strcmp(a, "-c")) cid_hex = strcmp(v, "none") ? v : NULL, i++;
        else if (!strcmp(a, "-l")) suite = (int)strtol(v, NULL, 16), i++;
        else if (!strcmp(a, "-n")) msgs = atoi(v), i++;
        else if (!strcmp(a, "-N")) conns = atoi(v), i++;
        else if (!strcmp(a, "-w")) idle = atoi(v), i++;
        else if (!strcmp(a, "-s")) sess_file = v, i++;
        else if (!strcmp(a, "-r")) rebind = 1;
        else if (!strcmp(a, "-T")) tickets = 0;
        else if (!strcmp(a, "-C")) cookies = 0;
        else if (!strcmp(a, "-G")) p256_only = 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    psa_crypto_init();

    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_ssl_config conf;
    mbedtls_ssl_context ssl;
    mbedtls_ssl_cookie_ctx cookie;
    mbedtls_ssl_cache_context cache;
    mbedtls_ssl_ticket_context ticket;
    mbedtls_timing_delay_context timer;
    mbedtls_entropy_init(&entropy);
    mbedtls_ctr_drbg_init(&drbg);
    mbedtls_ssl_config_init(&conf);
    mbedtls_ssl_init(&ssl);
    mbedtls_ssl_cookie_init(&cookie);
    mbedtls_ssl_cache_init(&cache);
    mbedtls_ssl_ticket_init(&ticket);
    if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy, NULL, 0)) return 3;
    if (mbedtls_ssl_config_defaults(&conf, server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
                                    MBEDTLS_SSL_TRANSPORT_DATAGRAM, MBEDTLS_SSL_PRESET_DEFAULT))
        return 3;
    mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
    mbedtls_ssl_conf_max_tls_version(&conf, MBEDTLS_SSL_VERSION_TLS1_2);
    static int suites[2];
    suites[0] = suite;
    suites[1] = 0;
    mbedtls_ssl_conf_ciphersuites(&conf, suites);
    if (mbedtls_ssl_conf_psk(&conf, psk, psk_len, (const unsigned char *)identity, strlen(identity)))
        return 3;
    mbedtls_ssl_conf_handshake_timeout(&conf, 500, 8000);
    mbedtls_ssl_conf_read_timeout(&conf, 200);
    unsigned char cid[32];
    size_t cid_len = 0;
    if (cid_hex) {
        cid_len = unhex(cid_hex, cid, sizeof cid);
        if (mbedtls_ssl_conf_cid(&conf, cid_len, MBEDTLS_SSL_UNEXPECTED_CID_IGNORE)) return 3;
    }
    static const uint16_t p256[] = {MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1, MBEDTLS_SSL_IANA_TLS_GROUP_NONE};
    if (p256_only) mbedtls_ssl_conf_groups(&conf, p256);
    if (server) {
        if (mbedtls_ssl_cookie_setup(&cookie, mbedtls_ctr_drbg_random, &drbg)) return 3;
        if (cookies)
            mbedtls_ssl_conf_dtls_cookies(&conf, mbedtls_ssl_cookie_write, mbedtls_ssl_cookie_check, &cookie);
        else
            mbedtls_ssl_conf_dtls_cookies(&conf, NULL, NULL, NULL);
        mbedtls_ssl_conf_session_cache(&conf, &cache, mbedtls_ssl_cache_get, mbedtls_ssl_cache_set);
        if (tickets) {
            if (mbedtls_ssl_ticket_setup(&ticket, mbedtls_ctr_drbg_random, &drbg,
                                         MBEDTLS_CIPHER_AES_128_GCM, 3600))
                return 3;
            mbedtls_ssl_conf_session_tickets_cb(&conf, mbedtls_ssl_ticket_write,
                                                mbedtls_ssl_ticket_parse, &ticket);
        }
    } else {
        mbedtls_ssl_conf_session_tickets(&conf, tickets ? MBEDTLS_SSL_SESSION_TICKETS_ENABLED
                                                        : MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
    }
    if (mbedtls_ssl_setup(&ssl, &conf)) return 3;

    struct io io = {0};
    io.fd = udp_socket();
    io.server = server;
    if (server) {
        struct sockaddr_in a = {0};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons((unsigned short)port);
        close(io.fd);
        io.fd = socket(AF_INET, SOCK_DGRAM, 0);
        if (bind(io.fd, (struct sockaddr *)&a, sizeof a)) return 4;
        printf("LISTENING %d\n", port);
    } else {
        io.peer.sin_family = AF_INET;
        io.peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        io.peer.sin_port = htons((unsigned short)port);
    }
    mbedtls_ssl_set_bio(&ssl, &io, io_send, NULL, io_recv);
    mbedtls_ssl_set_timer_cb(&ssl, &timer, mbedtls_timing_set_delay, mbedtls_timing_get_delay);

    int rc = 0;
    for (int c = 0; c < (server ? conns : 1); c++) {
        mbedtls_ssl_session_reset(&ssl);
        io.locked = 0;
        if (cid_hex && mbedtls_ssl_set_cid(&ssl, MBEDTLS_SSL_CID_ENABLED, cid, cid_len)) return 3;
        mbedtls_ssl_session saved;
        mbedtls_ssl_session_init(&saved);
        if (!server && sess_file) {
            FILE *f = fopen(sess_file, "rb");
            if (f) {
                unsigned char buf[4096];
                size_t n = fread(buf, 1, sizeof buf, f);
                fclose(f);
                if (mbedtls_ssl_session_load(&saved, buf, n) == 0 && mbedtls_ssl_set_session(&ssl, &saved) == 0)
                    printf("OFFERING saved session\n");
            }
        }
        int ret = -1;
        int waited = 0;
        for (;;) {
            if (server && !io.locked) {
                /* the cookie binds the client's address */
                struct sockaddr_in who;
                socklen_t sl = sizeof who;
                unsigned char peek[1];
                struct pollfd p = {io.fd, POLLIN, 0};
                if (poll(&p, 1, 200) <= 0) {
                    waited += 200;
                    if (waited > idle) break;
                    continue;
                }
                if (recvfrom(io.fd, peek, 1, MSG_PEEK, (struct sockaddr *)&who, &sl) >= 0)
                    mbedtls_ssl_set_client_transport_id(&ssl, (unsigned char *)&who, sizeof who);
            }
            ret = mbedtls_ssl_handshake(&ssl);
            if (ret == 0) break;
            if (ret == MBEDTLS_ERR_SSL_HELLO_VERIFY_REQUIRED) {
                mbedtls_ssl_session_reset(&ssl);
                if (cid_hex) mbedtls_ssl_set_cid(&ssl, MBEDTLS_SSL_CID_ENABLED, cid, cid_len);
                continue;
            }
            if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE ||
                ret == MBEDTLS_ERR_SSL_TIMEOUT) {
                waited += 200;
                if (waited > idle) break;
                continue;
            }
            break;
        }
        mbedtls_ssl_session_free(&saved);
        if (ret != 0) {
            printf("HANDSHAKE FAILED -0x%04x\n", (unsigned)-ret);
            rc = 1;
            break;
        }
        io.locked = 1;
        int enabled = 0;
        unsigned char peer_cid[MBEDTLS_SSL_CID_OUT_LEN_MAX];
        size_t peer_cid_len = 0;
        mbedtls_ssl_get_peer_cid(&ssl, &enabled, peer_cid, &peer_cid_len);
        printf("CONNECTED suite=%s peer_cid=", mbedtls_ssl_get_ciphersuite(&ssl));
        if (enabled == MBEDTLS_SSL_CID_ENABLED) puthex(peer_cid, peer_cid_len), printf("%s\n", peer_cid_len ? "" : "(empty)");
        else printf("none\n");
        unsigned char buf[2048];
        if (server) {
            int quiet = 0;
            unsigned short port_now = io.peer.sin_port;
            while (quiet < idle) {
                ret = mbedtls_ssl_read(&ssl, buf, sizeof buf - 1);
                if (ret > 0) {
                    quiet = 0;
                    /* RFC 9146 §6 (approximated): the record authenticated, follow its source */
                    io.peer = io.last;
                    if (io.peer.sin_port != port_now) {
                        port_now = io.peer.sin_port;
                        printf("PEER %d\n", ntohs(port_now));
                    }
                    buf[ret] = 0;
                    printf("RECV %s\n", buf);
                    mbedtls_ssl_write(&ssl, buf, (size_t)ret);
                } else if (ret == MBEDTLS_ERR_SSL_TIMEOUT || ret == MBEDTLS_ERR_SSL_WANT_READ) {
                    quiet += 200;
                } else {
                    break;
                }
            }
            printf("CLOSED\n");
            mbedtls_ssl_close_notify(&ssl);
        } else {
            for (int i = 1; i <= msgs; i++) {
                if (rebind && i == 2) {
                    close(io.fd);
                    io.fd = udp_socket();
                    struct sockaddr_in me;
                    socklen_t sl = sizeof me;
                    getsockname(io.fd, (struct sockaddr *)&me, &sl);
                    printf("REBOUND %d\n", ntohs(me.sin_port));
                }
                char msg[64];
                int n = snprintf(msg, sizeof msg, "msg %d", i);
                mbedtls_ssl_write(&ssl, (unsigned char *)msg, (size_t)n);
                int quiet = 0;
                for (;;) {
                    ret = mbedtls_ssl_read(&ssl, buf, sizeof buf - 1);
                    if (ret > 0) break;
                    if (ret != MBEDTLS_ERR_SSL_TIMEOUT && ret != MBEDTLS_ERR_SSL_WANT_READ) break;
                    quiet += 200;
                    if (quiet > idle) break;
                }
                if (ret <= 0) {
                    printf("NO REPLY -0x%04x\n", (unsigned)-ret);
                    rc = 1;
                    break;
                }
                buf[ret] = 0;
                printf("RECV %s\n", buf);
            }
            if (sess_file) {
                mbedtls_ssl_session s;
                mbedtls_ssl_session_init(&s);
                unsigned char out[4096];
                size_t olen = 0;
                if (mbedtls_ssl_get_session(&ssl, &s) == 0 &&
                    mbedtls_ssl_session_save(&s, out, sizeof out, &olen) == 0) {
                    FILE *f = fopen(sess_file, "wb");
                    if (f) fwrite(out, 1, olen, f), fclose(f), printf("SAVED %zu\n", olen);
                }
                mbedtls_ssl_session_free(&s);
            }
            mbedtls_ssl_close_notify(&ssl);
            printf("CLOSED\n");
        }
    }
    close(io.fd);
    return rc;
}
