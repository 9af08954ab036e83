"""The advertiser, driven through the in-memory multicast reactor and a Clock."""

from __future__ import annotations

import random
from typing import Any

import pytest
from twisted.internet.task import Clock
from zope.interface.verify import verifyObject

from helpers import ETH0, ETH1, HTTPAnswer, MaxRandom, ask, decoded, make_node, result_of
from ssdp_upnp._description_server import DescriptionServer
from ssdp_upnp.advertiser import AdvertiserLimits, AdvertiserService
from ssdp_upnp.description import read_node_description
from ssdp_upnp.errors import ConfigurationError
from ssdp_upnp.lan import Interface
from ssdp_upnp.message import (
    NTS,
    SSDP_GROUP,
    Notify,
    SearchRequest,
    SearchResponse,
    encode,
    header,
)
from ssdp_upnp.testing import MemoryDatagramPort, MemoryMulticastReactor

PEER = ("198.51.100.12", 50123)


def search(st: str = "ssdp:all", mx: int | None = 3, host: str = "239.255.255.250:1900") -> bytes:
    return encode(SearchRequest(st=st, mx=mx, host=host))


@pytest.fixture
def reactor() -> MemoryMulticastReactor:
    return MemoryMulticastReactor()


def start(
    reactor: MemoryMulticastReactor,
    interfaces: list[Interface] = [ETH0],  # noqa: B006
    rng: random.Random | None = None,
    **kw: Any,
) -> tuple[AdvertiserService, MemoryDatagramPort]:
    service = AdvertiserService(
        make_node(), 5, reactor, interfaces, rng=rng or random.Random(7), **kw
    )
    service.startService()
    (udp,) = [p for p in reactor.datagram_ports if p.port == 1900]
    return service, udp


def test_start_opens_shared_port_joins_group_and_serves_description(
    reactor: MemoryMulticastReactor,
) -> None:
    service, udp = start(reactor)
    assert udp.listen_multiple and udp.ttl == 2
    assert udp.groups == {(SSDP_GROUP, ETH0.ip)}
    assert result_of(service.ready) == [ETH0]
    (tcp,) = reactor.tcp_ports
    assert tcp.address.host == ETH0.ip
    assert service.locations == {ETH0.ip: f"http://{ETH0.ip}:{tcp.address.port}/description.xml"}


def test_alive_sets_at_start_then_reannounced_under_half_max_age(
    reactor: MemoryMulticastReactor,
) -> None:
    service, udp = start(reactor, max_age=1800)
    reactor.advance(0.1)
    first = decoded(udp.take())
    assert len(first) == 4
    assert all(isinstance(n, Notify) and n.nts is NTS.ALIVE for n in first)
    assert {n.nt for n in first if isinstance(n, Notify)} == set(make_node().notification_types())
    notify = first[0]
    assert isinstance(notify, Notify)
    assert notify.boot_id == 5 and notify.max_age == 1800
    assert notify.location == service.locations[ETH0.ip]
    assert header(notify.extra, "PORT.SSDP-UPNP.ORG") == "8048"
    assert all(s.addr == (SSDP_GROUP, 1900) for s in udp.sent)
    reactor.advance(1.0)
    assert len(udp.take()) == 8  # each set is sent three times in all
    sets = []
    for _ in range(int(1800 / 2)):
        reactor.advance(1.0)
        if sent := udp.take():
            sets.append((reactor.seconds(), sent))
    # one re-announcement (three sets) between max-age/4 and max-age/2
    assert [len(sent) for _, sent in sets] == [12]
    assert 1800 / 4 <= sets[0][0] <= 1800 / 2 + 2
    assert all(s.interface == ETH0.ip for s in sets[0][1])


def test_search_answered_once_per_nt_within_mx(reactor: MemoryMulticastReactor) -> None:
    service, udp = start(reactor)
    reactor.advance(1)
    udp.take()
    udp.deliver(search(mx=3), PEER)
    times = []
    for _ in range(40):
        reactor.advance(0.1)
        times.extend([reactor.seconds()] * len(udp.take()))
    assert len(times) == 4
    assert all(1.0 <= t <= 4.0 + 1e-9 for t in times)


def test_reply_content(reactor: MemoryMulticastReactor) -> None:
    service, udp = start(reactor)
    reactor.advance(1)
    udp.take()
    udp.deliver(search("urn:ssdp-upnp-org:device:blockchain:1", mx=1), PEER)
    reactor.advance(1)
    (sent,) = udp.take()
    assert sent.addr == PEER
    response = decoded([sent])[0]
    assert isinstance(response, SearchResponse)
    assert response.st == "urn:ssdp-upnp-org:device:blockchain:1"
    assert response.usn == f"uuid:{make_node().uuid}::urn:ssdp-upnp-org:device:blockchain:1"
    assert response.location == service.locations[ETH0.ip]
    assert response.boot_id == 5 and response.config_id is not None
    assert response.date is not None and response.date.endswith("GMT")
    assert header(response.extra, "NETWORK.SSDP-UPNP.ORG") == "main"
    assert header(response.extra, "PRODUCT.SSDP-UPNP.ORG") == "blockchain"


def test_mx_above_five_is_capped(reactor: MemoryMulticastReactor) -> None:
    service, udp = start(reactor, rng=MaxRandom())
    reactor.advance(1)
    udp.take()
    udp.deliver(search(mx=120), PEER)
    reactor.advance(4.99)
    assert udp.take() == []
    reactor.advance(0.01)
    assert len(udp.take()) == 4


def test_unicast_search_answered_at_once(reactor: MemoryMulticastReactor) -> None:
    service, udp = start(reactor, rng=MaxRandom())
    reactor.advance(1)
    udp.take()
    udp.deliver(search("upnp:rootdevice", mx=None, host=f"{ETH0.ip}:1900"), PEER)
    reactor.advance(0)
    assert [s.addr for s in udp.take()] == [PEER]


@pytest.mark.parametrize(
    "datagram, reason",
    [
        (search(mx=None), "multicast M-SEARCH without MX"),
        (search(mx=0), "MX below 1"),
        (b'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: ssdp:discover\r\n'
         b"MX: 1\r\nST: ssdp:all\r\n\r\n", "malformed"),
        (b"\x00\xff garbage", "malformed"),
        (b"A" * 70000, "malformed"),
    ],
)  # fmt: skip
def test_bad_searches_are_dropped_and_the_protocol_lives_on(
    reactor: MemoryMulticastReactor, datagram: bytes, reason: str
) -> None:
    service, udp = start(reactor)
    reactor.advance(1)
    udp.take()
    udp.deliver(datagram, PEER)
    reactor.advance(6)
    assert udp.take() == []
    assert service.protocol.drops.counts[reason] == 1
    udp.deliver(search(mx=1), PEER)
    reactor.advance(1)
    assert len(udp.take()) == 4


def test_off_subnet_sender_gets_nothing(reactor: MemoryMulticastReactor) -> None:
    service, udp = start(reactor)
    reactor.advance(1)
    udp.take()
    udp.deliver(search(mx=1), ("203.0.113.7", 1900))
    reactor.advance(2)
    assert udp.take() == []
    assert service.protocol.drops.counts["off-link sender"] == 1


def test_flood_from_one_source_is_rate_limited(reactor: MemoryMulticastReactor) -> None:
    service, udp = start(reactor)
    reactor.advance(1)
    udp.take()
    for _ in range(1000):
        udp.deliver(search(mx=1), PEER)
    udp.deliver(search(mx=1), ("198.51.100.13", 1900))
    reactor.advance(1.0)
    sent = udp.take()
    to_flooder = [s for s in sent if s.addr == PEER]
    # the burst (40) plus what 20/s regains in the one second the replies take
    assert 40 <= len(to_flooder) <= 60
    assert [s for s in sent if s.addr[0] == "198.51.100.13"], "others still answered"
    assert service.protocol.drops.counts["reply rate limit"] > 900


def test_pending_replies_are_bounded(reactor: MemoryMulticastReactor) -> None:
    service, udp = start(reactor, rng=MaxRandom(), limits=AdvertiserLimits(max_pending=100))
    reactor.advance(1)
    udp.take()
    for i in range(200):
        udp.deliver(search(mx=5), (f"198.51.100.{i % 250 + 2}", 1900))
    assert len(reactor.getDelayedCalls()) <= 100 + 1  # + the re-announcement
    assert service.protocol.drops.counts["too many replies pending"] > 0
    # a unicast search's replies do not wait: answered while the delayed ones are full
    udp.take()
    udp.deliver(
        search(st="upnp:rootdevice", mx=None, host=f"{ETH0.ip}:1900"), ("198.51.100.9", 1900)
    )
    assert [s.addr for s in udp.take()] == [("198.51.100.9", 1900)]


def test_two_interfaces_each_get_their_own_location(reactor: MemoryMulticastReactor) -> None:
    service, udp = start(reactor, interfaces=[ETH0, ETH1])
    assert udp.groups == {(SSDP_GROUP, ETH0.ip), (SSDP_GROUP, ETH1.ip)}
    reactor.advance(1)
    alive = udp.take()
    by_interface = {
        s.interface: {n.location for n in decoded([s]) if isinstance(n, Notify)} for s in alive
    }
    assert by_interface == {
        ETH0.ip: {service.locations[ETH0.ip]},
        ETH1.ip: {service.locations[ETH1.ip]},
    }
    udp.deliver(search("upnp:rootdevice", mx=1), ("10.9.7.7", 1900))
    reactor.advance(1)
    (reply,) = decoded(udp.take())
    assert isinstance(reply, SearchResponse) and ETH1.ip in reply.location


def test_failed_join_is_logged_and_others_go_on(reactor: MemoryMulticastReactor) -> None:
    reactor.failing_interfaces.add(ETH1.ip)
    service, udp = start(reactor, interfaces=[ETH0, ETH1])
    assert result_of(service.ready) == [ETH0]


def test_stop_sends_byebye_leaves_and_closes(reactor: MemoryMulticastReactor) -> None:
    service, udp = start(reactor, rng=MaxRandom())
    reactor.advance(1)
    udp.take()
    udp.deliver(search(mx=5), PEER)  # replies pending at stop
    d = service.stopService()
    result_of(d)
    byes = decoded(udp.take())
    assert len(byes) == 8
    assert all(isinstance(b, Notify) and b.nts is NTS.BYEBYE and b.boot_id == 5 for b in byes)
    assert not udp.listening and udp.groups == set()
    assert not any(p.listening for p in reactor.tcp_ports)
    assert reactor.getDelayedCalls() == []


def test_bad_options(reactor: MemoryMulticastReactor) -> None:
    with pytest.raises(ConfigurationError):
        AdvertiserService(make_node(), 1, reactor, [])
    with pytest.raises(ConfigurationError):
        AdvertiserService(make_node(), 1, reactor, [ETH0], ttl=0)
    with pytest.raises(ConfigurationError):
        AdvertiserService(make_node(), 1, reactor, [ETH0], max_age=0)


def test_memory_ports_provide_their_interfaces(reactor: MemoryMulticastReactor) -> None:
    from twisted.internet.interfaces import IListeningPort, IMulticastTransport

    service, udp = start(reactor)
    assert verifyObject(IMulticastTransport, udp)
    assert verifyObject(IListeningPort, udp)


def test_description_server() -> None:
    node = make_node(node_id="n-1")
    site = DescriptionServer(node, Clock(), [ETH0])

    def get(path: str) -> HTTPAnswer:
        return ask(site, f"GET {path} HTTP/1.1\r\nHost: 198.51.100.11\r\n\r\n".encode())

    response = get("/description.xml")
    assert response.code == 200
    assert response.headers["content-type"] == ['text/xml; charset="utf-8"']
    body = response.body
    described = read_node_description(body)
    assert (described.udn, described.port, described.node_id) == (node.udn, 8048, "n-1")
    assert get("/scpd.xml").code == 200
    assert get("/").code == 404
    assert get("/description.xml/x").code == 404
    assert get("/etc/passwd").code == 404
    # no GENA eventing (CallStranger): SUBSCRIBE and other methods are refused
    subscribe = ask(
        site,
        b"SUBSCRIBE /description.xml HTTP/1.1\r\nHost: 198.51.100.11\r\n"
        b"CALLBACK: <http://203.0.113.9/>\r\nNT: upnp:event\r\n\r\n",
    )
    assert subscribe.code == 405
    assert subscribe.headers["allow"] == ["GET, HEAD"]
    post = b"POST %s HTTP/1.1\r\nHost: 198.51.100.11\r\nContent-Length: 1\r\n\r\nx"
    assert ask(site, post % b"/description.xml").code == 405
    assert ask(site, post % b"/control").code == 404


def test_second_address_of_a_joined_device_is_not_an_error(
    reactor: MemoryMulticastReactor,
) -> None:
    import errno

    from twisted.internet import error
    from twisted.internet.defer import fail

    from ssdp_upnp._multicast import GroupMembership

    class AlreadyMember(MemoryDatagramPort):
        def joinGroup(self, addr: str, interface: str = "") -> Any:
            return fail(error.MulticastJoinError(addr, interface, errno.EADDRINUSE, "in use"))

    from twisted.internet.protocol import DatagramProtocol

    port = AlreadyMember(reactor, 1900, DatagramProtocol(), "", True)
    membership = GroupMembership(port)
    d = membership.join(ETH0)
    assert result_of(d) is None and membership.joined == []


def test_many_sources_are_bounded_in_total(reactor: MemoryMulticastReactor) -> None:
    service, udp = start(reactor)
    reactor.advance(1)
    udp.take()
    for i in range(250):  # 250 sources, each within its own limit
        for _ in range(3):
            udp.deliver(search(mx=1), (f"198.51.100.{i + 2}", 1900))
    reactor.advance(1.0)
    sent = udp.take()
    # 250 x 3 x 4 = 3000 replies asked for; the total bucket (400 + 200/s) bounds them
    assert 400 <= len(sent) <= 600
    # counted once per refused search (its remaining answers go with it)
    assert service.protocol.drops.counts["total reply rate limit"] >= 600
