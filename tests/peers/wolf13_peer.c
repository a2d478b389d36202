/*
 * wolfSSL 5.9 DTLS 1.3 external-PSK client (psk_ke) for simbridge's interop tests. Test harness
 * code, loopback only.
 *
 *   wolf13_peer client PORT -k HEX -i IDENTITY [-l TLS13-CIPHER] [-n N]
 *
 * Connects to 127.0.0.1:PORT, sends N messages "msg <i>" and expects each echoed.
 * stdout: "CONNECTED version=<v> cipher=<name>", "RECV <text>", "CLOSED"; exit 0 on success.
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

static unsigned int psk_cb(WOLFSSL *ssl, const char *hint, char *id, unsigned int id_max,
                           unsigned char *key, unsigned int key_max, const char **suite) {
    (void)ssl;
    (void)hint;
    if (strlen(identity) + 1 > id_max || psk_len > key_max) return 0;
    strcpy(id, identity);
    memcpy(key, psk, psk_len);
    *suite = cipher;
    return psk_len;
}

int main(int argc, char **argv) {
    if (argc < 3 || strcmp(argv[1], "client") != 0) {
        fprintf(stderr, "usage: wolf13_peer client PORT -k HEX -i ID [-l CIPHER] [-n N] [-u N]\n");
        return 2;
    }
    int port = atoi(argv[2]), n = 3, update_at = -1;
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
        } else if (!strcmp(argv[i], "-u")) {
            update_at = atoi(argv[i + 1]); /* KeyUpdate (update_requested) before message N */
        }
    }
    wolfSSL_Init();
    WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfDTLSv1_3_client_method());
    if (!ctx || wolfSSL_CTX_set_cipher_list(ctx, cipher) != WOLFSSL_SUCCESS) {
        fprintf(stderr, "context or cipher %s refused\n", cipher);
        return 1;
    }
    wolfSSL_CTX_set_psk_client_tls13_callback(ctx, psk_cb);
    wolfSSL_CTX_no_dhe_psk(ctx); /* psk_ke: no (EC)DHE */
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) return 1;
    WOLFSSL *ssl = wolfSSL_new(ctx);
    wolfSSL_dtls_set_peer(ssl, &sa, sizeof sa);
    wolfSSL_set_fd(ssl, fd);
    if (wolfSSL_connect(ssl) != WOLFSSL_SUCCESS) {
        char buf[128];
        fprintf(stderr, "handshake failed: %s\n",
                wolfSSL_ERR_error_string((unsigned long)wolfSSL_get_error(ssl, 0), buf));
        return 1;
    }
    printf("CONNECTED version=%s cipher=%s\n", wolfSSL_get_version(ssl),
           wolfSSL_get_cipher_name(ssl));
    fflush(stdout);
    for (int i = 0; i < n; i++) {
        char msg[64], got[256];
        int len = snprintf(msg, sizeof msg, "msg %d", i);
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
    printf("CLOSED\n");
    wolfSSL_free(ssl);
    wolfSSL_CTX_free(ctx);
    wolfSSL_Cleanup();
    return 0;
}
