#!/usr/bin/env python3
"""DTLS 1.2 PSK peer on Mbed TLS 2.28 (python-mbedtls), for simbridge's interop tests.

    mbedtls_dtls_psk.py server --port P --suite NAME [--echo] [--identity ID] [--psk HEX]
    mbedtls_dtls_psk.py client --port P --suite NAME [--send MSG]... [--stdin] [--identity ID] [--psk HEX]

NAME is an IANA name (TLS_PSK_WITH_AES_128_CCM_8) or an Mbed TLS one (TLS-PSK-WITH-AES-128-CCM-8).
Loopback only. One connection per run. Output on stdout, one line per event, flushed:
    LISTENING <port>     server bound (port 0 picks one)
    CONNECTED <suite>    handshake done
    RECV <text>          one application record (the server echoes it back with --echo; the
                         client sends each --send MSG, or each stdin line with --stdin, and
                         waits for its echo)
    CLOSE_NOTIFY         the peer sent close_notify
    CLOSED               we sent close_notify (client, after its messages)
    ERROR <text>         failure (exit status 1)
The whole run is bounded by --timeout seconds (SIGALRM), so a test never waits on a hung peer.
"""
import argparse
import signal
import socket
import sys

from mbedtls import tls
from mbedtls.exceptions import TLSError

IDENTITY = "client1"
PSK = "000102030405060708090a0b0c0d0e0f"


def say(*parts):
    print(*parts, flush=True)


def mbed_name(name):
    return name.replace("_", "-").upper()


def cipher_name(conn):
    c = conn.cipher()
    return c if isinstance(c, str) else c[0]


def flush(conn):
    """Send whatever Mbed TLS queued. python-mbedtls's own do_handshake only sends on
    WantWriteError, so flights that Mbed TLS retransmits on its timer (or in answer to a
    retransmitted peer flight) would stay in the buffer: flush after every step."""
    buf = conn._buffer
    while True:
        out = buf.peek_outgoing(4096)
        if not out:
            return
        amt = conn._socket.send(out)
        buf.consume_outgoing(amt)


def handshake(conn):
    """Drive the handshake with a short socket timeout, so Mbed TLS's retransmission timer
    (checked on every call) gets to run, and flush after each step."""
    buf = conn._buffer
    while buf._handshake_state is not tls.HandshakeStep.HANDSHAKE_OVER:
        try:
            buf.do_handshake()
        except tls.WantWriteError:
            pass
        except tls.WantReadError:
            flush(conn)
            try:
                data = conn._socket.recv(4096)
            except socket.timeout:
                continue
            buf.receive_from_network(data)
            continue
        except tls.HelloVerifyRequest:
            flush(conn)
            raise
        flush(conn)
    flush(conn)


def read_record(conn):
    """One application record; None once the peer sent close_notify."""
    while True:
        flush(conn)
        try:
            data = conn.recv(4096)
        except (socket.timeout, tls.WantReadError, tls.WantWriteError):
            # nothing yet, or a record that was not application data (a retransmitted flight)
            continue
        except TLSError as e:
            if "CLOSE_NOTIFY" in str(e).upper() or "7880" in str(e):
                return None
            raise
        finally:
            flush(conn)
        if data == b"":
            # mbedtls_ssl_read returned 0: close_notify received.
            return None
        return data


def send_close_notify(conn):
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def server(a, conf):
    ctx = tls.ServerContext(conf)
    sock = ctx.wrap_socket(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    # accept() re-binds the listening address: SO_REUSEADDR must be set before the first bind.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((a.host, a.port))
    say("LISTENING", sock.getsockname()[1])
    # Cookie dance: accept -> setcookieparam -> handshake raises HelloVerifyRequest -> accept
    # again. Repeated until a ClientHello with a valid cookie arrives: a lost cookie ClientHello
    # or a retransmitted/duplicated first ClientHello means another round.
    conn, addr = sock.accept()
    while True:
        conn.settimeout(0.2)
        conn.setcookieparam(addr[0].encode("ascii"))
        try:
            handshake(conn)
            break
        except tls.HelloVerifyRequest:
            pass
        while True:
            try:
                conn, addr = conn.accept()
                break
            except socket.timeout:
                continue
    say("CONNECTED", cipher_name(conn))
    while True:
        data = read_record(conn)
        if data is None:
            say("CLOSE_NOTIFY")
            return 0
        say("RECV", data.decode("utf-8", "replace").rstrip("\n"))
        if a.echo:
            conn.send(data)


def client(a, conf):
    ctx = tls.ClientContext(conf)
    conn = ctx.wrap_socket(socket.socket(socket.AF_INET, socket.SOCK_DGRAM), server_hostname=None)
    conn.settimeout(0.2)
    conn.connect((a.host, a.port))
    handshake(conn)
    say("CONNECTED", cipher_name(conn))
    messages = (line.rstrip("\n") for line in sys.stdin) if a.stdin else a.send
    for msg in messages:
        conn.send((msg + "\n").encode("utf-8"))
        data = read_record(conn)
        if data is None:
            say("CLOSE_NOTIFY")
            return 0
        say("RECV", data.decode("utf-8", "replace").rstrip("\n"))
    send_close_notify(conn)
    say("CLOSED")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("role", choices=["server", "client"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--suite", default="TLS_PSK_WITH_AES_128_CCM_8")
    p.add_argument("--identity", default=IDENTITY)
    p.add_argument("--psk", default=PSK)
    p.add_argument("--echo", action="store_true")
    p.add_argument("--send", action="append", default=[])
    p.add_argument("--stdin", action="store_true", help="client: send stdin lines instead of --send")
    p.add_argument("--timeout", type=int, default=20)
    a = p.parse_args()
    if a.host not in ("127.0.0.1", "::1", "localhost"):
        say("ERROR", "loopback only")
        return 2
    signal.alarm(a.timeout)
    suite = mbed_name(a.suite)
    if suite not in tls.ciphers_available():
        say("ERROR", "suite not available in Mbed TLS", suite)
        return 3
    key = bytes.fromhex(a.psk)
    common = dict(
        ciphers=[suite],
        validate_certificates=False,
        lowest_supported_version=tls.DTLSVersion.DTLSv1_2,
        highest_supported_version=tls.DTLSVersion.DTLSv1_2,
    )
    try:
        if a.role == "server":
            conf = tls.DTLSConfiguration(pre_shared_key_store={a.identity: key}, **common)
            return server(a, conf)
        conf = tls.DTLSConfiguration(pre_shared_key=(a.identity, key), **common)
        return client(a, conf)
    except Exception as e:  # report every failure as one line for the test
        say("ERROR", type(e).__name__, e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
