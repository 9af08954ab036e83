"""One LAN host cannot eclipse, mislead or flood a node's view of its peers (in memory)."""

from __future__ import annotations

import random
import uuid as uuidlib
from dataclasses import replace

from helpers import ETH0, UUID_A, UUID_B, make_node, result_of
from ssdp_upnp.advertiser import AdvertiserService, SSDPAdvertiser
from ssdp_upnp.discovery import DiscoveryService
from ssdp_upnp.lan import Interface
from ssdp_upnp.message import NTS, encode
from ssdp_upnp.peers import Peer, PeerAdded, PeerRemoved, PeerTable, RemovalReason, Sighting
from ssdp_upnp.search_target import Answer
from ssdp_upnp.testing import MemoryLAN, MemoryMulticastReactor

ATTACKER = "198.51.100.66"
PEER_HOST = "198.51.100.12"


def fake(i: int, host: str = ATTACKER, max_age: int = 86400) -> Sighting:
    peer = Peer(str(uuidlib.UUID(int=i + 1)), host, 8048, "blockchain", "main", None, 0.0)
    return Sighting(peer, max_age)


def test_one_source_gets_its_share_and_no_more() -> None:
    table = PeerTable("blockchain", "main", max_peers=100, max_per_source=16)
    for i in range(50):
        table.see(fake(i), now=0)
    assert len(table) == 16
    refused = table.take_refused()
    assert len(refused) == 34 and {r.reason for r in refused} == {"too many peers from one source"}
    assert table.take_refused() == []
    (added,) = table.see(fake(999, host=PEER_HOST), now=0)
    assert isinstance(added, PeerAdded)


def test_a_full_table_makes_room_for_a_less_represented_source() -> None:
    table = PeerTable("blockchain", "main", max_peers=20, max_per_source=16)
    for i in range(16):
        table.see(fake(i, max_age=100 + i), now=0)  # the attacker's, soonest first
    for i in range(4):
        table.see(fake(100 + i, host=f"198.51.100.{20 + i}"), now=0)
    assert len(table) == 20
    removed, added = table.see(fake(500, host="198.51.100.40"), now=0)
    assert isinstance(removed, PeerRemoved) and removed.reason is RemovalReason.EVICTED
    assert removed.peer.host == ATTACKER and removed.peer.expires == 100  # its soonest
    assert isinstance(added, PeerAdded) and added.peer.host == "198.51.100.40"
    assert table.see(fake(501), now=0) == [] and len(table) == 20  # no room by its own kind
    assert [r.reason for r in table.take_refused()] == ["peer table full"]


def test_an_advertisement_counts_for_an_hour_at_most() -> None:
    (added,) = PeerTable("blockchain", "main").see(fake(1, max_age=86400), now=10)
    assert isinstance(added, PeerAdded) and added.peer.expires == 10 + 3600


def lan_with_peer() -> tuple[MemoryLAN, DiscoveryService, AdvertiserService, list[str]]:
    lan = MemoryLAN()
    node = lan.add_host("198.51.100.11")
    peer_host = lan.add_host(PEER_HOST)
    lan.add_host(ATTACKER)
    discovery = DiscoveryService("blockchain", "main", node, [ETH0], exclude=[UUID_A],
                                 rng=random.Random(1))  # fmt: skip
    events: list[str] = []
    discovery.observe(type("O", (), {
        "peer_added": lambda self, p: events.append(f"added {p.host}"),
        "peer_removed": lambda self, p, r: events.append(f"removed {p.host} {r.value}"),
    })())  # fmt: skip
    peer = AdvertiserService(make_node(UUID_B), 1, peer_host,
                             [Interface.parse("eth0", f"{PEER_HOST}/24")],
                             rng=random.Random(2))  # fmt: skip
    peer.startService()
    discovery.startService()
    lan.advance(3)
    assert events == [f"added {PEER_HOST}"]
    return lan, discovery, peer, events


def spoof(lan: MemoryLAN, nts: NTS) -> None:
    """The attacker sends a NOTIFY with the peer's uuid (and its own address)."""
    speaker = SSDPAdvertiser(make_node(UUID_B, port=6666), 7, MemoryMulticastReactor())
    attacker = lan.hosts[ATTACKER]
    port = next((p for p in attacker.datagram_ports if p.port == 41000), None)
    if port is None:
        port = attacker.listenUDP(41000, SSDPAdvertiser(make_node(), 1, attacker))
        port.groups.add(("239.255.255.250", "0.0.0.0"))
    node = make_node(UUID_B)
    port.write(encode(speaker.notify_for(nts, node.udn, f"http://{ATTACKER}/d.xml")),
               ("239.255.255.250", 1900))  # fmt: skip


def test_a_byebye_or_alive_from_another_host_is_checked_with_the_peer() -> None:
    lan, discovery, peer, events = lan_with_peer()
    spoof(lan, NTS.BYEBYE)
    spoof(lan, NTS.ALIVE)
    lan.advance(5)  # the peer answers the unicast search for its uuid: nothing changes
    assert events == [f"added {PEER_HOST}"]
    assert [p.host for p in discovery.peers()] == [PEER_HOST]
    # once the peer is really gone, the same claim is taken after the check window
    result_of(peer.stopService())
    lan.flush()
    assert events[-1] == f"removed {PEER_HOST} byebye"
    result_of(discovery.stopService())


def test_a_renumbered_peer_is_still_followed() -> None:
    lan, discovery, peer, events = lan_with_peer()
    # the peer's host is renumbered: its old address no longer answers
    new = "198.51.100.21"
    lan.hosts[new] = lan.hosts.pop(PEER_HOST)
    peer.update_interfaces([Interface.parse("eth0", f"{new}/24")])
    lan.advance(4)
    assert [p.host for p in discovery.peers()] == [new]
    assert events[-2:] == [f"removed {PEER_HOST} changed", f"added {new}"]
    result_of(discovery.stopService())
    result_of(peer.stopService())


def test_a_flapping_peer_is_told_once_per_interval() -> None:
    reactor = MemoryMulticastReactor()
    discovery = DiscoveryService("blockchain", "main", reactor, [ETH0], rng=random.Random(1),
                                 flap_interval=60)  # fmt: skip
    told: list[str] = []
    discovery.observe(type("O", (), {
        "peer_added": lambda self, p: told.append("added"),
        "peer_removed": lambda self, p, r: told.append("removed"),
    })())  # fmt: skip
    discovery.startService()
    notify = next(p for p in reactor.datagram_ports if p.port == 1900)
    speaker = SSDPAdvertiser(make_node(UUID_B), 1, reactor)
    node = make_node(UUID_B)
    alive = encode(speaker.notify_for(NTS.ALIVE, node.udn, "http://x/d.xml"))
    bye = encode(speaker.notify_for(NTS.BYEBYE, node.udn, None))
    for _ in range(1000):  # 2,000 datagrams in 10 s
        notify.deliver(alive, (PEER_HOST, 1900))
        notify.deliver(bye, (PEER_HOST, 1900))
        reactor.advance(0.01)
    assert told == ["added", "removed"]
    notify.deliver(alive, (PEER_HOST, 1900))  # and it stays this time
    reactor.advance(60)
    assert told == ["added", "removed", "added"]
    assert [p.uuid for p in discovery.peers()] == [UUID_B]
    result_of(discovery.stopService())
    assert reactor.getDelayedCalls() == []


def test_restarts_and_changes_are_told_at_once_a_few_times() -> None:
    table_events: list[str] = []
    reactor = MemoryMulticastReactor()
    discovery = DiscoveryService("blockchain", "main", reactor, [ETH0], rng=random.Random(1))
    discovery.observe(type("O", (), {
        "peer_added": lambda self, p: table_events.append(f"added {p.boot_id}"),
        "peer_removed": lambda self, p, r: table_events.append(f"removed {r.value}"),
    })())  # fmt: skip
    discovery.startService()
    search = next(p for p in reactor.datagram_ports if p.port != 1900)
    node = make_node(UUID_B)
    for boot_id in range(1, 8):
        speaker = SSDPAdvertiser(node, boot_id, reactor)
        search.deliver(encode(speaker.response_for(Answer(node.udn, node.udn), "http://x/")),
                       (PEER_HOST, 1900))  # fmt: skip
    assert table_events == ["added 1", "removed restarted", "added 2", "removed restarted",
                            "added 3", "removed restarted"]  # fmt: skip
    reactor.advance(60)  # then the latest, once the interval has passed
    assert table_events[-1] == "added 7"
    (peer,) = discovery.peers()
    assert replace(peer, expires=0).boot_id == 7
    result_of(discovery.stopService())


def test_discovery_counts_the_peers_a_source_gets_no_room_for() -> None:
    # refusals are no events: discovery still takes them from the table at every datagram
    reactor = MemoryMulticastReactor()
    discovery = DiscoveryService("blockchain", "main", reactor, [ETH0])
    discovery.startService()
    port = next(p for p in reactor.datagram_ports if p.port == 1900)
    for i in range(20):
        node = make_node(str(uuidlib.UUID(int=i + 1)))
        alive = SSDPAdvertiser(node, 1, reactor).notify_for(NTS.ALIVE, node.udn, "http://x/d")
        port.deliver(encode(alive), (ATTACKER, 1900))
    assert len(discovery.peers()) == 16
    assert discovery.drops.counts == {"too many peers from one source": 4}
    port.deliver(encode(alive), (ATTACKER, 1900))  # a refresh of one refused: refused again
    assert discovery.drops.counts == {"too many peers from one source": 5}
