"""SSDP over IPv6, in memory: addresses and links, the groups, the advertiser and discovery."""

from __future__ import annotations

import random
from typing import Any

import pytest

from helpers import ETH0, decoded, make_node, result_of
from ssdp_upnp._multicast import GroupMembership
from ssdp_upnp.advertiser import AdvertiserService
from ssdp_upnp.discovery import DiscoveryService
from ssdp_upnp.errors import NoInterfaceError
from ssdp_upnp.lan import Interface, choose_interfaces, parse_if_inet6, speakers
from ssdp_upnp.message import (
    NTS,
    SSDP_GROUP,
    SSDP_HOST6,
    Notify,
    SearchRequest,
    SearchResponse,
    encode,
)
from ssdp_upnp.peers import Departure, Peer, PeerAdded, PeerRemoved, PeerTable, Sighting
from ssdp_upnp.testing import MemoryDatagramPort, MemoryMulticastReactor

LL = Interface.parse("eth0", "fe80::11/64", index=2)
GUA = Interface.parse("eth0", "2001:db8:5100::11/64", index=2)
ULA = Interface.parse("eth0", "fd12:3456::11/64", index=2)
LL1 = Interface.parse("eth1", "fe80::11/64", index=3)
PEER_LL = "fe80::12%eth0"


def test_an_ipv6_address_knows_its_link() -> None:
    assert LL.family == 6 and LL.is_link_local and LL.host == "fe80::11%eth0"
    assert LL.url_host == "[fe80::11]" and GUA.host == GUA.ip == "2001:db8:5100::11"
    # a link-local sender belongs to the link its zone names, by name or index
    assert LL.has_on_link("fe80::12%eth0") and LL.has_on_link("fe80::12%2")
    assert not LL.has_on_link("fe80::12%eth1") and not LL.has_on_link("fe80::12")
    assert not LL1.has_on_link("fe80::12%eth0")
    # a global sender belongs to the address whose prefix holds it, never to a link-local one
    assert GUA.has_on_link("2001:db8:5100::99") and not GUA.has_on_link("2001:db8:5101::99")
    assert not LL.has_on_link("2001:db8:5100::99") and not GUA.has_on_link("fe80::12%eth0")
    assert not GUA.has_on_link("198.51.100.12") and not ETH0.has_on_link("2001:db8:5100::99")
    assert not GUA.has_on_link("not an address")
    with pytest.raises(ValueError, match="index"):
        Interface.parse("eth0", "fe80::1%eth0/64")


def test_proc_if_inet6_skips_addresses_not_usable_yet() -> None:
    text = (
        "fe800000000000000000000000000011 02 40 20 80     eth0\n"  # link-local, permanent
        "20010db8510000000000000000000011 02 40 00 00     eth0\n"  # global
        "20010db8510000000000000000000099 02 40 00 40     eth0\n"  # tentative (DAD running)
        "20010db8510000000000000000000098 02 40 00 20     eth0\n"  # deprecated
        "garbage line\n"
    )
    assert parse_if_inet6(text) == [LL, GUA]


def test_the_policy_keeps_ipv6_on_lans_and_families_choose() -> None:
    docker = Interface.parse("docker0", "fe80::42/64", index=5)
    wan4 = Interface.parse("wan0", "81.2.69.160/24")  # public (documentation ones are not)
    wan6 = Interface.parse("wan0", "2a00:1450:4001::2/64", index=6)
    loop6 = Interface.parse("lo", "::1/128", index=1)
    available = [ETH0, LL, GUA, docker, wan4, wan6, loop6]
    chosen, skipped = choose_interfaces(available)
    assert chosen == [ETH0, LL, GUA]
    reasons = {(s.interface.name, s.interface.ip): s.reason for s in skipped}
    assert "container" in reasons[("docker0", "fe80::42")]
    assert "public" in reasons[("wan0", "2a00:1450:4001::2")]  # the link faces the internet
    assert reasons[("lo", "::1")] == "loopback"
    assert choose_interfaces(available, families=(6,))[0] == [LL, GUA]
    assert choose_interfaces(available, families=(4,))[0] == [ETH0]
    assert choose_interfaces(available, ["eth0"], families=(6,))[0] == [LL, GUA]
    assert choose_interfaces(available, ["fe80::11%eth0"])[0] == [LL]
    assert choose_interfaces(available, exclude=["fe80::11"])[0] == [ETH0, GUA]
    with pytest.raises(NoInterfaceError, match="no IPv6 interface to run SSDP on"):
        choose_interfaces([ETH0, loop6], families=(6,))
    # a host with loopback only runs on IPv4 loopback, never when IPv6 alone is asked for
    loop4 = Interface.parse("lo", "127.0.0.1/8")
    assert choose_interfaces([loop4, loop6])[0] == [loop4]
    with pytest.raises(NoInterfaceError, match="no IPv6 interface"):
        choose_interfaces([loop4, loop6], families=(6,))


def test_one_address_per_ipv6_link_speaks() -> None:
    both = [ETH0, GUA, ULA, LL, LL1]
    assert speakers(both) == [ETH0, LL, LL1]
    # a gateway search goes from a global or ULA address (miniupnpd's LOCATION is global)
    assert speakers(both, routable=True) == [ETH0, GUA, LL1]
    assert speakers([GUA]) == [GUA]


def test_ipv6_hosts_name_multicast_searches() -> None:
    for host in ("[FF02::C]:1900", "[ff02::c]:1900", "[FF05::C]:1900", "239.255.255.250:1900"):
        assert SearchRequest(st="ssdp:all", host=host).is_multicast
    assert not SearchRequest(st="ssdp:all", host="[fe80::11]:1900").is_multicast


def test_an_ipv6_link_joins_once_and_leaves_with_its_last_address() -> None:
    reactor = MemoryMulticastReactor()
    from twisted.internet.protocol import DatagramProtocol

    port = reactor.listenMulticast(1900, DatagramProtocol(), "::", listenMultiple=True)
    group = GroupMembership(port)
    for interface in (LL, GUA, LL1):
        assert result_of(group.join(interface)) is None
    # ff02::c on each link by its name; ff05::c on the link with a global address
    assert port.groups == {("ff02::c", "eth0"), ("ff05::c", "eth0"), ("ff02::c", "eth1")}
    assert group.joined == [LL, GUA, LL1]
    group.leave(GUA)
    assert port.groups == {("ff02::c", "eth0"), ("ff02::c", "eth1")}
    group.leave(LL)
    assert port.groups == {("ff02::c", "eth1")}
    assert GroupMembership(port, site=False)._groups(GUA) == [("ff02::c", "eth0")]


def start_advertiser(
    reactor: MemoryMulticastReactor, interfaces: list[Interface], **kw: Any
) -> tuple[AdvertiserService, MemoryDatagramPort, MemoryDatagramPort | None]:
    service = AdvertiserService(make_node(), 5, reactor, interfaces, rng=random.Random(7), **kw)
    service.startService()
    ports = {p.interface: p for p in reactor.datagram_ports if p.port == 1900}
    return service, ports["::"], ports.get("")


def test_advertiser_serves_each_ipv6_address_and_announces_once_per_link() -> None:
    reactor = MemoryMulticastReactor()
    service, udp6, udp4 = start_advertiser(reactor, [ETH0, LL, GUA])
    assert udp4 is not None and udp4.groups == {(SSDP_GROUP, ETH0.ip)}
    assert udp6.groups == {("ff02::c", "eth0"), ("ff05::c", "eth0")} and udp6.ttl == 2
    assert result_of(service.ready) == [ETH0, LL, GUA]
    hosts = sorted(t[3] for t in reactor.tcpServers)
    assert hosts == sorted([ETH0.ip, "fe80::11%eth0", GUA.ip])
    locations = service.locations
    assert locations["fe80::11%eth0"].startswith("http://[fe80::11]:")
    assert locations[GUA.ip].startswith("http://[2001:db8:5100::11]:")
    reactor.advance(1)
    sent = udp6.take()
    # NOTIFY once per link, to ff02::c on eth0, from the link-local record's LOCATION
    assert {s.addr for s in sent} == {("ff02::c%eth0", 1900)}
    notes = [m for m in decoded(sent) if isinstance(m, Notify)]
    assert len(notes) == 3 * 4 and all(n.host == SSDP_HOST6 for n in notes)
    assert {n.location for n in notes} == {locations["fe80::11%eth0"]}
    assert len(udp4.take()) == 3 * 4  # and IPv4 as before
    # stop: byebye on both families
    service.stopService()
    byes = [m for m in decoded(udp6.take()) if isinstance(m, Notify)]
    assert byes and all(m.nts is NTS.BYEBYE for m in byes)
    assert not udp6.listening and not udp4.listening


def test_advertiser_answers_ipv6_searches_with_the_address_that_matched() -> None:
    reactor = MemoryMulticastReactor()
    service, udp6, _ = start_advertiser(reactor, [LL, GUA])
    reactor.advance(1)
    udp6.take()
    ask = encode(SearchRequest(st="upnp:rootdevice", mx=1, host=SSDP_HOST6))
    udp6.deliver(ask, (PEER_LL, 50000))
    udp6.deliver(ask, ("2001:db8:5100::12", 50001))
    udp6.deliver(ask, ("2001:db8:9999::12", 50002))  # off-link: another prefix
    udp6.deliver(ask, ("fe80::12%eth1", 50003))  # off-link: another link
    reactor.advance(2)
    sent = udp6.take()
    by_asker = {s.addr: decoded([s])[0] for s in sent}
    assert set(by_asker) == {(PEER_LL, 50000), ("2001:db8:5100::12", 50001)}
    local, routable = by_asker[(PEER_LL, 50000)], by_asker[("2001:db8:5100::12", 50001)]
    assert isinstance(local, SearchResponse) and isinstance(routable, SearchResponse)
    assert local.location == service.locations["fe80::11%eth0"]
    assert routable.location == service.locations[GUA.ip]
    # no 0.1.0 header over IPv6: 0.1.0 clients speak IPv4 only
    assert not any(name.lower().startswith("ssdp-upnp") for name, _ in local.extra)
    assert service.protocol.drops.counts["off-link sender"] == 2


def test_ipv6_comes_later_and_the_advertiser_opens_its_port() -> None:
    reactor = MemoryMulticastReactor()
    service = AdvertiserService(make_node(), 5, reactor, [ETH0], rng=random.Random(7))
    service.startService()
    assert [p.interface for p in reactor.datagram_ports] == [""]
    service.update_interfaces([ETH0, LL])
    (udp6,) = [p for p in reactor.datagram_ports if p.interface == "::"]
    assert udp6.groups == {("ff02::c", "eth0")}
    reactor.advance(1)
    assert {s.addr for s in udp6.take()} == {("ff02::c%eth0", 1900)}
    service.update_interfaces([ETH0])
    assert udp6.groups == set()
    assert service.locations.keys() == {ETH0.ip}


def test_discovery_searches_once_per_ipv6_link_and_hears_notify_there() -> None:
    reactor = MemoryMulticastReactor()
    service = DiscoveryService("blockchain", "main", reactor, [ETH0, LL, GUA],
                               rng=random.Random(3), search_repeats=1)  # fmt: skip
    service.startService()
    searchers = {p.interface: p for p in reactor.datagram_ports if p.port != 1900}
    assert set(searchers) == {ETH0.ip, "fe80::11%eth0"}
    (notify6,) = [p for p in reactor.datagram_ports if p.port == 1900 and p.interface == "::"]
    assert notify6.groups == {("ff02::c", "eth0"), ("ff05::c", "eth0")}
    reactor.advance(0.1)
    (sent,) = searchers["fe80::11%eth0"].take()
    assert sent.addr == ("ff02::c%eth0", 1900)
    (request,) = decoded([sent])
    assert isinstance(request, SearchRequest) and request.host == SSDP_HOST6
    node = make_node("00000000-0000-4000-8000-00000000000b")
    alive = Notify(nts=NTS.ALIVE, nt=node.udn, usn=node.usn(node.udn), max_age=100,
                   location="http://[fe80::12]:4000/description.xml", boot_id=1,
                   extra=node.headers())  # fmt: skip
    notify6.deliver(encode(alive), (PEER_LL, 1900))
    (peer,) = service.peers()
    assert peer.address == (PEER_LL, 8048) and peer.addresses == (PEER_LL,)


UUID = "00000000-0000-4000-8000-0000000000aa"


def sighting(host: str, **kw: Any) -> Sighting:
    fields: dict[str, Any] = dict(uuid=UUID, host=host, port=8048, product="blockchain",
                                  network="main", location=f"http://{host}/", expires=0.0,
                                  boot_id=1)  # fmt: skip
    fields.update(kw)
    return Sighting(Peer(**fields), 100)


def test_a_node_heard_over_both_families_is_one_peer() -> None:
    table = PeerTable("blockchain", "main")
    (added,) = table.see(sighting(PEER_LL), now=0)
    assert isinstance(added, PeerAdded) and added.peer.host == PEER_LL
    # its IPv4 address joins the same peer, first; nothing new to tell
    assert table.see(sighting("198.51.100.12"), now=1) == []
    (peer,) = table.peers()
    assert peer.addresses == ("198.51.100.12", PEER_LL) and peer.host == "198.51.100.12"
    assert peer.location == "http://198.51.100.12/"
    # refreshes from either address change nothing
    assert (
        table.see(sighting(PEER_LL), now=2) == [] and table.see(sighting("198.51.100.12"), 3) == []
    )
    # a second address of a family it has is a claim to check, not an addition
    (verify,) = table.see(sighting("fe80::66%eth0"), now=4)
    assert type(verify).__name__ == "VerifyAddress"
    # a restart heard on one family keeps both addresses
    removed, again = table.see(sighting(PEER_LL, boot_id=2), now=5)
    assert isinstance(removed, PeerRemoved) and isinstance(again, PeerAdded)
    assert again.peer.addresses == ("198.51.100.12", PEER_LL)
    # a byebye on one family drops that address and asks the other; the other's byebye
    # (a node that stops says it on both) removes the peer, once
    (ask,) = table.depart(Departure(UUID, 2, PEER_LL), now=6)
    assert type(ask).__name__ == "VerifyAddress" and ask.peer.addresses == ("198.51.100.12",)
    (gone,) = table.depart(Departure(UUID, 2, "198.51.100.12"), now=6.1)
    assert isinstance(gone, PeerRemoved) and gone.reason.value == "byebye" and len(table) == 0
    assert table.expire(now=100) == []  # the question asked is void: nothing more to tell


def test_a_byebye_on_one_family_removes_the_peer_unless_the_other_answers() -> None:
    table = PeerTable("blockchain", "main", verify_window=2.0)
    table.see(sighting(PEER_LL), now=0)
    table.see(sighting("198.51.100.12"), now=0)
    table.depart(Departure(UUID, 1, PEER_LL), now=1)
    # no answer from its IPv4 address: the byebye stands, the peer goes once
    (gone,) = table.expire(now=3.0)
    assert isinstance(gone, PeerRemoved) and gone.reason.value == "byebye"
    assert table.expire(now=10.0) == []
    # its IPv6 address went, its IPv4 one answers: it stays, by that address
    table.see(sighting(PEER_LL), now=20)
    table.see(sighting("198.51.100.12"), now=20)
    table.depart(Departure(UUID, 1, PEER_LL), now=21)
    assert table.see(sighting("198.51.100.12"), now=21.5) == []
    assert table.expire(now=30) == []
    assert table.peers()[0].addresses == ("198.51.100.12",)
    # a spoofer that put its address on a peer cannot remove it with a byebye alone
    table.see(sighting("fe80::bad%eth0"), now=40)
    table.depart(Departure(UUID, 1, "fe80::bad%eth0"), now=41)
    table.see(sighting("198.51.100.12"), now=41.5)  # the real node answers the question
    assert table.expire(now=50) == [] and len(table) == 1


def test_the_facade_queue_gives_a_dual_stack_peer_by_its_ipv4_address() -> None:
    import queue

    from ssdp_upnp.ssdp import SETTLE, _QueueObserver

    reactor = MemoryMulticastReactor()
    service = DiscoveryService("blockchain", "main", reactor, [ETH0, LL], rng=random.Random(3))
    service.startService()
    added: queue.Queue[Any] = queue.Queue()
    service.observe(_QueueObserver(added, None, service))
    node = make_node(UUID)

    def alive(host: str, port: MemoryDatagramPort, group_host: str) -> None:
        message = Notify(nts=NTS.ALIVE, nt=node.udn, usn=node.usn(node.udn), max_age=100,
                         location=f"http://{host.split('%')[0]}/", boot_id=1, host=group_host,
                         extra=node.headers())  # fmt: skip
        port.deliver(encode(message), (host, 1900))

    ports = {p.interface: p for p in reactor.datagram_ports if p.port == 1900}
    alive(PEER_LL, ports["::"], SSDP_HOST6)  # IPv6 first
    assert added.empty()
    alive("198.51.100.12", ports[""], "239.255.255.250:1900")
    reactor.advance(SETTLE)
    assert added.get_nowait() == ("198.51.100.12", 8048) and added.empty()
    # an IPv6-only peer is given by its IPv6 address once the wait is over
    other = make_node("00000000-0000-4000-8000-0000000000bb")
    message = Notify(nts=NTS.ALIVE, nt=other.udn, usn=other.usn(other.udn), max_age=100,
                     location="http://[fe80::77]/", boot_id=1, host=SSDP_HOST6,
                     extra=other.headers())  # fmt: skip
    ports["::"].deliver(encode(message), ("fe80::77%eth0", 1900))
    reactor.advance(SETTLE)
    assert added.get_nowait() == ("fe80::77%eth0", 8048)
