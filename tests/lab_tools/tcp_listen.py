"""
Listen on TCP PORT in a lab host; print a line for every connection and, with
GREETING, send it first (a LAN service to reach through a mapping, or a third
host that must stay unused). argv: PORT [GREETING]
"""

import socket
import sys

server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", int(sys.argv[1])))
server.listen()
print("listening", flush=True)
while True:
    conn, addr = server.accept()
    print(f"connection from {addr[0]}", flush=True)
    with conn:
        if len(sys.argv) > 2:
            conn.sendall(f"{sys.argv[2]}\n".encode())
