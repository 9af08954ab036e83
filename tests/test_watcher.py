"""Following interfaces while running: an address changes, the node moves with it."""

from __future__ import annotations

import random

from helpers import UUID_A, UUID_B, decoded, make_node, result_of
from ssdp_upnp._watcher import InterfaceWatcher
from ssdp_upnp.advertiser import AdvertiserService
from ssdp_upnp.discovery import DiscoveryService
from ssdp_upnp.lan import Interface, LANInterfaces
from ssdp_upnp.message import SSDP_GROUP, Notify
from ssdp_upnp.testing import MemoryLAN

OLD = Interface.parse("eth0", "198.51.100.11/24")
NEW = Interface.parse("eth0", "198.51.100.21/24")
PEER = Interface.parse("eth0", "198.51.100.12/24")


def test_advertiser_and_discovery_follow_an_address_change() -> None:
    lan = MemoryLAN()
    host = lan.add_host(OLD.ip)
    other = lan.add_host(PEER.ip)
    advertiser = AdvertiserService(make_node(UUID_A), 1, host, [OLD], rng=random.Random(1))
    discovery = DiscoveryService("blockchain", "main", host, [OLD], exclude=[UUID_A],
                                 rng=random.Random(2))  # fmt: skip
    peer = AdvertiserService(make_node(UUID_B, port=9000), 1, other, [PEER],
                             rng=random.Random(3))  # fmt: skip
    watching = DiscoveryService("blockchain", "main", other, [PEER], exclude=[UUID_B],
                                rng=random.Random(4))  # fmt: skip
    current = [OLD]
    lan_interfaces = LANInterfaces(lambda: current)
    lan_interfaces.follow(advertiser)
    lan_interfaces.follow(discovery)
    watcher = InterfaceWatcher(host, lan_interfaces, 5)
    for service in (advertiser, discovery, peer, watching, watcher):
        service.startService()
    lan.advance(3)
    assert [p.host for p in watching.peers()] == [OLD.ip]
    assert [p.port for p in discovery.peers()] == [9000]

    # DHCP gives the host a new address: the old one is gone, the new one takes over
    lan.hosts[NEW.ip] = lan.hosts.pop(OLD.ip)
    current = [NEW]
    lan.advance(6)
    assert advertiser.locations.keys() == {NEW.ip}
    assert [p.address.host for p in host.tcp_ports if p.listening] == [NEW.ip]
    udp = next(p for p in host.datagram_ports if p.port == 1900 and p.listening
               and p.protocol is advertiser.protocol)  # fmt: skip
    assert (SSDP_GROUP, NEW.ip) in udp.groups and (SSDP_GROUP, OLD.ip) not in udp.groups
    search_ports = [p for p in host.open_ports() if p.protocol is not None and p.port != 1900]
    assert {p.interface for p in search_ports} == {NEW.ip}
    # the peer sees the node at its new address (a change of address: removed, then added)
    lan.advance(2)
    assert [p.host for p in watching.peers()] == [NEW.ip]
    watcher.stopService()
    for service in (advertiser, discovery, peer, watching):
        result_of(service.stopService())
    assert host.getDelayedCalls() == []


def test_new_interface_gets_announced_at_once() -> None:
    lan = MemoryLAN()
    host = lan.add_host(OLD.ip)
    advertiser = AdvertiserService(make_node(UUID_A), 1, host, [OLD], rng=random.Random(1))
    advertiser.startService()
    lan.advance(2)
    udp = next(p for p in host.datagram_ports if p.port == 1900)
    second = Interface.parse("eth1", "10.9.0.1/16")
    advertiser.update_interfaces([OLD, second])
    host.advance(1)
    alive = [s for s in udp.take() if s.interface == second.ip]
    notes = [m for m in decoded(alive) if isinstance(m, Notify)]
    assert len(notes) == 12 and all(second.ip in (m.location or "") for m in notes)
    assert advertiser.protocol.interfaces == [OLD, second]
