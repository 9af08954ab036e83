"""
In a lab host: tell a running minissdpd (through its unix socket) of one service, the
rootdevice the reply-rate blast searches for, as miniupnpd does (request type 4: ST, USN,
SERVER, LOCATION, each after its length in 7-bit groups).
argv: SOCKET
"""

import socket
import sys


def length(n: int) -> bytes:
    groups = [n & 0x7F]
    while n > 0x7F:
        n >>= 7
        groups.append((n & 0x7F) | 0x80)
    return bytes(reversed(groups))


def field(text: str) -> bytes:
    data = text.encode()
    return length(len(data)) + data


request = b"\x04" + b"".join(field(text) for text in (
    "upnp:rootdevice",
    "uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427::upnp:rootdevice",
    "Linux UPnP/1.1 bench/1",
    "http://198.51.100.11:8000/description.xml",
))  # fmt: skip
with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
    s.connect(sys.argv[1])
    s.sendall(request)
print("submitted", flush=True)
