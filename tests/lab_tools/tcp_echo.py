"""A one-line TCP greeter for the lab: answers every connection with HELLO NAME. argv: PORT NAME"""

import socket
import sys

server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("0.0.0.0", int(sys.argv[1])))
server.listen()
print("listening", flush=True)
while True:
    conn, _ = server.accept()
    with conn:
        conn.sendall(f"HELLO {sys.argv[2]}\n".encode())
