"""
Hostile PCP/NAT-PMP traffic against our clients, in process (no sockets): the
cost of each dropped datagram and what survives the flood. For RELIABILITY.md.

Cases, N datagrams each, delivered to a PCP MAP in flight (or to the
announcement listener): a spoofed source, the gateway's address from another
port, a MAP answer with another nonce, a truncated answer, an oversized one,
random bytes, and a flood of genuine-looking ANNOUNCEs from the gateway.
After each flood the real answer must still complete the MAP, and the
ANNOUNCE flood may renew the mappings at most once per hold-off (5 s).

Usage: python bench/bench_port_control.py [N]
"""

from __future__ import annotations

import os
import struct
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ssdp_upnp.pcp_client import PCPMapper  # noqa: E402
from ssdp_upnp.testing import FakePortControlServer, MemoryMulticastReactor  # noqa: E402

GATEWAY, H1 = "198.51.100.1", "198.51.100.11"


def flood(n: int, make: Any, source: tuple[str, int]) -> tuple[float, bool, dict[str, int]]:
    reactor = MemoryMulticastReactor()
    server = FakePortControlServer(reactor, GATEWAY)
    mapper = PCPMapper(reactor, GATEWAY, H1)
    d = mapper.add_mapping(8048, 8048)
    port = reactor.open_ports()[0]
    good = server.handle(port.sent[0].data, H1)
    assert good is not None
    datagrams = [make(good, i) for i in range(n)]
    start = time.perf_counter()
    for data in datagrams:
        port.deliver(data, source)
    elapsed = time.perf_counter() - start
    intact = not d.called
    port.deliver(good, (GATEWAY, 5351))
    results: list[Any] = []
    d.addBoth(results.append)
    done = intact and bool(results) and getattr(results[0], "external_port", None) == 8048
    return elapsed / n * 1e6, done, dict(mapper.channel.drops.counts)


def announce_flood(n: int) -> tuple[float, int]:
    reactor = MemoryMulticastReactor()
    mapper = PCPMapper(reactor, GATEWAY, H1)
    renewals: list[float] = []
    mapper.observe_reset(lambda: renewals.append(reactor.seconds()))
    mapper.listen()
    listener = next(p for p in reactor.open_ports() if p.port == 5350)
    start = time.perf_counter()
    for i in range(n):
        if i % 1000 == 0:
            reactor.advance(1)  # the flood lasts n/1000 seconds of the clock
        data = struct.pack("!BBBBII12s", 2, 0x80, 0, 0, 0, 1000 + int(reactor.seconds()), b"")
        listener.deliver(data, (GATEWAY, 5351))
    elapsed = time.perf_counter() - start
    return elapsed / n * 1e6, len(renewals)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    cases = {
        "spoofed source": (lambda good, i: good, ("198.51.100.66", 5351)),
        "gateway, wrong port": (lambda good, i: good, (GATEWAY, 5350)),
        "another nonce": (lambda good, i: good[:24] + os.urandom(12) + good[36:],
                          (GATEWAY, 5351)),
        "truncated": (lambda good, i: good[: i % 60], (GATEWAY, 5351)),
        "oversized (1200 bytes)": (lambda good, i: good + bytes(1140), (GATEWAY, 5351)),
        "random bytes": (lambda good, i: os.urandom(4 + i % 80), (GATEWAY, 5351)),
    }  # fmt: skip
    print(f"{'case':28s} {'µs/datagram':>12s}  MAP completes  drops")
    for label, (make, source) in cases.items():
        cost, done, drops = flood(n, make, source)
        print(f"{label:28s} {cost:12.2f}  {str(done):13s}  {drops}")
    cost, renewals = announce_flood(n)
    seconds = n // 1000
    print(f"{'ANNOUNCE flood from gateway':28s} {cost:12.2f}  renewals {renewals} in"
          f" {seconds} s of flood (hold-off 5 s)")  # fmt: skip


if __name__ == "__main__":
    main()
