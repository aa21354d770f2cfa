"""Tiny servers and clients run inside the lab's namespaces: ``python -m tests.lobbyhost_app.lab_programs``.

* ``udp-echo PORT``: echo each datagram back to its sender, on 127.0.0.1; prints ``ready``.
* ``udp-burst ADDR COUNT SIZE``: send COUNT numbered datagrams of SIZE bytes to ADDR,
  then a marker until its echo comes back; prints one JSON object: the numbers
  echoed back (in arrival order), and how many came back damaged or twice.
"""

from __future__ import annotations

import hashlib
import json
import socket
import struct
import sys

MARKER = b"marker"


def payload(number: int, size: int) -> bytes:
    """Datagram ``number``: its number, then bytes derived from it, ``size`` in all."""
    head = struct.pack("!I", number)
    body = hashlib.sha256(head).digest() * (size // 32 + 1)
    return (head + body)[:size]


def udp_echo(port: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", port))
    print("ready", flush=True)
    while True:
        data, source = sock.recvfrom(65536)
        sock.sendto(data, source)


def udp_burst(address: str, count: int, size: int) -> None:
    host, _, port = address.rpartition(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((host, int(port)))
    for number in range(count):
        sock.send(payload(number, size))
    sock.settimeout(0.2)  # how often the marker is sent again while it is lost
    echoed: list[int] = []
    damaged = duplicates = 0
    while True:
        sock.send(MARKER)
        try:
            while True:
                data = sock.recv(65536)
                if data == MARKER:
                    print(json.dumps({"echoed": echoed, "damaged": damaged, "twice": duplicates}))
                    return
                number = struct.unpack_from("!I", data)[0] if len(data) >= 4 else -1
                if data != payload(number, size):
                    damaged += 1
                elif number in echoed:
                    duplicates += 1
                else:
                    echoed.append(number)
        except TimeoutError:
            continue


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "udp-echo":
        udp_echo(int(args[0]))
    elif command == "udp-burst":
        udp_burst(args[0], int(args[1]), int(args[2]))
    else:
        raise SystemExit(f"unknown command {command!r}")
