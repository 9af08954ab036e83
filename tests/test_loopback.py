"""
The real reactor (pytest-twisted), on loopback unicast only: no multicast, no
namespace needed. The description server is fetched with treq over
127.0.0.1, and the IGD client drives the fake router served by twisted.web.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, cast

import pytest
import pytest_twisted
import treq
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import ServerFactory
from twisted.web.server import Site

from helpers import make_node
from ssdp_upnp._description_server import DescriptionServer
from ssdp_upnp._types import global_reactor
from ssdp_upnp.description import read_node_description
from ssdp_upnp.errors import ConflictInMappingEntry
from ssdp_upnp.gateway_discovery import find_gateway
from ssdp_upnp.lan import Interface
from ssdp_upnp.testing import FakeRouter, igd_site

LO = Interface.parse("lo", "127.0.0.1/8")


def on_the_reactor(
    test: Callable[[], Coroutine[Any, Any, None]],
) -> Callable[[], Deferred[None]]:
    """pytest-twisted's ensureDeferred (untyped), typed: the test runs on the real reactor."""
    wrapped: Callable[[], Deferred[None]] = pytest_twisted.ensureDeferred(test)
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
