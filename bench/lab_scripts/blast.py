"""
In a lab host: send COUNT unicast M-SEARCH (ST upnp:rootdevice, no MX) to HOST:1900 from one
socket, at most WINDOW unanswered at once, and count the answers. Each search differs (a
CPFN.UPNP.ORG-like X-SEQ header) so that no cache anywhere answers twice the same bytes.
A window with no answer for 50 ms counts as lost and is opened again. Prints one JSON line.
argv: HOST COUNT [WINDOW]
"""

import json
import select
import socket
import sys
import time

host, count = sys.argv[1], int(sys.argv[2])
window = int(sys.argv[3]) if len(sys.argv) > 3 else 64
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.setblocking(False)
searches = [
    (f"M-SEARCH * HTTP/1.1\r\nHOST: {host}:1900\r\nMAN: \"ssdp:discover\"\r\n"
     f"ST: upnp:rootdevice\r\nX-SEQ: {i}\r\n\r\n").encode()
    for i in range(count)
]  # fmt: skip
sent = answered = lost = 0
outstanding = 0
last_answer = start = time.perf_counter()
while sent < count or outstanding:
    while outstanding < window and sent < count:
        try:
            s.sendto(searches[sent], (host, 1900))
        except BlockingIOError:
            break
        sent += 1
        outstanding += 1
    ready, _, _ = select.select([s], [], [], 0.05)
    if not ready:
        # nothing for 50 ms: what is out is lost
        lost += outstanding
        outstanding = 0
        continue
    while True:
        try:
            s.recv(4096)
        except BlockingIOError:
            break
        answered += 1
        outstanding = max(0, outstanding - 1)
        last_answer = time.perf_counter()
elapsed = last_answer - start
rate = answered / elapsed if answered else 0.0
print(json.dumps({"sent": sent, "answered": answered, "lost": lost, "seconds": elapsed,
                  "per_second": rate}))  # fmt: skip
