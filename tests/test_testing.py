"""The public fakes of ssdp_upnp.testing provide the interfaces they claim."""

from __future__ import annotations

import pytest
from twisted.internet.interfaces import (
    IListeningPort,
    IMulticastTransport,
    IReactorMulticast,
    IReactorTCP,
    IReactorTime,
    IReactorUDP,
)
from twisted.internet.protocol import DatagramProtocol
from twisted.web.resource import IResource
from zope.interface.verify import verifyClass, verifyObject

from helpers import result_of
from ssdp_upnp._types import ISSDPReactor
from ssdp_upnp.testing import (
    FakeRouter,
    MemoryDatagramPort,
    MemoryMulticastReactor,
    MemoryTCPPort,
    StaticDocument,
    StubHTTPClient,
    igd_site,
)


@pytest.mark.parametrize(
    "cls, interfaces",
    [
        (MemoryMulticastReactor,
         (ISSDPReactor, IReactorMulticast, IReactorUDP, IReactorTCP, IReactorTime)),
        (MemoryDatagramPort, (IMulticastTransport, IListeningPort)),
        (MemoryTCPPort, (IListeningPort,)),
        (StaticDocument, (IResource,)),
    ],
)  # fmt: skip
def test_fakes_provide_their_interfaces(cls: type, interfaces: tuple[type, ...]) -> None:
    for interface in interfaces:
        assert verifyClass(interface, cls)


def test_instances_too() -> None:
    reactor = MemoryMulticastReactor()
    assert verifyObject(ISSDPReactor, reactor)
    port = reactor.listenMulticast(1900, DatagramProtocol(), listenMultiple=True)
    assert verifyObject(IMulticastTransport, port) and verifyObject(IListeningPort, port)
    tcp = reactor.listenTCP(0, object())
    assert verifyObject(IListeningPort, tcp)
    assert verifyObject(IResource, igd_site(FakeRouter()))


def test_stub_http_client_reaches_the_fake_router() -> None:
    http = StubHTTPClient(igd_site(FakeRouter()))
    response = result_of(http.request("GET", "http://198.51.100.1:5000/rootDesc.xml"))
    assert response.code == 200
    missing = result_of(http.request("GET", "http://198.51.100.1:5000/nothing"))
    assert missing.code == 404
