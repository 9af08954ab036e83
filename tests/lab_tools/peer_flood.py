"""
In a lab host: NOTIFY as many fake nodes of blockchain/main as asked, from this host.

argv: MODE COUNT RATE
  eclipse  COUNT alive NOTIFY, each of a new uuid, max-age 86400
  flap     COUNT NOTIFY for 1000 uuids, alive and byebye in turn
Prints one JSON line with what was sent.
"""

import json
import socket
import sys
import time
import uuid

mode, count, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
own = socket.gethostbyname("localhost")
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 2)


def notify(node, nts):
    lines = [
        "NOTIFY * HTTP/1.1",
        "HOST: 239.255.255.250:1900",
        f"NT: uuid:{node}",
        f"NTS: {nts}",
        f"USN: uuid:{node}",
        "BOOTID.UPNP.ORG: 1",
        "CONFIGID.UPNP.ORG: 1",
    ]
    if nts == "ssdp:alive":
        lines += [
            "CACHE-CONTROL: max-age=86400",
            "LOCATION: http://198.51.100.12:1/d.xml",
            "SERVER: Linux/1 UPnP/1.1 fake/1",
            "PRODUCT.SSDP-UPNP.ORG: blockchain",
            "NETWORK.SSDP-UPNP.ORG: main",
            "PORT.SSDP-UPNP.ORG: 8048",
        ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


start = time.monotonic()
for i in range(count):
    if mode == "eclipse":
        data = notify(uuid.UUID(int=i + 1), "ssdp:alive")
    else:
        nts = "ssdp:alive" if i % 2 == 0 else "ssdp:byebye"
        data = notify(uuid.UUID(int=(i // 2) % 1000 + 1), nts)
    s.sendto(data, ("239.255.255.250", 1900))
    delay = start + (i + 1) / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)
print(json.dumps({"sent": count, "seconds": round(time.monotonic() - start, 2)}), flush=True)
