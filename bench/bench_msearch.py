"""
M-SEARCH handling rate, in process (no sockets).

1. pure: decode an M-SEARCH, match its ST, encode every response;
2. protocol: SSDPAdvertiser.datagramReceived through the reply delay to the
   (in-memory) transport write, with the rate limit opened wide so that every
   search is answered.

Prints searches per second for ssdp:all (4 replies each) and for the product
ST (1 reply each). Usage: python bench/bench_msearch.py [SECONDS_PER_CASE]
"""

from __future__ import annotations

import random
import sys
import time

from ssdp_upnp.advertiser import AdvertiserLimits, SSDPAdvertiser
from ssdp_upnp.lan import Interface
from ssdp_upnp.message import SearchRequest, decode, encode
from ssdp_upnp.node import NodeInfo
from ssdp_upnp.search_target import match_search_target
from ssdp_upnp.testing import MemoryMulticastReactor

ETH0 = Interface.parse("eth0", "198.51.100.11/24")
NODE = NodeInfo.create("1b4e28ba-2fa1-11d2-883f-0016d3cca427", "blockchain", "main", 8048)


def rate(label: str, f: object, seconds: float) -> float:
    assert callable(f)
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(200):
            f()
        n += 200
    per_second = n / (time.perf_counter() - start)
    print(f"{label:55s} {per_second:12,.0f} searches/s  ({1e6 / per_second:6.1f} µs each)")
    return per_second


def pure_case(st: str) -> object:
    datagram = encode(SearchRequest(st=st, mx=2))
    advertiser = SSDPAdvertiser(NODE, 1, MemoryMulticastReactor())
    location = "http://198.51.100.11:40000/description.xml"

    def handle() -> None:
        search = decode(datagram)
        assert isinstance(search, SearchRequest)
        for answer in match_search_target(search.st, NODE.notification_types()):
            encode(advertiser.response_for(answer, location))

    return handle


class NoDelay(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return a


def protocol_case(st: str, unicast: bool = False) -> object:
    """
    The advertiser on the real reactor's timers (a heap; Clock's sorted list
    would dominate), writing to an in-memory port. No socket is opened: the
    reactor is never run, due calls are run with runUntilCurrent().
    """
    from twisted.internet import reactor

    unlimited = AdvertiserLimits(
        replies_per_second=1e12,
        reply_burst=1e12,
        max_pending=10**9,
        total_replies_per_second=1e12,
        total_reply_burst=1e12,
    )
    advertiser = SSDPAdvertiser(NODE, 1, reactor, rng=NoDelay(), limits=unlimited)
    advertiser.serve_on(ETH0, "http://198.51.100.11:40000/description.xml")
    port = MemoryMulticastReactor().listenMulticast(1900, advertiser, listenMultiple=True)
    if unicast:  # answered at once, no timer per reply
        datagram = encode(SearchRequest(st=st, mx=None, host="198.51.100.11:1900"))
    else:
        datagram = encode(SearchRequest(st=st, mx=1))
    count = [0]

    def handle() -> None:
        count[0] += 1
        advertiser.datagramReceived(datagram, ("198.51.100.12", 50000))
        if count[0] % 200 == 0:
            reactor.runUntilCurrent()  # type: ignore[attr-defined]
            assert len(port.sent) == 200 * len(match_search_target(st, NODE.notification_types()))
            port.sent.clear()

    return handle


def drop_case(kind: str) -> object:
    """A datagram the advertiser drops: from off the link, or malformed (counted each time)."""
    advertiser = SSDPAdvertiser(NODE, 1, MemoryMulticastReactor())
    advertiser.serve_on(ETH0, "http://198.51.100.11:40000/description.xml")
    if kind == "off-link":
        datagram, sender = encode(SearchRequest(st="ssdp:all", mx=1)), ("203.0.113.9", 1900)
    else:
        datagram, sender = b"M-SEARCH * HTTP/1.1\r\nHOST 239.255.255.250\r\n\r\n", (
            "198.51.100.12", 1900)  # fmt: skip
    reason = "off-link sender" if kind == "off-link" else "malformed"
    before = advertiser.drops.counts[reason]

    def handle() -> None:
        advertiser.datagramReceived(datagram, sender)

    def check() -> None:
        assert advertiser.drops.counts[reason] > before

    handle()
    check()
    return handle


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    print(f"python {sys.version.split()[0]}, {seconds:.0f} s per case")
    rate("pure decode+match+encode, ST ssdp:all (4 replies)", pure_case("ssdp:all"), seconds)
    rate("pure decode+match+encode, ST product (1 reply)", pure_case(NODE.device_type), seconds)
    print("replies go through callLater(0) and the reactor's timer heap:")
    rate("protocol to transport, ST ssdp:all (4 replies)", protocol_case("ssdp:all"), seconds)
    rate("protocol to transport, ST product (1 reply)", protocol_case(NODE.device_type), seconds)
    print("unicast searches (no MX) are answered at once:")
    rate("protocol to transport, unicast, ST product (1 reply)",
         protocol_case(NODE.device_type, unicast=True), seconds)  # fmt: skip
    print("dropped (counted, the log line rate-limited before it is formatted):")
    rate("off-link sender", drop_case("off-link"), seconds)
    rate("malformed datagram", drop_case("malformed"), seconds)


if __name__ == "__main__":
    main()
