"""
The PCP and NAT-PMP clients against an in-memory server (L{FakePortControlServer}),
driven by a Clock: mapping, ports taken by others, renewals with the nonce,
deletion, retransmission, spoofed and mismatched answers, the epoch going
back, short lifetimes, unsolicited announcements, and the service on top.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest
from twisted.internet.defer import Deferred
from zope.interface.verify import verifyClass, verifyObject

from helpers import failure_of, result_of
from ssdp_upnp.errors import (
    MappingNotHeld,
    NATPMPNotAuthorized,
    NATPMPUnsupportedVersion,
    NoResponse,
    PCPAddressMismatch,
    PCPError,
    PCPNetworkFailure,
    PCPNotAuthorized,
    PCPUnsupportedVersion,
)
from ssdp_upnp.forward import Forward
from ssdp_upnp.mapping import IPortMapper, PortMapping
from ssdp_upnp.natpmp_client import NATPMPMapper
from ssdp_upnp.pcp_client import PCPMapper
from ssdp_upnp.portmapping import PortMappingService
from ssdp_upnp.testing import FakePortControlServer, MemoryMulticastReactor

GATEWAY = "198.51.100.1"
H1 = "198.51.100.11"
H2 = "198.51.100.12"


class Nonces:
    def __init__(self) -> None:
        self.made = 0

    def __call__(self, size: int) -> bytes:
        self.made += 1
        return bytes([self.made]) * size


def settle(server: FakePortControlServer) -> None:
    """Answer until nothing more is asked (an answer may make the next request)."""
    for _ in range(100):
        if not server.answer():
            return
    raise AssertionError("the client does not stop asking")


def answered(server: FakePortControlServer, d: Deferred[Any]) -> Any:
    settle(server)
    return result_of(d)


@pytest.fixture
def reactor() -> MemoryMulticastReactor:
    return MemoryMulticastReactor()


@pytest.fixture
def server(reactor: MemoryMulticastReactor) -> FakePortControlServer:
    return FakePortControlServer(reactor, GATEWAY)


def pcp_mapper(reactor: MemoryMulticastReactor, local: str = H1) -> PCPMapper:
    return PCPMapper(reactor, GATEWAY, local, nonce=Nonces())


def sent_to_gateway(reactor: MemoryMulticastReactor) -> list[bytes]:
    return [s.data for p in reactor.open_ports() for s in p.sent if s.addr == (GATEWAY, 5351)]


def test_both_mappers_provide_the_interface(reactor: MemoryMulticastReactor) -> None:
    assert verifyClass(IPortMapper, PCPMapper) and verifyClass(IPortMapper, NATPMPMapper)
    assert verifyObject(IPortMapper, pcp_mapper(reactor))
    assert verifyObject(IPortMapper, NATPMPMapper(reactor, GATEWAY, H1))


# -- PCP


def test_pcp_maps_from_our_own_address(
    reactor: MemoryMulticastReactor, server: FakePortControlServer
) -> None:
    mapper = pcp_mapper(reactor)
    mapping = answered(server, mapper.add_mapping(8048, 8048, "TCP", lease=3600))
    assert mapping == PortMapping(8048, "TCP", 8048, H1, "ssdp_upnp", 3600)
    assert server.mappings[(6, 8048)].client == H1
    assert [p.interface for p in reactor.open_ports()] == [H1]  # bound to the mapping's source
    assert result_of(mapper.get_external_ip()).ip == "203.0.113.2"  # learnt from the MAP


def test_a_port_another_host_holds_gives_another_port(
    reactor: MemoryMulticastReactor, server: FakePortControlServer
) -> None:
    answered(server, pcp_mapper(reactor, H2).add_mapping(8048, 8048))
    mine = answered(server, pcp_mapper(reactor).add_mapping(8048, 8048))
    assert mine.external_port != 8048
    assert server.mappings[(6, mine.external_port)].client == H1
    assert server.mappings[(6, 8048)].client == H2


def test_a_renewal_repeats_the_nonce_and_asks_for_the_port_it_got(
    reactor: MemoryMulticastReactor, server: FakePortControlServer
) -> None:
    answered(server, pcp_mapper(reactor, H2).add_mapping(8048, 8048))
    mapper = pcp_mapper(reactor)
    first = answered(server, mapper.add_mapping(8048, 8048))
    again = answered(server, mapper.add_mapping(8048, 8048))
    assert again.external_port == first.external_port
    maps = [data for source, data in server.requests if source == H1]
    assert maps[0][24:36] == maps[1][24:36]  # the same nonce
    assert struct.unpack("!H", maps[1][42:44])[0] == first.external_port


def test_delete_with_the_nonce_and_only_what_we_mapped(
    reactor: MemoryMulticastReactor, server: FakePortControlServer
) -> None:
    mapper = pcp_mapper(reactor)
    answered(server, mapper.add_mapping(8048, 8048))
    assert answered(server, mapper.delete_mapping(8048)) is None
    assert server.mappings == {}
    assert failure_of(mapper.delete_mapping(8048)).check(MappingNotHeld)
    assert sent_to_gateway(reactor) == []  # nothing asked for a mapping we do not hold


def test_another_clients_nonce_is_not_authorized(
    reactor: MemoryMulticastReactor, server: FakePortControlServer
) -> None:
    answered(server, pcp_mapper(reactor).add_mapping(8048, 8048))
    stranger = PCPMapper(reactor, GATEWAY, H1, nonce=lambda n: b"\xee" * n)  # same host, new nonce
    settle(server)
    d = stranger.add_mapping(8048, 8048)
    settle(server)
    assert failure_of(d).check(PCPNotAuthorized)


def test_a_silent_server_costs_four_sends_in_3_75_seconds(reactor: MemoryMulticastReactor) -> None:
    mapper = pcp_mapper(reactor)
    d = mapper.add_mapping(8048, 8048)
    times = []
    for _ in range(40):
        if sent_to_gateway(reactor):
            times.append(reactor.seconds())
            for port in reactor.open_ports():
                port.sent.clear()
        if d.called:
            break
        reactor.advance(0.125)
    assert times == [0.0, 0.25, 0.75, 1.75]
    failure = failure_of(d)
    assert failure.check(NoResponse) and reactor.seconds() == 3.75
    assert reactor.getDelayedCalls() == []


def test_answers_from_elsewhere_or_for_another_request_are_dropped(
    reactor: MemoryMulticastReactor, server: FakePortControlServer
) -> None:
    mapper = pcp_mapper(reactor)
    d = mapper.add_mapping(8048, 8048)
    port = reactor.open_ports()[0]
    good = server.handle(port.sent[0].data, H1)
    assert good is not None
    port.deliver(good, ("198.51.100.66", 5351))  # spoofed source
    port.deliver(good, (GATEWAY, 5350))  # wrong port
    other_nonce = good[:24] + b"\x99" * 12 + good[36:]
    port.deliver(other_nonce, (GATEWAY, 5351))
    port.deliver(good[:50], (GATEWAY, 5351))  # truncated
    port.deliver(good + bytes(2000), (GATEWAY, 5351))  # oversized
    assert not d.called
    assert mapper.channel.drops.counts == {
        "not from the gateway": 2, "answers no request of ours": 1, "malformed": 2,
    }  # fmt: skip
    port.deliver(good, (GATEWAY, 5351))
    assert result_of(d).external_port == 8048


def test_a_restart_is_seen_in_the_epoch_and_the_mapping_is_gone(
    reactor: MemoryMulticastReactor, server: FakePortControlServer
) -> None:
    mapper = pcp_mapper(reactor)
    resets: list[int] = []
    mapper.observe_reset(lambda: resets.append(1))
    answered(server, mapper.add_mapping(8048, 8048))
    reactor.advance(60)
    assert answered(server, mapper.get_mapping(8048)) is not None
    reactor.advance(60)
    server.restart()
    reactor.advance(5)
    assert answered(server, mapper.get_mapping(8048)) is None
    assert resets == [1]


def test_an_unsolicited_announce_tells_of_the_restart_at_once(
    reactor: MemoryMulticastReactor, server: FakePortControlServer
) -> None:
    mapper = pcp_mapper(reactor)
    resets: list[int] = []
    mapper.observe_reset(lambda: resets.append(1))
    mapper.listen()
    listener = next(p for p in reactor.open_ports() if p.port == 5350)
    assert ("224.0.0.1", H1) in listener.groups
    answered(server, mapper.add_mapping(8048, 8048))
    reactor.advance(600)
    listener.deliver(struct.pack("!BBBBII12s", 2, 0x80, 0, 0, 0, 3, b""), ("198.51.100.66", 5351))
    assert resets == []  # not from the gateway
    server.restart()
    reactor.advance(1)
    server.announce()
    assert resets == [1] and mapper.held == {}
    result_of(mapper.close())
    assert reactor.open_ports() == []


def test_a_lifetime_shorter_than_asked_is_the_mapping_s(
    reactor: MemoryMulticastReactor, server: FakePortControlServer
) -> None:
    server.max_lifetime = 300
    mapping = answered(server, pcp_mapper(reactor).add_mapping(8048, 8048, lease=7200))
    assert mapping.lease == 300


@pytest.mark.parametrize(
    ("code", "error"), [(2, PCPNotAuthorized), (7, PCPNetworkFailure), (12, PCPAddressMismatch),
                        (13, PCPError)],
)  # fmt: skip
def test_pcp_refusals_fail_the_call_typed(
    reactor: MemoryMulticastReactor, server: FakePortControlServer, code: int, error: type[PCPError]
) -> None:
    server.result = code
    d = pcp_mapper(reactor).add_mapping(8048, 8048)
    settle(server)
    assert failure_of(d).check(error)


def test_a_nat_pmp_only_gateway_refuses_pcp_by_version(
    reactor: MemoryMulticastReactor, server: FakePortControlServer
) -> None:
    server.pcp = False
    mapper = pcp_mapper(reactor)
    d = mapper.announce()
    settle(server)
    assert failure_of(d).check(PCPUnsupportedVersion) and mapper.server_version == 0
    # before any MAP, the external address comes from NAT-PMP
    assert answered(server, mapper.get_external_ip()).ip == "203.0.113.2"


# -- NAT-PMP


def test_nat_pmp_maps_and_tells_the_address(
    reactor: MemoryMulticastReactor, server: FakePortControlServer
) -> None:
    mapper = NATPMPMapper(reactor, GATEWAY, H1)
    assert answered(server, mapper.get_external_ip()).ip == "203.0.113.2"
    mapping = answered(server, mapper.add_mapping(9000, 9000, "UDP", lease=600))
    assert mapping == PortMapping(9000, "UDP", 9000, H1, "ssdp_upnp", 600)
    assert answered(server, mapper.get_mapping(9000, "UDP")) == mapping
    answered(server, mapper.delete_mapping(9000, "UDP"))
    assert server.mappings == {}


def test_nat_pmp_moves_over_a_taken_port_and_sees_a_restart(
    reactor: MemoryMulticastReactor, server: FakePortControlServer
) -> None:
    answered(server, NATPMPMapper(reactor, GATEWAY, H2).add_mapping(8048, 8048))
    mapper = NATPMPMapper(reactor, GATEWAY, H1)
    mapping = answered(server, mapper.add_mapping(8048, 8048))
    assert mapping.external_port != 8048
    reactor.advance(100)
    server.restart()
    assert answered(server, mapper.get_mapping(mapping.external_port)) is None


def test_nat_pmp_refusals_are_typed(
    reactor: MemoryMulticastReactor, server: FakePortControlServer
) -> None:
    server.result = 2
    d = NATPMPMapper(reactor, GATEWAY, H1).add_mapping(8048, 8048)
    settle(server)
    assert failure_of(d).check(NATPMPNotAuthorized)
    server.result = None
    server.natpmp = False
    server.pcp = False
    d2 = NATPMPMapper(reactor, GATEWAY, H1).probe()
    settle(server)
    reactor.pump([0.25] * 16)
    assert failure_of(d2).check(NoResponse)
    assert not isinstance(NATPMPUnsupportedVersion(1), PCPError)


# -- the port-mapping service on PCP


def test_the_service_keeps_pcp_mappings_and_maps_again_after_an_announce(
    reactor: MemoryMulticastReactor, server: FakePortControlServer
) -> None:
    mapper = pcp_mapper(reactor)
    found: list[int] = []

    def find() -> Deferred[IPortMapper]:
        found.append(1)
        d: Deferred[IPortMapper] = Deferred()
        d.callback(mapper)
        return d

    service = PortMappingService(reactor, [Forward(8048, 8048)], find, lease=600,
                                 check_interval=60)  # fmt: skip
    service.startService()
    reactor.advance(0)
    settle(server)
    assert service.public_addresses() == [("203.0.113.2", 8048, "TCP", 8048)]
    assert (6, 8048) in server.mappings
    reactor.advance(30)
    server.restart()
    reactor.advance(1)
    server.announce()  # the restart is seen at once, not at the next check
    reactor.advance(0)
    settle(server)
    assert (6, 8048) in server.mappings and reactor.seconds() < 32
    assert found == [1]
    stopped = service.stopService()
    settle(server)
    result_of(stopped)
    assert server.mappings == {}
    assert reactor.open_ports() == []  # the mapper's sockets closed


def test_an_announce_renews_even_when_the_epoch_runs_on(
    reactor: MemoryMulticastReactor, server: FakePortControlServer
) -> None:
    # miniupnpd with system_uptime=yes (OpenWrt's default) keeps its epoch over a restart
    mapper = pcp_mapper(reactor)
    resets: list[float] = []
    mapper.observe_reset(lambda: resets.append(reactor.seconds()))
    mapper.listen()
    answered(server, mapper.add_mapping(8048, 8048))
    reactor.advance(600)
    server.restart(keep_epoch=True)
    server.announce()
    assert resets == [600.0]
    # a burst of (spoofable) announcements renews at most once per hold-off
    reactor.advance(1)
    server.announce()
    server.announce()
    reactor.advance(5)
    server.announce()
    assert resets == [600.0, 606.0]


def test_a_pcp_only_server_gives_the_address_with_the_first_mapping(
    reactor: MemoryMulticastReactor, server: FakePortControlServer
) -> None:
    server.natpmp = False  # PCP only: a NAT-PMP address request goes unanswered
    mapper = pcp_mapper(reactor)

    def find() -> Deferred[IPortMapper]:
        d: Deferred[IPortMapper] = Deferred()
        d.callback(mapper)
        return d

    service = PortMappingService(reactor, [Forward(8048, 8048)], find, lease=600)
    service.startService()
    for _ in range(40):
        settle(server)
        reactor.advance(0.25)
    assert service.public_addresses() == [("203.0.113.2", 8048, "TCP", 8048)]
    assert (6, 8048) in server.mappings
    stopped = service.stopService()
    settle(server)
    result_of(stopped)
    assert server.mappings == {}
