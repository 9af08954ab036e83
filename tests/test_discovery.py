"""Discovery: searching, the peer table through the protocol, expiry, byebye, restarts."""

from __future__ import annotations

import random
from typing import Any

import pytest
from twisted.internet.defer import CancelledError

from helpers import ETH0, UUID_A, UUID_B, decoded, failure_of, make_node, result_of
from ssdp_upnp.advertiser import SSDPAdvertiser
from ssdp_upnp.discovery import DiscoveryService, discover
from ssdp_upnp.errors import ConfigurationError
from ssdp_upnp.message import NTS, SSDP_GROUP, SearchRequest, encode
from ssdp_upnp.node import NodeInfo
from ssdp_upnp.peers import Peer, RemovalReason
from ssdp_upnp.search_target import Answer
from ssdp_upnp.testing import MemoryDatagramPort, MemoryMulticastReactor

PEER_HOST = "198.51.100.12"


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, Peer, RemovalReason | None]] = []

    def peer_added(self, peer: Peer) -> None:
        self.events.append(("added", peer, None))

    def peer_removed(self, peer: Peer, reason: RemovalReason) -> None:
        self.events.append(("removed", peer, reason))


def speaker(node: NodeInfo, boot_id: int = 1, max_age: int = 1800) -> SSDPAdvertiser:
    """An advertiser used only to build the messages a real peer would send."""
    adv = SSDPAdvertiser(node, boot_id, MemoryMulticastReactor(), max_age=max_age)
    return adv


def response(node: NodeInfo, boot_id: int = 1, max_age: int = 1800, nt: str | None = None) -> bytes:
    nt = nt or node.device_type
    return encode(speaker(node, boot_id, max_age).response_for(Answer(nt, nt), "http://x/d.xml"))


def notify(node: NodeInfo, nts: NTS, boot_id: int = 1, max_age: int = 1800) -> bytes:
    return encode(speaker(node, boot_id, max_age).notify_for(nts, node.udn, "http://x/d.xml"))


@pytest.fixture
def reactor() -> MemoryMulticastReactor:
    return MemoryMulticastReactor()


def start(
    reactor: MemoryMulticastReactor, **kw: Any
) -> tuple[DiscoveryService, Recorder, MemoryDatagramPort, MemoryDatagramPort]:
    service = DiscoveryService("blockchain", "main", reactor, [ETH0], rng=random.Random(3), **kw)
    recorder = Recorder()
    service.observe(recorder)
    service.startService()
    search_port = next(p for p in reactor.datagram_ports if p.port != 1900)
    notify_port = next(p for p in reactor.datagram_ports if p.port == 1900)
    return service, recorder, search_port, notify_port


def test_searches_from_ephemeral_port_repeated_then_periodically(
    reactor: MemoryMulticastReactor,
) -> None:
    service, _, search_port, notify_port = start(reactor, search_interval=60)
    assert search_port.interface == ETH0.ip and search_port.ttl == 2
    assert notify_port.listen_multiple and notify_port.groups == {(SSDP_GROUP, ETH0.ip)}
    reactor.advance(0)
    reactor.advance(0.5)
    reactor.advance(0.5)
    sent = search_port.take()
    assert len(sent) == 3
    assert all(s.addr == (SSDP_GROUP, 1900) and s.interface == ETH0.ip for s in sent)
    request = decoded(sent)[0]
    assert request == SearchRequest(st="urn:ssdp-upnp-org:device:blockchain:1", mx=2)
    reactor.advance(58)
    assert search_port.take() == []
    for _ in range(8):
        reactor.advance(1)
    assert len(search_port.take()) == 3


def test_peer_added_once_for_many_answers(reactor: MemoryMulticastReactor) -> None:
    service, recorder, search_port, notify_port = start(reactor)
    node = make_node(UUID_B, port=9000, node_id="abc")
    for _ in range(3):
        for nt in node.notification_types():
            search_port.deliver(response(node, nt=nt), (PEER_HOST, 1900))
    notify_port.deliver(notify(node, NTS.ALIVE), (PEER_HOST, 1900))
    assert [e[0] for e in recorder.events] == ["added"]
    (peer,) = service.peers()
    assert peer.address == (PEER_HOST, 9000)
    assert (peer.uuid, peer.node_id, peer.interface) == (UUID_B, "abc", ETH0.ip)
    assert peer.location == "http://x/d.xml"


@pytest.mark.parametrize(
    "node",
    [
        make_node(UUID_B, product="otherchain"),
        make_node(UUID_B, network="testnet"),
        make_node(UUID_A),  # ourselves, excluded
    ],
)
def test_other_products_networks_and_self_are_not_reported(
    reactor: MemoryMulticastReactor, node: NodeInfo
) -> None:
    service, recorder, search_port, _ = start(reactor, exclude=[UUID_A])
    search_port.deliver(response(node, nt="upnp:rootdevice"), (PEER_HOST, 1900))
    assert recorder.events == [] and service.peers() == []


def test_foreign_devices_and_off_link_senders_are_ignored(reactor: MemoryMulticastReactor) -> None:
    service, recorder, search_port, notify_port = start(reactor)
    router = (
        b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: upnp:rootdevice\r\n"
        b"USN: uuid:3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b::upnp:rootdevice\r\nEXT:\r\n"
        b"LOCATION: http://198.51.100.1:5000/rootDesc.xml\r\n\r\n"
    )
    search_port.deliver(router, ("198.51.100.1", 1900))
    search_port.deliver(response(make_node(UUID_B)), ("203.0.113.9", 1900))
    search_port.deliver(b"\xff" * 100, (PEER_HOST, 1900))
    assert recorder.events == []
    assert service.drops.counts == {"off-link sender": 1, "malformed": 1}


def test_expiry_follows_max_age_and_is_pushed_by_refresh(reactor: MemoryMulticastReactor) -> None:
    service, recorder, search_port, _ = start(reactor, search_interval=None)
    node = make_node(UUID_B)
    search_port.deliver(response(node, max_age=100), (PEER_HOST, 1900))
    reactor.advance(90)
    search_port.deliver(response(node, max_age=100), (PEER_HOST, 1900))
    reactor.advance(90)
    assert len(service.peers()) == 1
    reactor.advance(10.5)
    assert service.peers() == []
    assert [(e[0], e[2]) for e in recorder.events] == [
        ("added", None),
        ("removed", RemovalReason.EXPIRED),
    ]
    assert reactor.getDelayedCalls() == []


def test_byebye_removes_at_once(reactor: MemoryMulticastReactor) -> None:
    service, recorder, search_port, notify_port = start(reactor)
    node = make_node(UUID_B)
    notify_port.deliver(notify(node, NTS.ALIVE), (PEER_HOST, 1900))
    notify_port.deliver(notify(node, NTS.BYEBYE), (PEER_HOST, 1900))
    assert service.peers() == []
    assert recorder.events[-1][2] is RemovalReason.BYEBYE
    notify_port.deliver(notify(node, NTS.BYEBYE), (PEER_HOST, 1900))  # a second byebye
    assert len(recorder.events) == 2


def test_new_boot_id_is_a_restart_and_new_address_a_change(
    reactor: MemoryMulticastReactor,
) -> None:
    service, recorder, search_port, _ = start(reactor)
    search_port.deliver(response(make_node(UUID_B), boot_id=1), (PEER_HOST, 1900))
    search_port.deliver(response(make_node(UUID_B), boot_id=2), (PEER_HOST, 1900))
    search_port.deliver(response(make_node(UUID_B, port=9999), boot_id=2), (PEER_HOST, 1900))
    assert [(e[0], e[2]) for e in recorder.events] == [
        ("added", None),
        ("removed", RemovalReason.RESTARTED),
        ("added", None),
        ("removed", RemovalReason.CHANGED),
        ("added", None),
    ]
    (peer,) = service.peers()
    assert (peer.boot_id, peer.port) == (2, 9999)


def test_peer_table_is_bounded(reactor: MemoryMulticastReactor) -> None:
    service, recorder, search_port, _ = start(reactor, max_peers=10)
    import uuid

    for i in range(50):
        node = make_node(str(uuid.UUID(int=i + 1)))
        search_port.deliver(response(node), (PEER_HOST, 1900))
    assert len(service.peers()) == 10


def test_failing_observer_does_not_stop_others(reactor: MemoryMulticastReactor) -> None:
    service, recorder, search_port, _ = start(reactor)

    class Broken:
        def peer_added(self, peer: Peer) -> None:
            raise RuntimeError("observer bug")

        def peer_removed(self, peer: Peer, reason: RemovalReason) -> None:
            raise RuntimeError("observer bug")

    service.observe(Broken())
    late = Recorder()
    service.observe(late)
    search_port.deliver(response(make_node(UUID_B)), (PEER_HOST, 1900))
    assert len(late.events) == 1


def test_unobserve(reactor: MemoryMulticastReactor) -> None:
    service, recorder, search_port, _ = start(reactor)
    other = Recorder()
    stop = service.observe(other)
    stop()
    search_port.deliver(response(make_node(UUID_B)), (PEER_HOST, 1900))
    assert other.events == [] and len(recorder.events) == 1


def test_wait_for_peer(reactor: MemoryMulticastReactor) -> None:
    service, _, search_port, _ = start(reactor)
    d = service.wait_for_peer(lambda p: p.port == 9000)
    search_port.deliver(response(make_node(UUID_A, port=1234)), (PEER_HOST, 1900))
    assert not d.called
    search_port.deliver(response(make_node(UUID_B, port=9000)), (PEER_HOST, 1900))
    assert result_of(d).uuid == UUID_B
    assert result_of(service.wait_for_peer()).uuid in (UUID_A, UUID_B)  # already there
    pending = service.wait_for_peer(lambda p: False)
    pending.cancel()
    assert isinstance(failure_of(pending).value, CancelledError)


def test_stop_closes_everything(reactor: MemoryMulticastReactor) -> None:
    service, recorder, search_port, notify_port = start(reactor)
    search_port.deliver(response(make_node(UUID_B)), (PEER_HOST, 1900))
    result_of(service.stopService())
    assert reactor.open_ports() == []
    assert notify_port.groups == set()
    assert reactor.getDelayedCalls() == []
    assert recorder.events[-1][2] is RemovalReason.STOPPED


def test_discover_returns_early_when_enough_peers(reactor: MemoryMulticastReactor) -> None:
    d = discover(reactor, "blockchain", "main", interfaces=[ETH0], timeout=5, wanted=1)
    (search_port,) = reactor.open_ports()
    assert search_port.port != 1900  # one-shot: no NOTIFY listener
    reactor.advance(0.2)
    assert not d.called
    search_port.deliver(response(make_node(UUID_B)), (PEER_HOST, 1900))
    (peer,) = result_of(d)
    assert peer.uuid == UUID_B
    assert reactor.open_ports() == [] and reactor.getDelayedCalls() == []


def test_discover_times_out_with_what_it_found(reactor: MemoryMulticastReactor) -> None:
    d = discover(reactor, "blockchain", "main", interfaces=[ETH0], timeout=3)
    reactor.advance(2.9)
    assert not d.called
    reactor.advance(0.1)
    assert result_of(d) == []
    assert reactor.open_ports() == [] and reactor.getDelayedCalls() == []


@pytest.mark.parametrize(
    "kw",
    [dict(mx=0), dict(mx=6), dict(search_interval=0.5), dict(ttl=0), dict(interfaces=[])],
)
def test_bad_options(reactor: MemoryMulticastReactor, kw: dict[str, Any]) -> None:
    interfaces = kw.pop("interfaces", [ETH0])
    with pytest.raises(ConfigurationError):
        DiscoveryService("blockchain", "main", reactor, interfaces, **kw)
    with pytest.raises(ConfigurationError):
        DiscoveryService("bad product!", "main", reactor, [ETH0])
