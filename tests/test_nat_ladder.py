"""
The ladder: PCP, NAT-PMP and UPnP asked at once, the best that answered
taken (at once when every better one failed, else after a short grace), the
losers closed, and the method that worked asked first next time.
"""

from __future__ import annotations

import pytest

from helpers import ETH0, failure_of, result_of
from ssdp_upnp import gateway_discovery, nat_ladder
from ssdp_upnp.errors import ConfigurationError, NoGatewayFound
from ssdp_upnp.gateway import Gateway
from ssdp_upnp.message import SearchResponse, encode
from ssdp_upnp.nat_ladder import NATLadder, find_mapper
from ssdp_upnp.natpmp_client import NATPMPMapper
from ssdp_upnp.node_service import NodeConfig
from ssdp_upnp.pcp_client import PCPMapper
from ssdp_upnp.testing import (
    FakePortControlServer,
    FakeRouter,
    MemoryMulticastReactor,
    StubHTTPClient,
    igd_site,
)

GATEWAY = "198.51.100.1"
H1 = "198.51.100.11"
IGD2 = "urn:schemas-upnp-org:device:InternetGatewayDevice:2"
URL = "http://198.51.100.1:5000/rootDesc.xml"


@pytest.fixture(autouse=True)
def lab_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default gateway is the fake one (never the host's)."""
    monkeypatch.setattr(nat_ladder, "udp_gateway", lambda interfaces: (GATEWAY, H1))
    monkeypatch.setattr(gateway_discovery, "default_gateways", lambda: [])


@pytest.fixture
def reactor() -> MemoryMulticastReactor:
    return MemoryMulticastReactor()


@pytest.fixture
def server(reactor: MemoryMulticastReactor) -> FakePortControlServer:
    return FakePortControlServer(reactor, GATEWAY)


def http() -> StubHTTPClient:
    return StubHTTPClient(igd_site(FakeRouter()))


def igd_answers(reactor: MemoryMulticastReactor) -> None:
    for port in reactor.open_ports():
        if any(s.addr[1] == 1900 for s in port.sent):
            port.deliver(encode(SearchResponse(st=IGD2, usn="uuid:fake::" + IGD2, location=URL)),
                         (GATEWAY, 1900))  # fmt: skip
            return
    raise AssertionError("no SSDP search was sent")


def test_pcp_wins_at_once_and_the_others_are_closed(
    reactor: MemoryMulticastReactor, server: FakePortControlServer
) -> None:
    d = find_mapper(reactor, [ETH0], http=http())
    reactor.advance(0)
    server.answer()
    mapper = result_of(d)
    assert isinstance(mapper, PCPMapper) and reactor.seconds() == 0
    # the NAT-PMP probe's socket and the SSDP search are closed; only PCP's stays
    assert [p.interface for p in reactor.open_ports()] == [H1]
    assert reactor.getDelayedCalls() == []


def test_a_nat_pmp_only_gateway_is_taken_at_once_on_unsupp_version(
    reactor: MemoryMulticastReactor, server: FakePortControlServer
) -> None:
    server.pcp = False
    d = find_mapper(reactor, [ETH0], http=http())
    reactor.advance(0)
    server.answer()
    assert isinstance(result_of(d), NATPMPMapper) and reactor.seconds() == 0


def test_with_pcp_and_nat_pmp_silent_upnp_wins_after_the_grace(
    reactor: MemoryMulticastReactor, server: FakePortControlServer
) -> None:
    server.silent = True
    d = find_mapper(reactor, [ETH0], http=http(), grace=0.3)
    reactor.advance(0.05)
    igd_answers(reactor)
    assert not d.called  # PCP may still answer
    reactor.pump([0.1] * 2)
    assert not d.called
    reactor.advance(0.1)
    gateway = result_of(d)
    assert isinstance(gateway, Gateway) and gateway.method == "igd2"
    assert round(reactor.seconds(), 2) == 0.35  # not the 3.75 s PCP would take to give up
    assert reactor.open_ports() == [] and reactor.getDelayedCalls() == []


def test_nothing_answering_says_why_for_each_method(
    reactor: MemoryMulticastReactor, server: FakePortControlServer
) -> None:
    server.silent = True
    d = find_mapper(reactor, [ETH0], http=http(), timeout=3)
    reactor.pump([0.25] * 20)
    failure = failure_of(d)
    assert failure.check(NoGatewayFound)
    text = str(failure.value)
    assert "pcp: PCP: no answer" in text and "natpmp: NAT-PMP: no answer" in text
    assert "upnp: no usable gateway" in text
    assert reactor.open_ports() == []


def test_a_forced_method_asks_only_it(
    reactor: MemoryMulticastReactor, server: FakePortControlServer
) -> None:
    d = find_mapper(reactor, [ETH0], method="natpmp", http=http())
    assert len(reactor.open_ports()) == 1  # no SSDP search, no PCP
    server.answer()
    assert isinstance(result_of(d), NATPMPMapper)
    assert [data[:1] for _, data in server.requests] == [b"\0"]
    with pytest.raises(ConfigurationError):
        find_mapper(reactor, [ETH0], method="miniupnp")


def test_the_ladder_asks_first_what_worked(
    reactor: MemoryMulticastReactor, server: FakePortControlServer
) -> None:
    ladder = NATLadder(reactor, [ETH0], http=http())
    first = ladder()
    reactor.advance(0)
    server.answer()
    result_of(result_of(first).close())
    assert ladder.last == "pcp"
    server.requests.clear()
    second = ladder()
    assert len(reactor.open_ports()) == 1  # PCP alone: no search, no NAT-PMP probe
    server.answer()
    assert isinstance(result_of(second), PCPMapper)
    # when it stops answering, the whole ladder runs again
    server.pcp = False
    third = ladder()
    reactor.advance(0)
    server.answer()
    for _ in range(3):
        server.answer()
    assert isinstance(result_of(third), NATPMPMapper) and ladder.last == "natpmp"


def test_cancelling_the_ladder_closes_everything(
    reactor: MemoryMulticastReactor, server: FakePortControlServer
) -> None:
    server.silent = True
    d = find_mapper(reactor, [ETH0], http=http())
    reactor.advance(0)
    d.cancel()
    failure_of(d)
    assert reactor.open_ports() == [] and reactor.getDelayedCalls() == []


def test_the_node_takes_a_nat_method() -> None:
    assert NodeConfig("blockchain", nat_method="PCP").nat_method == "pcp"
    with pytest.raises(ConfigurationError):
        NodeConfig("blockchain", nat_method="stun")
