"""Another stack's SSDP parser (async_upnp_client, Home Assistant's) reads what we send."""

from __future__ import annotations

import random

from async_upnp_client.ssdp import decode_ssdp_packet

from helpers import ETH0, make_node
from ssdp_upnp.advertiser import AdvertiserService
from ssdp_upnp.legacy import LEGACY_HEADER
from ssdp_upnp.message import SearchRequest, encode
from ssdp_upnp.testing import MemoryMulticastReactor

CLIENT = ("198.51.100.40", 40000)


def test_our_responses_and_notifies_parse_with_the_legacy_header_among_them() -> None:
    reactor = MemoryMulticastReactor()
    service = AdvertiserService(make_node(node_id="n-1"), 3, reactor, [ETH0], rng=random.Random(1))
    service.startService()
    reactor.advance(1)
    udp = next(p for p in reactor.datagram_ports if p.port == 1900)
    notifies = udp.take()
    udp.deliver(encode(SearchRequest(st="ssdp:all", mx=1)), CLIENT)
    reactor.advance(1)
    responses = udp.take()
    assert len(responses) == 4 and len(notifies) == 12
    parsed = [decode_ssdp_packet(s.data, None, CLIENT) for s in responses]
    assert {start for start, _ in parsed} == {"HTTP/1.1 200 OK"}
    for _, headers in parsed:
        assert headers["location"] == service.locations[ETH0.ip]
        assert headers["usn"].startswith(f"uuid:{service.node.uuid}")
        assert headers["bootid.upnp.org"] == "3"
    legacy = [h.get(LEGACY_HEADER.lower()) for _, h in parsed]
    assert legacy.count(f"blockchain_main://{ETH0.ip}:8048") == 1
    for start, headers in (decode_ssdp_packet(s.data, None, CLIENT) for s in notifies):
        assert start == "NOTIFY * HTTP/1.1" and headers["nts"] == "ssdp:alive"
        assert headers["nodeid.ssdp-upnp.org"] == "n-1"
