#!/usr/bin/env python3
"""Opens a connection to brix's rendezvous store and presents a token (the wire format of
lib/brix/net/protocol.hpp); prints the reply status: ok or refused. Used to check that a client
without the job token is refused."""
import os
import socket
import struct
import sys


def frame(code, number, fields):
    body = struct.pack("<BqI", code, number, len(fields))
    for field in fields:
        data = field.encode()
        body += struct.pack("<I", len(data)) + data
    return struct.pack("<I", len(body)) + body


def main():
    token = sys.argv[1]
    host, port = os.environ["BRIX_STORE_ADDR"], int(os.environ["BRIX_STORE_PORT"])
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(frame(1, 0, [token, "test client"]))
        header = conn.recv(4)
        (length,) = struct.unpack("<I", header)
        body = b""
        while len(body) < length:
            body += conn.recv(length - len(body))
        status = body[0]
        print({0: "ok", 3: "refused"}.get(status, f"status {status}"))


main()
