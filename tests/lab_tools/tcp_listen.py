"""
Listen on TCP PORT in a lab host; print a line for every connection and, with
GREETING, send it first (a LAN service to reach through a mapping, or a third
host that must stay unused). argv: PORT [GREETING]
"""

import socket
import sys

# dual-stack: IPv4 (through a NAT mapping) and IPv6 (through a pinhole) alike
server = socket.socket(socket.AF_INET6)
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
server.bind(("::", int(sys.argv[1])))
server.listen()
print("listening", flush=True)
while True:
    conn, addr = server.accept()
    print(f"connection from {addr[0].removeprefix('::ffff:')}", flush=True)
    with conn:
        if len(sys.argv) > 2:
            conn.sendall(f"{sys.argv[2]}\n".encode())
