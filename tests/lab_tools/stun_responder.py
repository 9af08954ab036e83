"""
A minimal STUN (RFC 5389) Binding responder for the lab's fake upstream host.

miniupnpd 2.3.1 refuses to forward ports when its WAN address is a reserved
range (our TEST-NET-3 WAN) unless STUN says it is reachable as itself. This
answers every Binding Request with the request's own source as the mapped
address (MAPPED-ADDRESS and XOR-MAPPED-ADDRESS), so miniupnpd sees no NAT
upstream. argv: ADDRESS PORT
"""

import socket
import struct
import sys

MAGIC = 0x2112A442
BINDING_REQUEST, BINDING_SUCCESS = 0x0001, 0x0101
MAPPED_ADDRESS, XOR_MAPPED_ADDRESS = 0x0001, 0x0020


def answer(request: bytes, ip: str, port: int) -> bytes | None:
    if len(request) < 20:
        return None
    kind, _length, cookie = struct.unpack("!HHI", request[:8])
    if kind != BINDING_REQUEST:
        return None
    transaction = request[8:20]
    address = struct.unpack("!I", socket.inet_aton(ip))[0]
    attributes = struct.pack("!HHxBHI", MAPPED_ADDRESS, 8, 1, port, address)
    attributes += struct.pack(
        "!HHxBHI", XOR_MAPPED_ADDRESS, 8, 1, port ^ (MAGIC >> 16), address ^ MAGIC
    )
    return struct.pack("!HHI", BINDING_SUCCESS, len(attributes), cookie) + transaction + attributes


def main() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((sys.argv[1], int(sys.argv[2])))
    print(f"stun responder on {sys.argv[1]}:{sys.argv[2]}", flush=True)
    while True:
        data, (ip, port) = sock.recvfrom(2048)
        reply = answer(data, ip, port)
        if reply is not None:
            sock.sendto(reply, (ip, port))


if __name__ == "__main__":
    main()
