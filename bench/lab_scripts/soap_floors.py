"""
In a lab host: one SOAP call (GetExternalIPAddress) N times through six stacks, each
round in turn, on the gateway find_gateway found. Prints one JSON line: the median ms of
each stack (the first 5 rounds left out: imports and first connections).
  ours: Gateway.get_external_ip (our own connect, the request sent before the reactor
    adopts the socket, our response reader, SOAP parsing, the typed result)
  ours via treq: the same request and parsing through our treq path (Agent, bounded body),
    which host names take (and which every gateway call took before)
  twisted http: Twisted's HTTP11ClientProtocol on a TCP endpoint (no Agent, no pool)
  twisted bare: a bare Protocol that writes the request and reads to the close
  twisted direct: the same Protocol through reactor.connectTCP (no endpoint), and the
    SOAP body parsed
  blocking: a blocking stdlib socket (the raw floor's way)
argv: N
"""

import json
import socket
import statistics
import sys
import time

from twisted.internet.defer import Deferred, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import ClientFactory, Protocol
from twisted.internet.task import react
from twisted.web._newclient import HTTP11ClientProtocol, Request
from twisted.web.http_headers import Headers

from ssdp_upnp._http import http_request
from ssdp_upnp._http_treq import read_body, treq_client
from ssdp_upnp.gateway_discovery import find_gateway
from ssdp_upnp.lan import select_interfaces, system_interfaces
from ssdp_upnp.soap import build_request, parse_response, soap_action

ACTION = "GetExternalIPAddress"


class BytesBody:
    """A request body in memory, written at once."""

    def __init__(self, data):
        self.data, self.length = data, len(data)

    def startProducing(self, consumer):
        consumer.write(self.data)
        return succeed(None)

    def pauseProducing(self):
        pass

    resumeProducing = stopProducing = pauseProducing


class Bare(Protocol):
    def __init__(self, request):
        self.request, self.parts, self.done = request, [], Deferred()

    def connectionMade(self):
        self.transport.write(self.request)

    def dataReceived(self, data):
        self.parts.append(data)

    def connectionLost(self, reason):
        self.done.callback(b"".join(self.parts))


class Direct(ClientFactory):
    def __init__(self, request):
        self.bare = Bare(request)

    def buildProtocol(self, addr):
        return self.bare

    def clientConnectionFailed(self, connector, reason):
        self.bare.done.errback(reason)


async def main(reactor, n):
    gateway = await find_gateway(reactor, select_interfaces(system_interfaces()), timeout=10)
    url = gateway.service.control_url
    service = gateway.service.service_type
    netloc, _, path = url.split("//", 1)[1].partition("/")
    host, _, port = netloc.partition(":")
    path = "/" + path
    body = build_request(service, ACTION, [])
    fields = {"Host": netloc, "Content-Type": 'text/xml; charset="utf-8"',
              "SOAPAction": soap_action(service, ACTION), "Connection": "close"}  # fmt: skip
    request = ("".join(f"{k}: {v}\r\n" for k, v in fields.items())).encode()
    raw = (f"POST {path} HTTP/1.1\r\nContent-Length: {len(body)}\r\n").encode() + request
    raw += b"\r\n" + body
    headers = Headers({k.encode(): [v.encode()] for k, v in fields.items()})
    treq = treq_client(reactor)
    soap_headers = {k: v for k, v in fields.items() if k in ("Content-Type", "SOAPAction")}
    stacks = ("ours", "ours via treq", "twisted http", "twisted bare", "twisted direct", "blocking")
    times = {stack: [] for stack in stacks}
    for _ in range(int(n)):
        t = time.perf_counter()
        await gateway.get_external_ip()
        times["ours"].append(time.perf_counter() - t)
        t = time.perf_counter()
        _, answer = await http_request(reactor, treq, "POST", url, headers=soap_headers, data=body)
        parse_response(answer, ACTION)
        times["ours via treq"].append(time.perf_counter() - t)
        t = time.perf_counter()
        endpoint = TCP4ClientEndpoint(reactor, host, int(port), 5)
        protocol = await connectProtocol(endpoint, HTTP11ClientProtocol())
        response = await protocol.request(
            Request(b"POST", path.encode(), headers, BytesBody(body), persistent=False)
        )
        parse_response(await read_body(response, url), ACTION)
        times["twisted http"].append(time.perf_counter() - t)
        t = time.perf_counter()
        bare = Bare(raw)
        await connectProtocol(TCP4ClientEndpoint(reactor, host, int(port), 5), bare)
        await bare.done
        times["twisted bare"].append(time.perf_counter() - t)
        t = time.perf_counter()
        factory = Direct(raw)
        reactor.connectTCP(host, int(port), factory, 5)
        data = await factory.bare.done
        parse_response(data.partition(b"\r\n\r\n")[2], ACTION)
        times["twisted direct"].append(time.perf_counter() - t)
        t = time.perf_counter()
        with socket.create_connection((host, int(port))) as s:
            s.sendall(raw)
            while s.recv(65536):
                pass
        times["blocking"].append(time.perf_counter() - t)
    print(json.dumps({k: statistics.median(v[5:]) * 1000 for k, v in times.items()}))


react(lambda reactor: Deferred.fromCoroutine(main(reactor, *sys.argv[1:])))
