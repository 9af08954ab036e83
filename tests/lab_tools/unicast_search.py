"""
In a lab host: send COUNT unicast M-SEARCH (upnp:rootdevice) to HOST:1900, each from a new
socket, waiting up to 2 s for an answer; print the first answer's source and text, then the
number answered, as JSON.  argv: HOST COUNT (an IPv6 HOST: over IPv6, HOST: [HOST]:1900)
"""

import json
import socket
import sys

host, count = sys.argv[1], int(sys.argv[2])
family = socket.AF_INET6 if ":" in host else socket.AF_INET
named = f"[{host.split('%')[0]}]" if family == socket.AF_INET6 else host
search = (
    f'M-SEARCH * HTTP/1.1\r\nHOST: {named}:1900\r\nMAN: "ssdp:discover"\r\n'
    "ST: upnp:rootdevice\r\n\r\n"
).encode()
answered, first = 0, None
for _ in range(count):
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(search, (host, 1900))
        try:
            data, addr = s.recvfrom(4096)
        except TimeoutError:
            continue
        answered += 1
        first = first or {"from": addr[0], "text": data.decode()}
print(json.dumps({"answered": answered, "first": first}))
