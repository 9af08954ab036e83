"""A node advertises its public address (its port mapping) to LAN peers, once known."""

from __future__ import annotations

import random
from typing import Any

import pytest

from helpers import ETH0, UUID_B, decoded, make_node
from ssdp_upnp.advertiser import AdvertiserService
from ssdp_upnp.discovery import DiscoveryService
from ssdp_upnp.message import NTS, Notify, header
from ssdp_upnp.node import EXTERNAL_HEADER, external_header, read_advertisement, read_external
from ssdp_upnp.node_service import advertise_public_address
from ssdp_upnp.peers import Peer, RemovalReason
from ssdp_upnp.testing import MemoryLAN


def test_header_round_trip() -> None:
    name, value = external_header("203.0.113.2", 18048)
    assert (name, value) == (EXTERNAL_HEADER, "203.0.113.2:18048")
    advertised = read_advertisement(make_node().headers() + ((name, value),))
    assert advertised is not None and advertised.external == ("203.0.113.2", 18048)


@pytest.mark.parametrize("value", [None, "", "203.0.113.2", "x:1", "203.0.113.2:0",
                                   "203.0.113.2:70000", "[::1]:80", "203.0.113.2:8o"])  # fmt: skip
def test_bad_external_values_are_ignored(value: str | None) -> None:
    assert read_external(value) is None


class Mapper:
    def __init__(self, addresses: list[tuple[str, int, str, int]]) -> None:
        self.addresses = addresses

    def public_addresses(self) -> list[tuple[str, int, str, int]]:
        return self.addresses


def test_peers_learn_the_public_address() -> None:
    lan = MemoryLAN()
    a = lan.add_host("198.51.100.11")
    b = lan.add_host("198.51.100.12")
    advertiser = AdvertiserService(make_node(UUID_B), 1, a, [ETH0], rng=random.Random(1))
    advertiser.startService()
    discovery = DiscoveryService("blockchain", "main", b,
                                 [ETH0.parse("eth0", "198.51.100.12/24")])  # fmt: skip
    events: list[tuple[str, Peer, Any]] = []

    class Record:
        def peer_added(self, peer: Peer) -> None:
            events.append(("added", peer, None))

        def peer_removed(self, peer: Peer, reason: RemovalReason) -> None:
            events.append(("removed", peer, reason))

    discovery.observe(Record())
    discovery.startService()
    lan.advance(3)
    assert [p.external for p in discovery.peers()] == [None]
    port = next(p for p in a.datagram_ports if p.port == 1900)
    port.take()
    # the node's service port (8048) got mapped to 18048 on the gateway; a UDP one is ignored
    update = advertise_public_address(advertiser)
    mapped: Any = Mapper([("203.0.113.2", 5000, "UDP", 8048), ("203.0.113.2", 18048, "TCP", 8048)])
    update(mapped)
    announced = [m for m in decoded(port.sent) if isinstance(m, Notify)]
    assert announced and all(m.nts is NTS.ALIVE for m in announced)
    assert {header(m.extra, EXTERNAL_HEADER) for m in announced} == {"203.0.113.2:18048"}
    lan.flush()
    (peer,) = discovery.peers()
    assert peer.external == ("203.0.113.2", 18048) and peer.address == ("198.51.100.11", 8048)
    assert [e[2] for e in events] == [None, RemovalReason.CHANGED, None]
    gone: Any = Mapper([])
    update(gone)  # the mapping is gone: the header goes too
    lan.flush()
    assert [p.external for p in discovery.peers()] == [None]
