"""
Run inside a lab host: flood the SSDP group with ssdp:all M-SEARCH from each
given local source address, count what comes back, print one JSON line.

argv: SECONDS RATE_PER_SOURCE SOURCE [SOURCE ...]
Replies are collected until 6 s after the flood (MX is 5 at most).
"""

import json
import selectors
import socket
import sys
import time

seconds, rate = float(sys.argv[1]), float(sys.argv[2])
sources = sys.argv[3:]
search = (
    b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
    b'MAN: "ssdp:discover"\r\nMX: 120\r\nST: ssdp:all\r\n\r\n'
)
sel = selectors.DefaultSelector()
socks = {}
for source in sources:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((source, 0))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(source))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 2)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, source)
    socks[source] = s

sent = {source: 0 for source in sources}
received = {source: 0 for source in sources}
bytes_in_replies = {source: 0 for source in sources}
first_reply = {}
last_reply = {}
interval = 1.0 / rate
start = time.monotonic()
next_send = start
stop_sending = start + seconds
stop_listening = stop_sending + 6.0


def drain(timeout):
    for key, _ in sel.select(timeout):
        while True:
            try:
                data, _ = key.fileobj.recvfrom(4096)
            except BlockingIOError:
                break
            source = key.data
            received[source] += 1
            bytes_in_replies[source] += len(data)
            now = time.monotonic()
            first_reply.setdefault(source, now)
            last_reply[source] = now


while (now := time.monotonic()) < stop_listening:
    if now < stop_sending and now >= next_send:
        for source, s in socks.items():
            try:
                s.sendto(search, ("239.255.255.250", 1900))
                sent[source] += 1
            except OSError:
                pass
        next_send += interval
    wait = max(0.0, min(next_send, stop_listening) - time.monotonic())
    drain(min(wait, 0.05) if now < stop_sending else 0.2)

total_sent = sum(sent.values())
total_received = sum(received.values())
print(json.dumps({
    "sources": len(sources),
    "seconds": seconds,
    "searches_sent": total_sent,
    "bytes_sent": total_sent * len(search),
    "replies_received": total_received,
    "bytes_received": sum(bytes_in_replies.values()),
    "max_replies_per_source": max(received.values()),
    "per_source": received,
    "last_reply_after_flood": (max(last_reply.values()) - stop_sending) if last_reply else None,
}), flush=True)  # fmt: skip
