/*
 * wolfSSL 5.9 DTLS 1.3 external-PSK client and server for simbridge's interop tests. Test
 * harness code, loopback only.
 *
 *   wolf13_peer client PORT -k HEX -i IDENTITY [-l TLS13-CIPHER] [-n N] [-u N] [-g GROUP]
 *                    [-c HEX] [-r CONNECTIONS] [-R 1] [-V 1.3|1.2|auto] [-w MS] [-e TEXT]
 *   wolf13_peer server 0 -k HEX -i IDENTITY [-l TLS13-CIPHER] [-n N] [-g GROUP] [-C 1] [-c HEX]
 *                    [-r CONNECTIONS] [-E MAX]
 *
 * The client connects to 127.0.0.1:PORT, sends N messages "msg <i>" and expects each echoed.
 * The server binds 127.0.0.1 on a free port, prints "LISTENING <port>", takes one client and
 * echoes N messages. Without -g both sides use psk_ke only; -g x25519|p256 means psk_dhe_ke
 * in those groups (-g x25519,p256: the client's one key share is in the first). -C 1: the server sends no
 * HelloRetryRequest cookie (wolfSSL's server always asks for one by default). -c HEX: offer
 * connection_id with this CID for the records it receives ("" for an empty one); the CONNECTED
 * line then says cid_tx=<the CID it puts in its records>. -r N: the server takes N connections
 * from the same client one after the other, and the client makes N connections, the later ones
 * resuming with the server's ticket (CONNECTED says resumed=1). -R 1 (client): every later
 * connection offers the first connection's session (its ticket), not the newest one, so the
 * third connection offers a ticket that resumed a session already.
 * -V (client): the DTLS version(s) offered: 1.3 (the default), 1.2 (wolfDTLSv1_2, a DTLS 1.2
 * PSK client; -l then names a 1.2 suite such as PSK-AES128-CCM-8), or auto (wolfSSL's
 * version-flexible DTLS method: offers 1.3 and 1.2; -l may list a 1.3 and a 1.2 suite,
 * colon-separated). -w MS (client): pauses MS milliseconds before each message after the
 * first (a test restarts the server in that gap).
 * -e TEXT (client): every connection that resumes sends TEXT as 0-RTT early data with its
 * ClientHello (wolfSSL_write_early_data) and, once connected, prints "EARLY_STATUS <s>"
 * (wolfSSL_get_early_data_status: 0 none, 1 rejected, 2 accepted; wolfSSL may say 2 where its
 * server dropped the data, see the tests). -E MAX (server): its tickets allow MAX bytes of early
 * data; it reads early data before the handshake completes and prints "EARLY <text>" for each
 * record of it (not echoed).
 * Both end with close_notify: the client sends one after its N messages, the server waits for
 * it after N echoes and then prints "CLOSE_NOTIFY".
 * stdout: "CONNECTED version=<v> cipher=<name> group=<g> cid_tx=<c>", "RECV <text>",
 * "CLOSED"; exit 0 on success.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

static unsigned char psk[64];
static unsigned int psk_len;
static const char *identity = "Client_identity";
static const char *cipher = "TLS13-AES128-CCM-8-SHA256";

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static const char *group_name = NULL;
static int conns = 1; /* server: connections to take one after the other (-r) */
static unsigned char cid[16];
static int cid_len = -1; /* -1: no connection_id */
static int no_cookie = 0;
static int max_early = 0;         /* server: -E */
static const char *early = NULL; /* client: -e */
static char first_cipher[64]; /* the first of a colon-separated -l list */

static int group_id(const char *name) {
    if (!strcmp(name, "x25519")) return WOLFSSL_ECC_X25519;
    if (!strcmp(name, "p256")) return WOLFSSL_ECC_SECP256R1;
    return -1;
}

static unsigned int psk_server_cb(WOLFSSL *ssl, const char *id, unsigned char *key,
                                  unsigned int key_max, const char **suite) {
    (void)ssl;
    if (strcmp(id, identity) != 0 || psk_len > key_max) return 0;
    memcpy(key, psk, psk_len);
    *suite = cipher;
    return psk_len;
}

static unsigned int psk_cb(WOLFSSL *ssl, const char *hint, char *id, unsigned int id_max,
                           unsigned char *key, unsigned int key_max, const char **suite) {
    (void)ssl;
    (void)hint;
    if (strlen(identity) + 1 > id_max || psk_len > key_max) return 0;
    strcpy(id, identity);
    memcpy(key, psk, psk_len);
    *suite = first_cipher;
    return psk_len;
}

/* DTLS 1.2 PSK (RFC 4279): the same identity and key */
static unsigned int psk_cb12(WOLFSSL *ssl, const char *hint, char *id, unsigned int id_max,
                             unsigned char *key, unsigned int key_max) {
    (void)ssl;
    (void)hint;
    if (strlen(identity) + 1 > id_max || psk_len > key_max) return 0;
    strcpy(id, identity);
    memcpy(key, psk, psk_len);
    return psk_len;
}

/* Pins the key exchange: psk_ke only, or psk_dhe_ke in the groups of -g (a comma-separated
 * list; the client's one key share is in the first). */
static int set_exchange(WOLFSSL *ssl, int client) {
    if (!group_name) {
        wolfSSL_no_dhe_psk(ssl);
        return 0;
    }
    int groups[4], n = 0;
    char list[64];
    snprintf(list, sizeof list, "%s", group_name);
    for (char *t = strtok(list, ","); t && n < 4; t = strtok(NULL, ",")) {
        if ((groups[n++] = group_id(t)) < 0) return -1;
    }
    if (n == 0 || wolfSSL_set_groups(ssl, groups, n) != WOLFSSL_SUCCESS) return -1;
    if (client && wolfSSL_UseKeyShare(ssl, (word16)groups[0]) != WOLFSSL_SUCCESS) return -1;
    return 0;
}

static void print_connected(WOLFSSL *ssl) {
    const char *curve = wolfSSL_get_curve_name(ssl);
    char tx[40] = "none";
    unsigned int n = 0;
    if (cid_len >= 0 && wolfSSL_dtls_cid_get_tx_size(ssl, &n) == WOLFSSL_SUCCESS) {
        unsigned char b[16];
        tx[0] = 0;
        if (n > 0 && n <= sizeof b && wolfSSL_dtls_cid_get_tx(ssl, b, sizeof b) == WOLFSSL_SUCCESS)
            for (unsigned int i = 0; i < n; i++) sprintf(tx + 2 * i, "%02x", b[i]);
    }
    printf("CONNECTED version=%s cipher=%s group=%s cid_tx=%s resumed=%d\n",
           wolfSSL_get_version(ssl), wolfSSL_get_cipher_name(ssl), curve ? curve : "none", tx,
           wolfSSL_session_reused(ssl));
    fflush(stdout);
}

/* connection_id with our CID, when -c was given. */
static int set_cid(WOLFSSL *ssl) {
    if (cid_len < 0) return 0;
    if (wolfSSL_dtls_cid_use(ssl) != WOLFSSL_SUCCESS) return -1;
    return wolfSSL_dtls_cid_set(ssl, cid, (unsigned int)cid_len) == WOLFSSL_SUCCESS ? 0 : -1;
}

static int handshake_failed(WOLFSSL *ssl, int r) {
    char buf[128];
    fprintf(stderr, "handshake failed: %s\n",
            wolfSSL_ERR_error_string((unsigned long)wolfSSL_get_error(ssl, r), buf));
    return 1;
}

/* Server with -E: takes the early data that comes before the client's Finished. */
static int read_early(WOLFSSL *ssl) {
    char got[256];
    int len = 0, r;
    do {
        r = wolfSSL_read_early_data(ssl, got, sizeof got - 1, &len);
        if (r < 0) {
            int err = wolfSSL_get_error(ssl, r);
            if (err == WOLFSSL_ERROR_WANT_READ) continue;
            return handshake_failed(ssl, r);
        }
        if (len > 0) {
            got[len] = 0;
            printf("EARLY %s\n", got);
            fflush(stdout);
        }
    } while (len > 0);
    return 0;
}

/* -m: the MTU wolfSSL fragments its handshake messages to (0: its default) */
static int mtu = 0;

/* wolfSSL fragments handshake messages larger than the MTU (RFC 9147 sec. 5.5) */
static int set_mtu(WOLFSSL *ssl) {
    if (mtu > 0 && wolfSSL_dtls_set_mtu(ssl, (unsigned short)mtu) != WOLFSSL_SUCCESS) {
        fprintf(stderr, "MTU %d refused\n", mtu);
        return 1;
    }
    return 0;
}

/* One client: echoes n messages back. */
static int serve(int n) {
    WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfDTLSv1_3_server_method());
    if (!ctx || wolfSSL_CTX_set_cipher_list(ctx, cipher) != WOLFSSL_SUCCESS) {
        fprintf(stderr, "context or cipher %s refused\n", cipher);
        return 1;
    }
    wolfSSL_CTX_set_psk_server_tls13_callback(ctx, psk_server_cb);
    if (max_early > 0 && wolfSSL_CTX_set_max_early_data(ctx, (unsigned int)max_early) < 0) {
        fprintf(stderr, "max early data refused\n");
        return 1;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) return 1;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    printf("LISTENING %d\n", ntohs(sa.sin_port));
    fflush(stdout);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    /* learn the client's address from its first datagram, then talk to it only */
    struct sockaddr_in from = {0};
    socklen_t fl = sizeof from;
    char peek[1];
    if (recvfrom(fd, peek, sizeof peek, MSG_PEEK, (struct sockaddr *)&from, &fl) < 0) return 1;
    if (connect(fd, (struct sockaddr *)&from, fl) != 0) return 1;
    for (int conn = 0; conn < conns; conn++) {
        WOLFSSL *ssl = wolfSSL_new(ctx);
        if (set_exchange(ssl, 0) != 0 || set_cid(ssl) != 0) {
            fprintf(stderr, "group %s refused\n", group_name);
            return 1;
        }
        if (no_cookie) wolfSSL_disable_hrr_cookie(ssl);
        if (set_mtu(ssl) != 0) return 1;
        wolfSSL_dtls_set_peer(ssl, &from, fl);
        wolfSSL_set_fd(ssl, fd);
        if (max_early > 0 && read_early(ssl) != 0) return 1;
        int r = wolfSSL_accept(ssl);
        if (r != WOLFSSL_SUCCESS) return handshake_failed(ssl, r);
        print_connected(ssl);
        for (int i = 0; i < n; i++) {
            char got[256];
            int len = wolfSSL_read(ssl, got, sizeof got - 1);
            if (len <= 0) {
                fprintf(stderr, "read failed: %d\n", wolfSSL_get_error(ssl, len));
                return 1;
            }
            got[len] = 0;
            printf("RECV %s\n", got);
            fflush(stdout);
            if (wolfSSL_write(ssl, got, len) != len) return 1;
        }
        /* the client ends with close_notify: wolfSSL_read says ZERO_RETURN */
        char last[64];
        int r2 = wolfSSL_read(ssl, last, sizeof last);
        if (r2 <= 0 && wolfSSL_get_error(ssl, r2) == WOLFSSL_ERROR_ZERO_RETURN) printf("CLOSE_NOTIFY\n");
        printf("CLOSED\n");
        wolfSSL_free(ssl);
    }
    wolfSSL_CTX_free(ctx);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3 || (strcmp(argv[1], "client") != 0 && strcmp(argv[1], "server") != 0)) {
        fprintf(stderr, "usage: wolf13_peer client|server PORT -k HEX -i ID [-l CIPHER] [-n N]"
                        " [-u N] [-g x25519|p256] [-C 1] [-m MTU]\n");
        return 2;
    }
    int port = atoi(argv[2]), n = 3, update_at = -1, wait_ms = 0, keep_first = 0;
    const char *version = "1.3";
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-k")) {
            const char *s = argv[i + 1];
            psk_len = 0;
            while (s[0] && s[1] && psk_len < sizeof psk) {
                psk[psk_len++] = (unsigned char)(hexval(s[0]) << 4 | hexval(s[1]));
                s += 2;
            }
        } else if (!strcmp(argv[i], "-i")) {
            identity = argv[i + 1];
        } else if (!strcmp(argv[i], "-l")) {
            cipher = argv[i + 1];
        } else if (!strcmp(argv[i], "-n")) {
            n = atoi(argv[i + 1]);
        } else if (!strcmp(argv[i], "-g")) {
            group_name = argv[i + 1];
        } else if (!strcmp(argv[i], "-c")) {
            const char *h = argv[i + 1];
            cid_len = 0;
            while (h[0] && h[1] && cid_len < (int)sizeof cid) {
                cid[cid_len++] = (unsigned char)(hexval(h[0]) << 4 | hexval(h[1]));
                h += 2;
            }
        } else if (!strcmp(argv[i], "-r")) {
            conns = atoi(argv[i + 1]);
        } else if (!strcmp(argv[i], "-C")) {
            no_cookie = atoi(argv[i + 1]);
        } else if (!strcmp(argv[i], "-V")) {
            version = argv[i + 1];
        } else if (!strcmp(argv[i], "-R")) {
            keep_first = atoi(argv[i + 1]);
        } else if (!strcmp(argv[i], "-e")) {
            early = argv[i + 1];
        } else if (!strcmp(argv[i], "-E")) {
            max_early = atoi(argv[i + 1]);
        } else if (!strcmp(argv[i], "-w")) {
            wait_ms = atoi(argv[i + 1]);
        } else if (!strcmp(argv[i], "-m")) {
            mtu = atoi(argv[i + 1]);
        } else if (!strcmp(argv[i], "-u")) {
            update_at = atoi(argv[i + 1]); /* KeyUpdate (update_requested) before message N */
        }
    }
    snprintf(first_cipher, sizeof first_cipher, "%s", cipher);
    first_cipher[strcspn(first_cipher, ":")] = 0;
    wolfSSL_Init();
    if (!strcmp(argv[1], "server")) return serve(n);
    WOLFSSL_METHOD *method = !strcmp(version, "1.2")    ? wolfDTLSv1_2_client_method()
                             : !strcmp(version, "auto") ? wolfDTLS_client_method()
                                                        : wolfDTLSv1_3_client_method();
    WOLFSSL_CTX *ctx = wolfSSL_CTX_new(method);
    if (!ctx || wolfSSL_CTX_set_cipher_list(ctx, cipher) != WOLFSSL_SUCCESS) {
        fprintf(stderr, "context or cipher %s refused\n", cipher);
        return 1;
    }
    wolfSSL_CTX_set_psk_client_tls13_callback(ctx, psk_cb);
    wolfSSL_CTX_set_psk_client_callback(ctx, psk_cb12);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) return 1;
    WOLFSSL_SESSION *saved = NULL;
    for (int conn = 0; conn < conns; conn++) {
        WOLFSSL *ssl = wolfSSL_new(ctx);
        if (saved) wolfSSL_set_session(ssl, saved);
        if (set_exchange(ssl, 1) != 0 || set_cid(ssl) != 0) {
            fprintf(stderr, "group %s refused\n", group_name);
            return 1;
        }
        if (set_mtu(ssl) != 0) return 1;
        wolfSSL_dtls_set_peer(ssl, &sa, sizeof sa);
        wolfSSL_set_fd(ssl, fd);
        if (early && saved) {
            int written = 0;
            int e = wolfSSL_write_early_data(ssl, early, (int)strlen(early), &written);
            if (e < 0 && wolfSSL_get_error(ssl, e) != WOLFSSL_ERROR_WANT_READ)
                return handshake_failed(ssl, e);
        }
        int c = wolfSSL_connect(ssl);
        if (c != WOLFSSL_SUCCESS) return handshake_failed(ssl, c);
        print_connected(ssl);
        if (early && saved) {
            printf("EARLY_STATUS %d\n", wolfSSL_get_early_data_status(ssl));
            fflush(stdout);
        }
        for (int i = 0; i < n; i++) {
            char msg[64], got[256];
            int len = snprintf(msg, sizeof msg, "msg %d", i);
            if (i > 0 && wait_ms > 0) usleep((useconds_t)wait_ms * 1000);
            if (i == update_at) {
                int u = wolfSSL_update_keys(ssl);
                printf("UPDATE_KEYS %d\n", u);
                fflush(stdout);
                if (u != WOLFSSL_SUCCESS) return 1;
            }
            if (wolfSSL_write(ssl, msg, len) != len) return 1;
            int r = wolfSSL_read(ssl, got, sizeof got - 1);
            if (r <= 0) {
                fprintf(stderr, "read failed: %d\n", wolfSSL_get_error(ssl, r));
                return 1;
            }
            got[r] = 0;
            printf("RECV %s\n", got);
            fflush(stdout);
            if (strcmp(got, msg) != 0) return 1;
        }
        if (conn + 1 < conns && !(keep_first && saved)) {
            /* the server's ticket came with the echoes (wolfSSL_read takes it) */
            if (saved) wolfSSL_SESSION_free(saved);
            saved = wolfSSL_get1_session(ssl);
        }
        wolfSSL_shutdown(ssl); /* close_notify */
        printf("CLOSED\n");
        wolfSSL_free(ssl);
    }
    wolfSSL_CTX_free(ctx);
    wolfSSL_Cleanup();
    return 0;
}
