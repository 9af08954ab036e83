"""
CPU per NOTIFY as a discovery node's peer table grows, in process (no sockets): NOTIFY
alive datagrams of new peers are fed to a DiscoveryService on an in-memory reactor
until the table holds N peers, then every peer refreshes once; the time per datagram
is reported for the first and the last tenth of the fill and for the refresh round.

Usage: python bench/bench_peers.py [N]   (default 10,000)
"""

from __future__ import annotations

import ipaddress
import sys
import time
import uuid as uuidlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ssdp_upnp.advertiser import SSDPAdvertiser  # noqa: E402
from ssdp_upnp.discovery import DiscoveryService  # noqa: E402
from ssdp_upnp.lan import Interface  # noqa: E402
from ssdp_upnp.message import NTS, encode  # noqa: E402
from ssdp_upnp.node import NodeInfo  # noqa: E402
from ssdp_upnp.testing import MemoryMulticastReactor  # noqa: E402

LAN = Interface.parse("eth0", "10.0.0.1/8")


def datagrams(count: int) -> list[tuple[bytes, tuple[str, int]]]:
    reactor = MemoryMulticastReactor()
    made = []
    base = int(ipaddress.IPv4Address("10.1.0.0"))
    for i in range(count):
        node = NodeInfo.create(str(uuidlib.UUID(int=i + 1)), "blockchain", "main", 8048)
        alive = SSDPAdvertiser(node, 1, reactor).notify_for(NTS.ALIVE, node.udn, "http://x/d")
        host = str(ipaddress.IPv4Address(base + i))  # one source per peer: no per-source cap
        made.append((encode(alive), (host, 1900)))
    return made


def main(count: int) -> None:
    feed = datagrams(count)
    reactor = MemoryMulticastReactor()
    discovery = DiscoveryService("blockchain", "main", reactor, [LAN], max_peers=count)
    discovery.startService()
    port = next(p for p in reactor.datagram_ports if p.port == 1900)
    times = []
    for data, addr in feed:
        start = time.perf_counter()
        port.deliver(data, addr)
        times.append(time.perf_counter() - start)
    assert len(discovery.peers()) == count, len(discovery.peers())
    tenth = max(1, count // 10)
    first = sum(times[:tenth]) / tenth
    last = sum(times[-tenth:]) / tenth
    start = time.perf_counter()
    for data, addr in feed:
        port.deliver(data, addr)
    refresh = (time.perf_counter() - start) / count
    print(f"peers: {count:,}")
    print(f"new peer, first tenth   {first * 1e6:8.1f} µs per NOTIFY")
    print(f"new peer, last tenth    {last * 1e6:8.1f} µs per NOTIFY  ({last / first:.2f} x)")
    print(
        f"refresh at {count:,} peers {refresh * 1e6:8.1f} µs per NOTIFY  ({refresh / first:.2f} x)"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
