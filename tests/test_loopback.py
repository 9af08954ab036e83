"""
The real reactor (pytest-twisted), on loopback unicast only: no multicast, no
namespace needed. The description server is fetched with treq over
127.0.0.1, the IGD client drives the fake router served by twisted.web, and
the advertiser answers a burst of unicast searches through its real port.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, cast

import pytest
import pytest_twisted
import treq
from twisted.internet import udp
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import DatagramProtocol, ServerFactory
from twisted.web.server import Site

from helpers import make_node
from ssdp_upnp._description_server import DescriptionServer
from ssdp_upnp._multicast import BATCH, ScopedMulticastPort, listen_multicast
from ssdp_upnp._types import global_reactor
from ssdp_upnp.advertiser import AdvertiserLimits, SSDPAdvertiser
from ssdp_upnp.description import read_node_description
from ssdp_upnp.errors import ConflictInMappingEntry
from ssdp_upnp.gateway_discovery import find_gateway
from ssdp_upnp.lan import Interface
from ssdp_upnp.message import SearchRequest, SearchResponse, decode, encode
from ssdp_upnp.testing import FakeRouter, igd_site

P = ParamSpec("P")
LO = Interface.parse("lo", "127.0.0.1/8")


def on_the_reactor(
    test: Callable[P, Coroutine[Any, Any, None]],
) -> Callable[P, Deferred[None]]:
    """pytest-twisted's ensureDeferred (untyped), typed: the test runs on the real reactor."""
    wrapped: Callable[P, Deferred[None]] = pytest_twisted.ensureDeferred(test)
    return wrapped


def serve(site: ServerFactory) -> tuple[IListeningPort, int]:
    port = global_reactor().listenTCP(0, site, interface="127.0.0.1")
    return port, cast(IPv4Address, port.getHost()).port


async def stop(port: IListeningPort) -> None:
    stopped = port.stopListening()
    if isinstance(stopped, Deferred):
        await stopped


@on_the_reactor
async def test_description_server_over_real_tcp() -> None:
    node = make_node(node_id="n-1")
    port, number = serve(DescriptionServer(node, global_reactor(), [LO]))
    try:
        base = f"http://127.0.0.1:{number}"
        response = await treq.get(f"{base}/description.xml", timeout=5)
        assert response.code == 200
        described = read_node_description(await response.content())
        assert (described.udn, described.port, described.node_id) == (node.udn, 8048, "n-1")
        head = await treq.head(f"{base}/description.xml", timeout=5)
        assert head.code == 200 and await head.content() == b""
        refused = await treq.request("SUBSCRIBE", f"{base}/description.xml", timeout=5)
        assert refused.code == 405 and refused.headers.getRawHeaders("allow") == ["GET, HEAD"]
        await refused.content()
        missing = await treq.get(f"{base}/etc/passwd", timeout=5)
        assert missing.code == 404
        await missing.content()
    finally:
        await stop(port)


@on_the_reactor
async def test_igd_client_against_the_fake_router_over_real_tcp() -> None:
    router = FakeRouter(requester=LO.ip)
    port, number = serve(cast(Any, Site(igd_site(router))))  # a Site is a ServerFactory
    try:
        gateway = await find_gateway(
            global_reactor(), [LO], description_url=f"http://127.0.0.1:{number}/rootDesc.xml"
        )
        assert gateway.local_address == LO.ip and gateway.is_igd2
        address = await gateway.get_external_ip()
        assert address.ip == "203.0.113.2" and not address.double_nat
        mapping = await gateway.add_mapping(8048, 8048, "TCP", lease=3600)
        assert (mapping.internal_client, mapping.lease) == (LO.ip, 3600)
        assert [m.external_port for m in await gateway.list_mappings()] == [8048]
        router.table[(9000, "TCP")] = {**router.table[(8048, "TCP")],
                                       "NewInternalClient": "127.0.0.9"}  # fmt: skip
        with pytest.raises(ConflictInMappingEntry):
            await gateway.add_mapping(9000, 9000, "TCP")
        await gateway.delete_mapping(8048, "TCP")
        assert await gateway.get_mapping(8048, "TCP") is None
    finally:
        await stop(port)


class Searcher(DatagramProtocol):
    """Collects answers; C{done} fires once C{expected} have come."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.answers: list[bytes] = []
        self.done: Deferred[None] = Deferred()

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.answers.append(datagram)
        if len(self.answers) == self.expected:
            self.done.callback(None)


@on_the_reactor
async def test_the_advertiser_answers_a_burst_of_unicast_searches_through_its_port() -> None:
    reactor = global_reactor()
    node = make_node()
    limits = AdvertiserLimits(replies_per_second=1e6, reply_burst=1e6,
                              total_replies_per_second=1e6, total_reply_burst=1e6)  # fmt: skip
    advertiser = SSDPAdvertiser(node, 1, reactor, limits=limits, legacy=False)
    advertiser.serve_on(LO, "http://127.0.0.1:8080/description.xml")
    port = listen_multicast(reactor, 0, advertiser, "127.0.0.1")  # (joins no group)
    assert isinstance(port, ScopedMulticastPort)
    count = 2 * BATCH + 7  # more than one batch, all written before the port reads them
    searcher = Searcher(count)
    client = cast(udp.Port, reactor.listenUDP(0, searcher, "127.0.0.1", 8192))
    # (the answers all come before this reactor reads the client's socket again)
    client.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    try:
        to = ("127.0.0.1", cast(IPv4Address, port.getHost()).port)
        for i in range(count):
            search = SearchRequest(st="upnp:rootdevice", mx=None, host=f"127.0.0.1:{to[1]}",
                                   extra=(("X-SEQ", str(i)),))  # fmt: skip
            client.write(encode(search), to)
        await searcher.done.addTimeout(10, reactor)
        answers = [decode(a) for a in searcher.answers]
        assert all(isinstance(a, SearchResponse) and a.st == "upnp:rootdevice" for a in answers)
        assert advertiser.replies_sent == count
    finally:
        await stop(client)
        await stop(port)
