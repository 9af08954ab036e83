"""
Run inside a lab host: flood the SSDP group with ssdp:all M-SEARCH from each
given local source address, count what comes back, print one JSON line.

argv: SECONDS RATE_PER_SOURCE SOURCE [SOURCE ...]
An IPv6 source (a link-local one written fe80::1%eth0) floods ff02::c on eth0.
Replies are collected until 6 s after the flood (MX is 5 at most).
"""

import json
import selectors
import socket
import sys
import time

seconds, rate = float(sys.argv[1]), float(sys.argv[2])
sources = sys.argv[3:]


def search_for(host):
    return (
        b"M-SEARCH * HTTP/1.1\r\nHOST: " + host + b"\r\n"
        b'MAN: "ssdp:discover"\r\nMX: 120\r\nST: ssdp:all\r\n\r\n'
    )


sel = selectors.DefaultSelector()
socks = {}
for source in sources:
    if ":" in source:
        s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        s.bind(socket.getaddrinfo(source, 0, socket.AF_INET6, socket.SOCK_DGRAM)[0][4])
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, socket.if_nametoindex("eth0"))
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 2)
        target = (("ff02::c%eth0", 1900), search_for(b"[FF02::C]:1900"))
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((source, 0))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(source))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 2)
        target = (("239.255.255.250", 1900), search_for(b"239.255.255.250:1900"))
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, source)
    socks[source] = (s, target)

sent = {source: 0 for source in sources}
received = {source: 0 for source in sources}
bytes_in_replies = {source: 0 for source in sources}
first_reply = {}
last_reply = {}
sent_bytes = 0
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
        for source, (s, (to, datagram)) in socks.items():
            try:
                s.sendto(datagram, to)
                sent[source] += 1
                sent_bytes += len(datagram)
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
    "bytes_sent": sent_bytes,
    "replies_received": total_received,
    "bytes_received": sum(bytes_in_replies.values()),
    "max_replies_per_source": max(received.values()),
    "per_source": received,
    "last_reply_after_flood": (max(last_reply.values()) - stop_sending) if last_reply else None,
}), flush=True)  # fmt: skip
