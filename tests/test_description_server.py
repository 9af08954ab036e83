"""The description server's limits: on-link only, bounded connections, one deadline, no bodies."""

from __future__ import annotations

from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport

from helpers import ETH0, ask, make_node, parse_http
from ssdp_upnp._description_server import DescriptionLimits, DescriptionServer

GET = b"GET /description.xml HTTP/1.1\r\nHost: 198.51.100.11\r\n\r\n"


def server(clock: Clock | None = None, **limits: float) -> DescriptionServer:
    return DescriptionServer(make_node(), clock or Clock(), [ETH0],
                             limits=DescriptionLimits(**limits))  # type: ignore[arg-type]  # fmt: skip


def connect(site: DescriptionServer, host: str, port: int = 50000) -> tuple[Any, StringTransport]:
    protocol = site.buildProtocol(IPv4Address("TCP", host, port))
    transport = StringTransport(peerAddress=IPv4Address("TCP", host, port))
    if protocol is not None:
        protocol.makeConnection(transport)
    return protocol, transport


def test_only_on_link_sources_are_served() -> None:
    site = server()
    assert site.buildProtocol(IPv4Address("TCP", "203.0.113.9", 40000)) is None
    assert site.drops.counts["off-link HTTP client"] == 1
    assert ask(site, GET, host="198.51.100.12").code == 200


def test_connections_are_bounded_per_source_and_in_total() -> None:
    site = server(max_connections=5, per_source=3)
    held = [connect(site, "198.51.100.12", 50000 + i) for i in range(3)]
    assert all(p is not None for p, _ in held)
    assert connect(site, "198.51.100.12", 50009)[0] is None
    others = [connect(site, "198.51.100.13", 51000 + i) for i in range(2)]
    assert all(p is not None for p, _ in others)
    assert connect(site, "198.51.100.14")[0] is None  # 5 in all
    protocol, _ = held[0]
    protocol.connectionLost(None)
    assert connect(site, "198.51.100.12", 50010)[0] is not None
    assert site.drops.counts["too many HTTP connections"] == 1
    assert site.drops.counts["too many HTTP connections from one source"] == 1


def test_one_deadline_for_the_whole_request_whatever_trickles_in() -> None:
    clock = Clock()
    site = server(clock, request_deadline=5)
    protocol, transport = connect(site, "198.51.100.12")
    for byte in GET[:-2]:  # one byte a second never completes the head in time
        protocol.dataReceived(bytes([byte]))
        clock.advance(1)
        if transport.disconnecting:
            break
    answer = parse_http(transport.value(), transport.disconnecting)
    assert answer.code == 408 and answer.closed and clock.seconds() == 5
    protocol.connectionLost(None)
    assert clock.getDelayedCalls() == [] and site.connections == 0


def test_no_request_body_is_read_or_kept() -> None:
    site = server()
    protocol, transport = connect(site, "198.51.100.12")
    protocol.dataReceived(
        b"GET /description.xml HTTP/1.1\r\nContent-Length: 209715200\r\n\r\n" + b"x" * 1000
    )
    for _ in range(100):
        protocol.dataReceived(b"x" * 65536)
    assert protocol.buffer == b""
    answer = parse_http(transport.value(), transport.disconnecting)
    assert answer.code == 413 and answer.closed
    chunked = b"POST /description.xml HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello"
    assert ask(site, chunked).code == 405


def test_one_request_per_connection() -> None:
    answer = ask(server(), GET * 50)
    assert answer.code == 200 and answer.closed
    assert answer.body.count(b"<?xml") == 1


def test_head_limits_methods_and_head() -> None:
    site = server(max_head=200)
    assert ask(site, b"GET /description.xml HTTP/1.1\r\nX: " + b"a" * 300).code == 431
    assert ask(site, b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n").code == 405
    assert ask(site, b"garbage\r\n\r\n").code == 400
    head = ask(site, b"HEAD /description.xml HTTP/1.1\r\n\r\n")
    assert head.code == 200 and head.body == b"" and int(head.headers["content-length"][0]) > 100
    assert ask(site, GET, chunks=7).code == 200
    assert ask(site, b"GET /scpd.xml?x=1 HTTP/1.0\r\n\r\n").code == 200
