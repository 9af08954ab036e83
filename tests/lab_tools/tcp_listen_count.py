"""Listen on TCP PORT and print a line for every connection (a third host that must stay unused)."""

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
    conn.close()
