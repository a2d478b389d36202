/*
 * wolfSSL 5.9 DTLS 1.2 PSK peer for simbridge's interop tests (RFC 9146 Connection ID, session
 * tickets). Test harness code, loopback only. Same command line as mbed_peer.c:
 *
 *   wolf_peer server PORT [opts]        serves -N connections, echoes every record
 *   wolf_peer client PORT [opts]        sends -n messages "msg <i>", expects each echoed
 * opts:
 *   -k HEX  PSK   -i ID identity   -c HEX our CID ("" zero-length, "none" not offered)
 *   -l NAME wolfSSL cipher name (default PSK-AES128-CCM-8)   -n N messages   -N N connections
 *   -w MS   idle timeout   -r client: new source port after the first message
 *   -R      client: a second connection that resumes the first one's session (ticket)
 *   -T      server: no session tickets
 * stdout: "CONNECTED resumed=<0|1> peer_cid=<hex|none>", "RECV <text>", "PEER <port>",
 * "REBOUND <port>", "CLOSED".
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/sha256.h>

struct io {
    int fd;
    int server;
    int locked;
    struct sockaddr_in peer, last;
};

static unsigned char psk[64];
static unsigned int psk_len;
static const char *identity = "Client_identity";

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static unsigned int unhex(const char *s, unsigned char *out, unsigned int max) {
    unsigned int n = 0;
    while (s[0] && s[1] && n < max) {
        out[n++] = (unsigned char)(hexval(s[0]) << 4 | hexval(s[1]));
        s += 2;
    }
    return n;
}

static int udp_socket(void) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&a, sizeof a);
    return fd;
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *ctx) {
    (void)ssl;
    struct io *io = ctx;
    ssize_t n = sendto(io->fd, buf, (size_t)sz, 0, (struct sockaddr *)&io->peer, sizeof io->peer);
    return n < 0 ? WOLFSSL_CBIO_ERR_GENERAL : (int)n;
}

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx) {
    struct io *io = ctx;
    int hs = !wolfSSL_is_init_finished(ssl);
    int ms = hs ? wolfSSL_dtls_get_current_timeout(ssl) * 1000 : 200;
    struct pollfd p = {io->fd, POLLIN, 0};
    int r = poll(&p, 1, ms);
    if (r == 0) return hs ? WOLFSSL_CBIO_ERR_TIMEOUT : WOLFSSL_CBIO_ERR_WANT_READ;
    if (r < 0) return WOLFSSL_CBIO_ERR_GENERAL;
    socklen_t sl = sizeof io->last;
    ssize_t n = recvfrom(io->fd, buf, (size_t)sz, 0, (struct sockaddr *)&io->last, &sl);
    if (n < 0) return WOLFSSL_CBIO_ERR_GENERAL;
    if (io->server && !io->locked) io->peer = io->last;
    return (int)n;
}

/* cookie = SHA-256(secret || client address): stateless, bound to the address */
static unsigned char cookie_secret[32];
static int gen_cookie(WOLFSSL *ssl, unsigned char *buf, int sz, void *ctx) {
    (void)ctx;
    struct io *io = wolfSSL_GetIOReadCtx(ssl);
    wc_Sha256 h;
    unsigned char d[32];
    if (sz < 32) return -1;
    wc_InitSha256(&h);
    wc_Sha256Update(&h, cookie_secret, sizeof cookie_secret);
    wc_Sha256Update(&h, (unsigned char *)&io->peer, sizeof io->peer);
    wc_Sha256Final(&h, d);
    memcpy(buf, d, 32);
    return 32;
}

static unsigned int psk_client(WOLFSSL *ssl, const char *hint, char *id, unsigned int id_max,
                               unsigned char *key, unsigned int key_max) {
    (void)ssl;
    (void)hint;
    if (strlen(identity) >= id_max || psk_len > key_max) return 0;
    strcpy(id, identity);
    memcpy(key, psk, psk_len);
    return psk_len;
}

static unsigned int psk_server(WOLFSSL *ssl, const char *id, unsigned char *key, unsigned int key_max) {
    (void)ssl;
    if (strcmp(id, identity) || psk_len > key_max) return 0;
    memcpy(key, psk, psk_len);
    return psk_len;
}

static void print_connected(WOLFSSL *ssl) {
    printf("CONNECTED resumed=%d suite=%s peer_cid=", wolfSSL_session_reused(ssl),
           wolfSSL_get_cipher_name(ssl));
    unsigned int n = 0;
    if (wolfSSL_dtls_cid_is_enabled(ssl) && wolfSSL_dtls_cid_get_tx_size(ssl, &n) == WOLFSSL_SUCCESS) {
        unsigned char b[64];
        if (n == 0) printf("(empty)");
        else if (wolfSSL_dtls_cid_get_tx(ssl, b, sizeof b) == WOLFSSL_SUCCESS)
            for (unsigned int i = 0; i < n; i++) printf("%02x", b[i]);
        printf("\n");
    } else {
        printf("none\n");
    }
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: wolf_peer client|server PORT [opts]\n");
        return 2;
    }
    int server = strcmp(argv[1], "server") == 0;
    int port = atoi(argv[2]);
    psk_len = unhex("000102030405060708090a0b0c0d0e0f", psk, sizeof psk);
    const char *cid_hex = NULL, *suite = "PSK-AES128-CCM-8";
    int msgs = 1, conns = 1, idle = 8000, rebind = 0, tickets = 1, resume = 0;
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "-k")) psk_len = unhex(v, psk, sizeof psk), i++;
        else if (!strcmp(a, "-i")) identity = v, i++;
        else if (!strcmp(a, "-c")) cid_hex = strcmp(v, "none") ? v : NULL, i++;
        else if (!strcmp(a, "-l")) suite = v, i++;
        else if (!strcmp(a, "-n")) msgs = atoi(v), i++;
        else if (!strcmp(a, "-N")) conns = atoi(v), i++;
        else if (!strcmp(a, "-w")) idle = atoi(v), i++;
        else if (!strcmp(a, "-r")) rebind = 1;
        else if (!strcmp(a, "-R")) resume = 1;
        else if (!strcmp(a, "-T")) tickets = 0;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    wolfSSL_Init();
    WOLFSSL_CTX *ctx = wolfSSL_CTX_new(server ? wolfDTLSv1_2_server_method() : wolfDTLSv1_2_client_method());
    if (!ctx || wolfSSL_CTX_set_cipher_list(ctx, suite) != WOLFSSL_SUCCESS) return 3;
    wolfSSL_CTX_SetIORecv(ctx, io_recv);
    wolfSSL_CTX_SetIOSend(ctx, io_send);
    if (server) {
        wolfSSL_CTX_set_psk_server_callback(ctx, psk_server);
        wolfSSL_CTX_SetGenCookie(ctx, gen_cookie);
        FILE *r = fopen("/dev/urandom", "rb");
        if (!r || fread(cookie_secret, 1, sizeof cookie_secret, r) != sizeof cookie_secret) return 3;
        fclose(r);
        if (!tickets) wolfSSL_CTX_NoTicketTLSv12(ctx);
    } else {
        wolfSSL_CTX_set_psk_client_callback(ctx, psk_client);
    }
    unsigned char cid[32];
    unsigned int cid_len = cid_hex ? unhex(cid_hex, cid, sizeof cid) : 0;

    struct io io = {0};
    io.server = server;
    if (server) {
        struct sockaddr_in a = {0};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons((unsigned short)port);
        io.fd = socket(AF_INET, SOCK_DGRAM, 0);
        if (bind(io.fd, (struct sockaddr *)&a, sizeof a)) return 4;
        printf("LISTENING %d\n", port);
    } else {
        io.fd = udp_socket();
        io.peer.sin_family = AF_INET;
        io.peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        io.peer.sin_port = htons((unsigned short)port);
    }

    int rc = 0;
    WOLFSSL_SESSION *saved = NULL;
    int total = server ? conns : (resume ? 2 : 1);
    for (int c = 0; c < total; c++) {
        WOLFSSL *ssl = wolfSSL_new(ctx);
        if (!ssl) return 3;
        wolfSSL_SetIOReadCtx(ssl, &io);
        wolfSSL_SetIOWriteCtx(ssl, &io);
        io.locked = 0;
        if (cid_hex) {
            if (wolfSSL_dtls_cid_use(ssl) != WOLFSSL_SUCCESS) return 3;
            if (wolfSSL_dtls_cid_set(ssl, cid, cid_len) != WOLFSSL_SUCCESS) return 3;
        }
        if (!server) {
            if (tickets) wolfSSL_UseSessionTicket(ssl);
            if (saved) wolfSSL_set_session(ssl, saved);
        }
        int ret = WOLFSSL_FATAL_ERROR, waited = 0;
        for (;;) {
            if (server && !io.locked) {
                struct pollfd p = {io.fd, POLLIN, 0};
                if (poll(&p, 1, 200) <= 0) {
                    waited += 200;
                    if (waited > idle) break;
                    continue;
                }
            }
            ret = server ? wolfSSL_accept(ssl) : wolfSSL_connect(ssl);
            if (ret == WOLFSSL_SUCCESS) break;
            int err = wolfSSL_get_error(ssl, ret);
            if (err == WOLFSSL_ERROR_WANT_READ || err == WOLFSSL_ERROR_WANT_WRITE) {
                waited += 200;
                if (waited > idle) break;
                continue;
            }
            printf("HANDSHAKE ERROR %d\n", err);
            break;
        }
        if (ret != WOLFSSL_SUCCESS) {
            printf("HANDSHAKE FAILED\n");
            rc = 1;
            wolfSSL_free(ssl);
            break;
        }
        io.locked = 1;
        print_connected(ssl);
        char buf[2048];
        if (server) {
            int quiet = 0;
            unsigned short port_now = io.peer.sin_port;
            while (quiet < idle) {
                int n = wolfSSL_read(ssl, buf, sizeof buf - 1);
                if (n > 0) {
                    quiet = 0;
                    io.peer = io.last; /* the record authenticated: follow its source */
                    if (io.peer.sin_port != port_now) {
                        port_now = io.peer.sin_port;
                        printf("PEER %d\n", ntohs(port_now));
                    }
                    buf[n] = 0;
                    printf("RECV %s\n", buf);
                    wolfSSL_write(ssl, buf, n);
                } else {
                    int err = wolfSSL_get_error(ssl, n);
                    if (err != WOLFSSL_ERROR_WANT_READ) break;
                    quiet += 200;
                }
            }
            printf("CLOSED\n");
            wolfSSL_shutdown(ssl);
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
                wolfSSL_write(ssl, msg, n);
                int quiet = 0;
                for (;;) {
                    n = wolfSSL_read(ssl, buf, sizeof buf - 1);
                    if (n > 0) break;
                    if (wolfSSL_get_error(ssl, n) != WOLFSSL_ERROR_WANT_READ) break;
                    quiet += 200;
                    if (quiet > idle) break;
                }
                if (n <= 0) {
                    printf("NO REPLY\n");
                    rc = 1;
                    break;
                }
                buf[n] = 0;
                printf("RECV %s\n", buf);
            }
            if (resume && !saved) saved = wolfSSL_get1_session(ssl);
            wolfSSL_shutdown(ssl);
            printf("CLOSED\n");
        }
        wolfSSL_free(ssl);
        if (!server && c + 1 < total) {
            /* the next connection comes from a new port, like a device after a restart */
            close(io.fd);
            io.fd = udp_socket();
        }
    }
    if (saved) wolfSSL_SESSION_free(saved);
    close(io.fd);
    wolfSSL_CTX_free(ctx);
    wolfSSL_Cleanup();
    return rc;
}
