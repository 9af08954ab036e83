"""Connect to HOST PORT and print what the server says first (or the error)."""

import socket
import sys

try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) as conn:
        print(conn.recv(100).decode().strip())
except OSError as e:
    print(f"ERROR {e}")
