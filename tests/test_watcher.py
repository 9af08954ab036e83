"""Following interfaces while running: an address changes, the node moves with it."""

from __future__ import annotations

import random

from helpers import UUID_A, UUID_B, decoded, make_node, result_of
from ssdp_upnp._watcher import InterfaceWatcher
from ssdp_upnp.advertiser import AdvertiserService
from ssdp_upnp.discovery import DiscoveryService
from ssdp_upnp.lan import Interface, LANInterfaces
from ssdp_upnp.message import SSDP_GROUP, Notify
from ssdp_upnp.testing import MemoryLAN, MemoryMulticastReactor

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


def test_a_failed_read_keeps_the_interfaces_and_a_gone_one_gets_byebye() -> None:
    import errno

    from ssdp_upnp.errors import NoInterfaceError
    from ssdp_upnp.message import NTS

    host = MemoryMulticastReactor()
    second = Interface.parse("eth1", "10.9.0.1/16")
    advertiser = AdvertiserService(make_node(UUID_A), 1, host, [OLD, second],
                                   rng=random.Random(1))  # fmt: skip
    reading: list[list[Interface] | Exception] = [[OLD, second]]

    def read() -> list[Interface]:
        now = reading[0]
        if isinstance(now, Exception):
            raise now
        return now

    interfaces = LANInterfaces(read)
    interfaces.follow(advertiser)
    watcher = InterfaceWatcher(host, interfaces, 5)
    advertiser.startService()
    watcher.startService()
    for _ in range(20):
        host.advance(0.1)
    udp = next(p for p in host.datagram_ports if p.port == 1900)
    udp.take()
    # out of descriptors: that says nothing about the interfaces
    reading[0] = OSError(errno.EMFILE, "Too many open files")
    host.advance(10)
    assert advertiser.protocol.interfaces == [OLD, second] and interfaces.current == [OLD, second]
    assert not [m for m in decoded(udp.take()) if isinstance(m, Notify) and m.nts is NTS.BYEBYE]
    # eth1 really goes: byebye on it before it is dropped
    reading[0] = [OLD]
    host.advance(5)
    byes = [s for s in udp.take() if s.interface == second.ip]
    assert byes and all(m.nts is NTS.BYEBYE for m in decoded(byes) if isinstance(m, Notify))
    assert advertiser.protocol.interfaces == [OLD]
    # and when none is left at all, the last one goes the same way
    reading[0] = NoInterfaceError("this host has no IPv4 interface")
    host.advance(5)
    assert advertiser.protocol.interfaces == [] and interfaces.current == []
    watcher.stopService()
    result_of(advertiser.stopService())
