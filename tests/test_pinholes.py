"""
IPv6 pinholes: the WANIPv6FirewallControl codec, FirewallControl against the
fake IGD2, PCP MAP for our own IPv6 address, the IPv6 routing table, which
addresses get pinholes, and the node keeping one pinhole service per address.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from zope.interface.verify import verifyObject

from helpers import ETH0, failure_of, result_of
from ssdp_upnp import pinhole
from ssdp_upnp.errors import (
    ConfigurationError,
    FirewallDisabled,
    InboundPinholeNotAllowed,
    InvalidGatewayResponse,
    MappingNotHeld,
    NoGatewayFound,
    NotAuthorized,
)
from ssdp_upnp.firewall import FirewallControl, find_firewall
from ssdp_upnp.forward import Forward
from ssdp_upnp.gateway import Gateway
from ssdp_upnp.igd import parse_gateway_description
from ssdp_upnp.lan import parse_ipv6_route
from ssdp_upnp.mapping import IPortMapper, is_double_nat, is_public_ipv6
from ssdp_upnp.message import SearchRequest, SearchResponse, decode, encode
from ssdp_upnp.node_service import NodeConfig, NodeService
from ssdp_upnp.pcp_client import PCPMapper
from ssdp_upnp.testing import (
    FIREWALL_CONTROL,
    WAN_IP_2,
    FakePortControlServer,
    FakeRouter,
    MemoryMulticastReactor,
    StubHTTPClient,
    igd_description,
    igd_site,
    service_xml,
)

H1_6 = "2001:db8:5100::11"
ROUTER_6 = "2001:db8:5100::1"
URL = "http://198.51.100.1:5000/rootDesc.xml"
SERVICES = {"/ctl/IPConn": WAN_IP_2, "/ctl/IP6FCtl": FIREWALL_CONTROL}


# -- the codec


def test_add_pinhole_arguments_in_the_scpd_order() -> None:
    assert pinhole.add_pinhole_arguments(H1_6, 8048, "tcp", 3600) == [
        ("RemoteHost", ""), ("RemotePort", "0"), ("InternalClient", H1_6),
        ("InternalPort", "8048"), ("Protocol", "6"), ("LeaseTime", "3600"),
    ]  # fmt: skip
    assert pinhole.add_pinhole_arguments(H1_6, 9000, "UDP", 60)[4] == ("Protocol", "17")


@pytest.mark.parametrize(
    "args",
    [("198.51.100.11", 8048, "TCP", 60), (H1_6, 0, "TCP", 60), (H1_6, 8048, "SCTP", 60),
     (H1_6, 8048, "TCP", 0), (H1_6, 8048, "TCP", 86401)],
)  # fmt: skip
def test_a_pinhole_that_cannot_be_asked_is_refused_first(args: tuple[str, int, str, int]) -> None:
    with pytest.raises(ConfigurationError):
        pinhole.add_pinhole_arguments(*args)


def test_answers_are_read_strictly() -> None:
    assert pinhole.read_unique_id({"UniqueID": "7"}) == 7
    for bad in ({}, {"UniqueID": "-1"}, {"UniqueID": "70000"}, {"UniqueID": "x" * 500}):
        with pytest.raises(InvalidGatewayResponse):
            pinhole.read_unique_id(bad)
    status = pinhole.read_firewall_status({"FirewallEnabled": "1", "InboundPinholeAllowed": "0"})
    assert status == pinhole.FirewallStatus(True, False)
    with pytest.raises(InvalidGatewayResponse):
        pinhole.read_firewall_status({"FirewallEnabled": "maybe"})
    assert pinhole.read_outbound_timeout({"OutboundPinholeTimeout": "300"}) == 300
    assert pinhole.read_is_working({"IsWorking": "1"}) is True


def test_the_firewall_service_is_found_in_the_description() -> None:
    services = "".join(service_xml(t, p) for p, t in SERVICES.items())
    description = parse_gateway_description(igd_description(services), URL)
    found = pinhole.firewall_service(description)
    assert found is not None and found.control_url.endswith("/ctl/IP6FCtl")
    assert pinhole.firewall_service(
        parse_gateway_description(igd_description(service_xml(WAN_IP_2, "/c")), URL)
    ) is None  # fmt: skip


# -- FirewallControl against the fake IGD2


def firewall(router: FakeRouter) -> tuple[MemoryMulticastReactor, FirewallControl]:
    reactor = MemoryMulticastReactor()
    services = "".join(service_xml(t, p) for p, t in SERVICES.items())
    description = parse_gateway_description(igd_description(services), URL)
    service = pinhole.firewall_service(description)
    assert service is not None
    soap = Gateway(reactor, StubHTTPClient(igd_site(router, services=SERVICES)), description,
                   service, H1_6)  # fmt: skip
    return reactor, FirewallControl(soap)


def test_a_pinhole_is_opened_renewed_reopened_and_closed() -> None:
    router = FakeRouter()
    reactor, control = firewall(router)
    assert verifyObject(IPortMapper, control)
    mapping = result_of(control.add_mapping(8048, 8048, lease=3600))
    assert (mapping.external_port, mapping.internal_client, mapping.lease) == (8048, H1_6, 3600)
    assert router.pinholes[1]["InternalClient"] == H1_6
    result_of(control.add_mapping(8048, 8048, lease=600))  # a renewal: UpdatePinhole
    assert list(router.pinholes) == [1] and router.pinholes[1]["LeaseTime"] == "600"
    router.pinholes.clear()  # the router forgot it: 704 on renewal, then AddPinhole again
    result_of(control.add_mapping(8048, 8048))
    assert list(router.pinholes) == [1]
    assert result_of(control.get_mapping(8048)) == control.held[("TCP", 8048)].mapping
    assert result_of(control.get_external_ip()).ip == H1_6
    result_of(control.delete_mapping(8048))
    assert router.pinholes == {}
    assert failure_of(control.delete_mapping(8048)).check(MappingNotHeld)
    actions = [name for name, _ in router.calls]
    assert actions == ["AddPinhole", "UpdatePinhole", "UpdatePinhole", "AddPinhole",
                       "DeletePinhole"]  # fmt: skip


def test_firewall_refusals_are_typed() -> None:
    router = FakeRouter(requester6="2001:db8:5100::99")
    _, control = firewall(router)
    assert failure_of(control.add_mapping(8048, 8048)).check(NotAuthorized)
    router.requester6 = H1_6
    router.inbound_pinhole_allowed = False
    assert failure_of(control.add_pinhole(8048, "TCP", 60)).check(InboundPinholeNotAllowed)
    assert result_of(control.get_firewall_status()) == pinhole.FirewallStatus(True, False)
    router.firewall_enabled = False
    assert failure_of(control.add_pinhole(8048, "TCP", 60)).check(FirewallDisabled)
    assert result_of(control.get_outbound_pinhole_timeout(8048, "TCP")) == 300


def test_find_firewall_searches_the_ipv6_gateway_and_gives_up_in_time() -> None:
    reactor = MemoryMulticastReactor()
    d = find_firewall(reactor, StubHTTPClient(igd_site(FakeRouter())), ROUTER_6, H1_6, timeout=2)
    (port,) = reactor.open_ports()
    assert port.interface == H1_6
    reactor.advance(0)
    (sent,) = port.take()
    assert sent.addr == (ROUTER_6, 1900)
    search = decode(sent.data)
    assert isinstance(search, SearchRequest) and search.host == f"[{ROUTER_6}]:1900"
    # an answer from another host, or naming another host, is not taken
    ours = f"http://[{ROUTER_6}]:5000/rootDesc.xml"
    stranger = encode(SearchResponse(st=search.st, usn="uuid:x::y", location=ours))
    port.deliver(stranger, ("2001:db8:5100::66", 1900))
    elsewhere = "http://[2001:db8:5100::66]:5000/rootDesc.xml"
    other = encode(SearchResponse(st=search.st, usn="uuid:x::y", location=elsewhere))
    port.deliver(other, (ROUTER_6, 1900))
    reactor.pump([0.5] * 4)
    assert failure_of(d).check(NoGatewayFound)
    assert reactor.open_ports() == [] and reactor.getDelayedCalls() == []


# -- PCP for our own IPv6 address


def test_a_pcp_map_for_our_ipv6_address_is_a_pinhole() -> None:
    reactor = MemoryMulticastReactor()
    server = FakePortControlServer(reactor, ROUTER_6)
    mapper = PCPMapper(reactor, ROUTER_6, H1_6)
    d = mapper.add_mapping(8048, 8048)
    server.answer()
    mapping = result_of(d)
    assert (mapping.external_port, mapping.internal_client) == (8048, H1_6)
    address = result_of(mapper.get_external_ip())
    assert (address.ip, address.double_nat) == (H1_6, False)
    sent = server.requests[-1][1]
    assert sent[8:24] == bytes.fromhex("20010db8510000000000000000000011")


def test_an_unasked_ipv6_mapper_knows_its_address_without_nat_pmp() -> None:
    reactor = MemoryMulticastReactor()
    address = result_of(PCPMapper(reactor, ROUTER_6, H1_6).get_external_ip())
    assert address.ip == H1_6 and reactor.open_ports() == []


# -- addresses and routes


def test_ipv6_default_routes_from_proc() -> None:
    text = (
        "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
        "20010db8510000000000000000000001 00000400 00000001 00000000 00000003 eth0\n"
        "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
        "fe800000000000000000000000000001 00000400 00000001 00000000 00000003 wlan0\n"
        "20010db8510000000000000000000000 40 00000000000000000000000000000000 00 "
        "00000000000000000000000000000000 00000100 00000001 00000000 00000001 eth0\n"
        "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
        "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200 lo\n"
        "garbage\n"
    )
    assert parse_ipv6_route(text) == [(ROUTER_6, "eth0"), ("fe80::1%wlan0", "wlan0")]


@pytest.mark.parametrize(
    ("address", "public"),
    [(H1_6, True), ("2a01:4f8::1", True), ("fe80::1", False), ("fd00::1", False),
     ("::1", False), ("ff02::1", False), ("::ffff:198.51.100.11", False), ("nope", False)],
)  # fmt: skip
def test_which_ipv6_addresses_get_pinholes(address: str, public: bool) -> None:
    assert is_public_ipv6(address) is public
    if public:
        assert not is_double_nat(address)


def test_the_node_keeps_one_pinhole_service_per_public_ipv6_address(tmp_path: Path) -> None:
    reactor = MemoryMulticastReactor()
    config = NodeConfig("blockchain", state_file=str(tmp_path / "s.json"),
                        forwards=(Forward(8048, 8048),), discover=False)  # fmt: skip
    asked: list[set[str]] = []

    def addresses(names: object) -> list[tuple[str, str]]:
        asked.append(set(names))  # type: ignore[call-overload]
        return [(H1_6, "eth0"), ("2001:db8:5100::12", "eth0")]

    node = NodeService(config, reactor, interfaces=lambda: [ETH0], ipv6_addresses=addresses)
    assert asked == [{"eth0"}]
    assert [s.find.local_address for s in node.pinholes] == [H1_6, "2001:db8:5100::12"]  # type: ignore[attr-defined]
    assert all(s.parent is node for s in node.pinholes)
    off = NodeService(
        NodeConfig("blockchain", state_file=str(tmp_path / "t.json"),
                   forwards=(Forward(8048, 8048),), discover=False, ipv6=False),
        reactor, interfaces=lambda: [ETH0], ipv6_addresses=addresses,
    )  # fmt: skip
    assert off.pinholes == [] and len(asked) == 1


# -- advertising the public IPv6 addresses


def test_public_ipv6_addresses_travel_in_one_header_and_come_back() -> None:
    from ssdp_upnp.node import EXTERNAL6_HEADER, external6_header, read_external6

    name, value = external6_header([(H1_6, 8048), ("2001:db8:5100::12", 9000)])
    assert (name, value) == (EXTERNAL6_HEADER, f"[{H1_6}]:8048, [2001:db8:5100::12]:9000")
    assert read_external6(value) == ((H1_6, 8048), ("2001:db8:5100::12", 9000))
    # what is not [IPv6]:port is left out; never more than four
    assert read_external6("[198.51.100.11]:1, 2001:db8::1:80, [::1]:0, [fe80::1]:80") == (
        ("fe80::1", 80),
    )  # fmt: skip
    assert len(read_external6(", ".join([f"[{H1_6}]:8048"] * 40))) == 4
    with pytest.raises(ConfigurationError):
        external6_header([])


def test_the_advertiser_announces_its_pinholes_and_peers_read_them(tmp_path: Path) -> None:
    from helpers import make_node
    from ssdp_upnp.advertiser import SSDPAdvertiser
    from ssdp_upnp.message import NTS, Notify
    from ssdp_upnp.peers import Sighting, read_message

    reactor = MemoryMulticastReactor()
    advertiser = SSDPAdvertiser(make_node(), 1, reactor)
    advertiser.set_external6([(H1_6, 8048)])
    notify = Notify(nt="upnp:rootdevice", nts=NTS.ALIVE, usn="uuid:x::upnp:rootdevice",
                    location="http://198.51.100.11:1/d.xml", max_age=1800,
                    extra=advertiser.headers())  # fmt: skip
    seen = read_message(decode(encode(notify)), "198.51.100.11", "eth0")
    assert isinstance(seen, Sighting) and seen.peer.external6 == ((H1_6, 8048),)


def test_pinhole_services_follow_ipv6_addresses_coming_and_going(tmp_path: Path) -> None:
    reactor = MemoryMulticastReactor()
    config = NodeConfig("blockchain", state_file=str(tmp_path / "s.json"),
                        forwards=(Forward(8048, 8048),), discover=False)  # fmt: skip
    now = [(H1_6, "eth0")]
    node = NodeService(config, reactor, interfaces=lambda: [ETH0], ipv6_addresses=lambda _: now)
    node.startService()
    (first,) = node.pinholes
    assert first.running
    now = [("2001:db8:5100::99", "eth0")]  # a new prefix (renumbering): one came, one went
    watcher = next(s for s in node if type(s).__name__ == "InterfaceWatcher")
    watcher.check()
    (second,) = node.pinholes
    assert second is not first and second.running and not first.running
    assert second.find.local_address == "2001:db8:5100::99"  # type: ignore[attr-defined]
    assert first.parent is None
    result_of(node.stopService())
