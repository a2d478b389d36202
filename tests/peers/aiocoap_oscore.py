"""aiocoap's OSCORE (RFC 8613) as a peer of simbridge-oscore, one CoAP message at a time.

Usage: aiocoap_oscore.py CONTEXT_DIR
CONTEXT_DIR holds aiocoap's settings.json (sender-id_hex, recipient-id_hex, secret_hex, salt_hex,
algorithm). Commands on stdin, one per line, answers on stdout, one per line:
  protect-request HEX      plain CoAP request  -> protected request (hex)
  unprotect-request HEX    protected request   -> plain request (hex)
  protect-response HEX     plain response to the last request -> protected response (hex)
  unprotect-response HEX   protected response to the last request -> plain response (hex)
An answer "ERR <exception class>: <text>" means aiocoap refused the message (a replay, say).
Token, message ID and type are carried over from the input: OSCORE leaves them outer.
"""

import sys
import traceback
import warnings

import aiocoap
import aiocoap.oscore as oscore
from aiocoap.message import Direction

warnings.simplefilter("ignore", DeprecationWarning)


def decode(hexed, direction):
    m = aiocoap.Message.decode(bytes.fromhex(hexed))
    m.direction = direction
    return m


def outer(protected, like):
    protected.mid = like.mid
    protected.mtype = like.mtype
    protected.token = like.token
    # an unprotected incoming message is re-encoded to be handed back
    protected.direction = Direction.OUTGOING
    return protected.encode().hex()


def main():
    ctx = oscore.FilesystemSecurityContext(sys.argv[1])
    request_id = None
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        try:
            if cmd == "protect-request":
                plain = decode(arg, Direction.OUTGOING)
                protected, request_id = ctx.protect(plain)
                print(outer(protected, plain))
            elif cmd == "unprotect-request":
                wire = decode(arg, Direction.INCOMING)
                plain, request_id = ctx.unprotect(wire)
                print(outer(plain, wire))
            elif cmd == "protect-response":
                plain = decode(arg, Direction.OUTGOING)
                protected, _ = ctx.protect(plain, request_id)
                print(outer(protected, plain))
            elif cmd == "unprotect-response":
                wire = decode(arg, Direction.INCOMING)
                plain, _ = ctx.unprotect(wire, request_id)
                print(outer(plain, wire))
            else:
                print("ERR unknown command " + cmd)
        except Exception as e:  # every refusal is an answer, not a crash
            if not isinstance(e, oscore.ProtectionInvalid):
                traceback.print_exc(file=sys.stderr)
            print("ERR %s: %s" % (type(e).__name__, e))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
