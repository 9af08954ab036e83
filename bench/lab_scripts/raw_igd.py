"""
In a lab host: the raw-socket floor of a UPnP IGD mapping, stdlib only, no checks
beyond what it needs to go on. Prints one JSON line.
argv: cold | warm N
  cold: one M-SEARCH, the first answer's LOCATION, GET the description, find the
        WANIPConnection control URL, POST AddPortMapping, timed apart
  cold-status: the same with a GetStatusInfo POST before the add (in "find"), as ours does
  warm: N (AddPortMapping, DeletePortMapping) POSTs on the control URL found once
"""

import json
import re
import socket
import sys
import time

ST = "urn:schemas-upnp-org:device:InternetGatewayDevice:2"
SEARCH = (
    "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\n"
    f'MAN: "ssdp:discover"\r\nMX: 1\r\nST: {ST}\r\n\r\n'
).encode()
SERVICE = "urn:schemas-upnp-org:service:WANIPConnection:2"


def exchange(host, port, request):
    with socket.create_connection((host, port)) as s:
        s.sendall(request)
        parts = []
        while chunk := s.recv(65536):
            parts.append(chunk)
    return b"".join(parts)


def http_get(url):
    host, port, path = split(url)
    return exchange(host, port, f"GET {path} HTTP/1.0\r\nHOST: {host}:{port}\r\n\r\n".encode())


def split(url):
    hostport, _, path = url.split("://", 1)[1].partition("/")
    host, _, port = hostport.partition(":")
    return host, int(port or 80), "/" + path


def soap(url, action, args):
    host, port, path = split(url)
    inner = "".join(f"<{k}>{v}</{k}>" for k, v in args)
    body = (
        '<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>'
        f'<u:{action} xmlns:u="{SERVICE}">{inner}</u:{action}></s:Body></s:Envelope>'
    ).encode()
    head = (
        f"POST {path} HTTP/1.0\r\nHOST: {host}:{port}\r\nContent-Type: text/xml\r\n"
        f'SOAPAction: "{SERVICE}#{action}"\r\nContent-Length: {len(body)}\r\n\r\n'
    ).encode()
    answer = exchange(host, port, head + body)
    assert answer.split(b" ", 2)[1] == b"200", answer[:300]


def add(url, me):
    soap(url, "AddPortMapping", [
        ("NewRemoteHost", ""), ("NewExternalPort", "8048"), ("NewProtocol", "TCP"),
        ("NewInternalPort", "8048"), ("NewInternalClient", me), ("NewEnabled", "1"),
        ("NewPortMappingDescription", "raw"), ("NewLeaseDuration", "3600"),
    ])  # fmt: skip


def delete(url):
    soap(url, "DeletePortMapping", [
        ("NewRemoteHost", ""), ("NewExternalPort", "8048"), ("NewProtocol", "TCP"),
    ])  # fmt: skip


def find():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(SEARCH, ("239.255.255.250", 1900))
    data, (sender, _) = s.recvfrom(4096)
    me = s.getsockname()[0]
    location = re.search(rb"(?im)^location:\s*(\S+)", data).group(1).decode()
    description = http_get(location)
    control = (
        re.search(
            rb"<serviceType>"
            + SERVICE.encode()
            + rb"</serviceType>.*?<controlURL>(.*?)</controlURL>",
            description,
            re.S,
        )
        .group(1)
        .decode()
    )
    host, port, _ = split(location)
    if me == "0.0.0.0":
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.connect((host, port))
        me = probe.getsockname()[0]
    return f"http://{host}:{port}{control}", me


def main(mode, n="10"):
    start = time.perf_counter()
    url, me = find()
    if mode == "cold-status":
        soap(url, "GetStatusInfo", [])
    found = time.perf_counter()
    if mode in ("cold", "cold-status"):
        add(url, me)
        done = time.perf_counter()
        print(json.dumps({"find": found - start, "add": done - found, "total": done - start}))
        return
    adds, deletes = [], []
    for _ in range(int(n)):
        t = time.perf_counter()
        add(url, me)
        t1 = time.perf_counter()
        delete(url)
        adds.append(t1 - t)
        deletes.append(time.perf_counter() - t1)
    print(json.dumps({"add": adds, "delete": deletes}))


if __name__ == "__main__":
    main(*sys.argv[1:])
