"""Shared test helpers (no sockets)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, TypeVar

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.protocol import ServerFactory
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from ssdp_upnp.lan import Interface
from ssdp_upnp.message import Message, decode
from ssdp_upnp.node import NodeInfo
from ssdp_upnp.testing import Sent

T = TypeVar("T")

UUID_A = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
UUID_B = "6fa459ea-ee8a-3ca4-894e-db77e160355e"
ETH0 = Interface.parse("eth0", "198.51.100.11/24")
ETH1 = Interface.parse("eth1", "10.9.0.1/16")

#: miniupnpd 2.3.1's answer to an M-SEARCH, as the lab router sends it
MINIUPNPD_RESPONSE = (
    b"HTTP/1.1 200 OK\r\n"
    b"CACHE-CONTROL: max-age=120\r\n"
    b"ST: urn:schemas-upnp-org:device:InternetGatewayDevice:2\r\n"
    b"USN: uuid:3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b::urn:schemas-upnp-org:device:"
    b"InternetGatewayDevice:2\r\n"
    b"EXT:\r\n"
    b"SERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1\r\n"
    b"LOCATION: http://198.51.100.1:5000/rootDesc.xml\r\n"
    b'OPT: "http://schemas.upnp.org/upnp/1/0/"; ns=01\r\n'
    b"01-NLS: 1700000000\r\n"
    b"BOOTID.UPNP.ORG: 1700000000\r\n"
    b"CONFIGID.UPNP.ORG: 1337\r\n"
    b"\r\n"
)


def make_node(uuid: str = UUID_A, **kw: Any) -> NodeInfo:
    fields: dict[str, Any] = dict(uuid=uuid, product="blockchain", network="main", port=8048)
    fields.update(kw)
    return NodeInfo.create(**fields)


def decoded(sent: list[Sent]) -> list[Message]:
    return [decode(s.data) for s in sent]


def result_of(d: Deferred[T]) -> T:
    """The result of a Deferred that must have fired successfully by now."""
    results: list[Any] = []
    d.addBoth(results.append)
    assert results, "Deferred has not fired"
    if isinstance(results[0], Failure):
        results[0].raiseException()
    return results[0]  # type: ignore[no-any-return]


def failure_of(d: Deferred[Any]) -> Failure:
    results: list[Any] = []
    d.addBoth(results.append)
    assert results and isinstance(results[0], Failure), f"expected a failure, got {results}"
    return results[0]


@dataclass
class HTTPAnswer:
    code: int
    headers: dict[str, list[str]]
    body: bytes
    closed: bool


def ask(
    factory: ServerFactory, request: bytes, host: str = "198.51.100.12", chunks: int = 1
) -> HTTPAnswer:
    """Send C{request} (in C{chunks} pieces) to a protocol of C{factory} on a memory transport."""
    protocol = factory.buildProtocol(IPv4Address("TCP", host, 50000))
    assert protocol is not None, "connection refused"
    transport = StringTransport(peerAddress=IPv4Address("TCP", host, 50000))
    protocol.makeConnection(transport)
    size = -(-len(request) // chunks)
    for i in range(0, len(request), size):
        protocol.dataReceived(request[i : i + size])
    return parse_http(transport.value(), transport.disconnecting)


def parse_http(data: bytes, closed: bool) -> HTTPAnswer:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers: dict[str, list[str]] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return HTTPAnswer(int(lines[0].split()[1]), headers, body, closed)


class MaxRandom(random.Random):
    """Always the top of the range: the longest allowed delay."""

    def uniform(self, a: float, b: float) -> float:
        return b
