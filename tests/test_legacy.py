"""ssdp-upnp 0.1.0 nodes beside ours: the lenient decoder, the header its clients read."""

from __future__ import annotations

import logging
import random
import re

import pytest

from helpers import ETH0, ETH1, decoded, make_node, result_of
from ssdp_upnp.advertiser import AdvertiserService
from ssdp_upnp.discovery import DiscoveryService, discover
from ssdp_upnp.errors import LegacyMessageError
from ssdp_upnp.legacy import LEGACY_HEADER, LegacyResponse, decode_legacy
from ssdp_upnp.message import SearchResponse, header
from ssdp_upnp.peers import Peer, PeerTable, RemovalReason, legacy_sighting
from ssdp_upnp.portmapping import Forward, PortMappingService
from ssdp_upnp.testing import FakeRouter, MemoryMulticastReactor, StubHTTPClient, igd_site

#: What ssdp-upnp 0.1.0's Server sends, byte for byte (its hostname resolved to 127.0.1.1).
SEED_ANSWER = (
    b"HTTP/1.1 200 OK\r\n            CACHE-CONTROL: max-age=1800\r\n"
    b"            ST: private blockchain upnp 1.0\r\n            EXT:\r\n"
    b"            LOCATION: blockchain_main://127.0.1.1:8048\r\n            "
)
OLD_NODE = "198.51.100.13"


def seed_client_finds(
    datagram: bytes, product: str = "blockchain", network: str = "main"
) -> tuple[str, str] | None:
    """What 0.1.0's Client does with an answer: read 1024 bytes, ASCII, its LOCATION regex."""
    text = datagram[:1024].decode("ASCII")
    found = re.compile(f"LOCATION: {product}_{network}://[ ]*(.+)\r\n", re.IGNORECASE).search(text)
    if found is None:
        return None
    ip, port = found.group(1).split(":")
    return (ip, port)


# -- the lenient decoder


def test_the_seed_answer_byte_for_byte() -> None:
    answer = decode_legacy(SEED_ANSWER)
    assert answer == LegacyResponse("blockchain_main", "127.0.1.1", 8048, 1800)
    assert answer.matches("blockchain", "main") and answer.matches("BlockChain", "MAIN")
    assert not answer.matches("blockchain", "testnet") and not answer.matches("block", "chain_main")


@pytest.mark.parametrize(
    "datagram",
    [
        SEED_ANSWER.replace(b"\r\n", b"\n"),
        SEED_ANSWER.replace(b"            ", b"\t"),
        SEED_ANSWER.replace(b"            ", b""),
        SEED_ANSWER + b"\r\n\r\n",
        SEED_ANSWER.replace(b"LOCATION: ", b"location:"),
        SEED_ANSWER.replace(b"127.0.1.1", b"node-7.lan"),
    ],
)
def test_variations_of_indentation_and_case(datagram: bytes) -> None:
    assert decode_legacy(datagram).port == 8048


def test_an_underscore_in_the_product_is_kept_for_matching() -> None:
    answer = decode_legacy(SEED_ANSWER.replace(b"blockchain_main", b"my_chain_test_net"))
    assert answer.matches("my_chain", "test_net") and answer.matches("my", "chain_test_net")


@pytest.mark.parametrize(
    "datagram, why",
    [
        (SEED_ANSWER + b"X: y\r\n" * 4000, "bytes"),
        (SEED_ANSWER + b"X: y\r\n" * 10, "lines"),
        (SEED_ANSWER.replace(b"main", "m\u00e4in".encode()), "ASCII"),
        (SEED_ANSWER.replace(b"200 OK", b"404 Not Found"), "200 OK"),
        (b"NOTIFY * HTTP/1.1\r\nLOCATION: blockchain_main://1.2.3.4:1\r\n", "200 OK"),
        (SEED_ANSWER.replace(b"EXT:", b"EXT"), "not a header"),
        (SEED_ANSWER.replace(b"            LOCATION: blockchain_main://127.0.1.1:8048\r\n", b""),
         "no LOCATION"),
        (SEED_ANSWER.replace(b"blockchain_main", b"http"), "product_network"),
        (SEED_ANSWER.replace(b":8048", b":0"), "port"),
        (SEED_ANSWER.replace(b":8048", b":70000"), "port"),
        (SEED_ANSWER.replace(b":8048", b":80a"), "product_network"),
        (SEED_ANSWER.replace(b"127.0.1.1", b"a b"), "product_network"),
        (SEED_ANSWER + b"LOCATION: blockchain_main://1.2.3.4:9\r\n", "twice"),
        (SEED_ANSWER.replace(b"EXT:", b"EXT: " + b"x" * 600), "too long"),
    ],
)  # fmt: skip
def test_anything_else_is_a_typed_error(datagram: bytes, why: str) -> None:
    with pytest.raises(LegacyMessageError, match=why):
        decode_legacy(datagram)


# -- answering 0.1.0 clients


def started(reactor: MemoryMulticastReactor, **kw: object) -> AdvertiserService:
    service = AdvertiserService(
        make_node(),
        1,
        reactor,
        [ETH0, ETH1],
        rng=random.Random(1),
        **kw,  # type: ignore[arg-type]
    )
    service.startService()
    reactor.advance(1)
    return service


def seed_search() -> bytes:
    """0.1.0's Client's search, as it sends it."""
    return (b'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\n'
            b"MX: 1\r\nST: ssdp:all\r\n\r\n")  # fmt: skip


@pytest.mark.parametrize("client, interface", [(("198.51.100.40", 40000), ETH0),
                                               (("10.9.3.3", 40001), ETH1)])  # fmt: skip
def test_one_response_per_search_leads_a_seed_client_to_us(
    client: tuple[str, int], interface: object
) -> None:
    reactor = MemoryMulticastReactor()
    started(reactor)
    udp = next(p for p in reactor.datagram_ports if p.port == 1900)
    udp.take()
    udp.deliver(seed_search(), client)
    reactor.advance(1)
    replies = udp.take()
    assert len(replies) == 4 and all(r.addr == client for r in replies)
    found = [seed_client_finds(r.data) for r in replies]
    ip = interface.ip  # type: ignore[attr-defined]
    assert [f for f in found if f is not None] == [(ip, "8048")]
    # and they stay well-formed SSDP for everyone else, within what 0.1.0 reads
    responses = decoded(replies)
    assert all(isinstance(r, SearchResponse) for r in responses)
    legacy = [header(r.extra, LEGACY_HEADER) for r in responses]
    assert legacy.count(f"blockchain_main://{ip}:8048") == 1 and legacy.count(None) == 3
    assert all(len(r.data) < 1024 and r.data.isascii() for r in replies)


def test_no_legacy_header_when_turned_off() -> None:
    reactor = MemoryMulticastReactor()
    started(reactor, legacy=False)
    udp = next(p for p in reactor.datagram_ports if p.port == 1900)
    udp.take()
    udp.deliver(seed_search(), ("198.51.100.40", 40000))
    reactor.advance(1)
    assert [seed_client_finds(r.data) for r in udp.take()] == [None] * 4


# -- finding 0.1.0 servers


def discovery(reactor: MemoryMulticastReactor, **kw: object) -> DiscoveryService:
    service = DiscoveryService(
        "blockchain",
        "main",
        reactor,
        [ETH0],
        rng=random.Random(3),
        **kw,  # type: ignore[arg-type]
    )
    service.startService()
    return service


def test_a_seed_server_is_a_legacy_peer_at_the_address_it_answered_from() -> None:
    reactor = MemoryMulticastReactor()
    service = discovery(reactor)
    port = next(p for p in reactor.datagram_ports if p.port != 1900)
    added: list[Peer] = []
    service.observe(type("O", (), {"peer_added": lambda self, p: added.append(p),
                                   "peer_removed": lambda self, p, r: None})())  # fmt: skip
    for _ in range(3):  # it answers each of our M-SEARCH, at once
        port.deliver(SEED_ANSWER, (OLD_NODE, 52000))
    port.deliver(SEED_ANSWER.replace(b"blockchain_main", b"otherchain_main"), (OLD_NODE, 52001))
    (peer,) = added
    assert (peer.host, peer.port, peer.legacy, peer.uuid) == (OLD_NODE, 8048, True, "")
    assert (peer.product, peer.network, peer.interface) == ("blockchain", "main", ETH0.ip)
    assert service.drops.counts["malformed"] == 0


def test_legacy_off_drops_it_as_malformed() -> None:
    reactor = MemoryMulticastReactor()
    service = discovery(reactor, legacy=False)
    port = next(p for p in reactor.datagram_ports if p.port != 1900)
    port.deliver(SEED_ANSWER, (OLD_NODE, 52000))
    assert service.peers() == [] and service.drops.counts["malformed"] == 1


def test_a_legacy_peer_goes_after_three_missed_search_rounds() -> None:
    reactor = MemoryMulticastReactor()
    service = discovery(reactor, search_interval=60)
    port = next(p for p in reactor.datagram_ports if p.port != 1900)
    removed: list[RemovalReason] = []
    service.observe(type("O", (), {
        "peer_added": lambda self, p: None,
        "peer_removed": lambda self, p, r: removed.append(r),
    })())  # fmt: skip
    port.deliver(SEED_ANSWER, (OLD_NODE, 52000))
    assert service.legacy_lifetime == 3 * (60 + 5) + 1 + 2 + 1
    # while it answers every round it stays
    for _ in range(10):
        reactor.advance(60)
        port.deliver(SEED_ANSWER, (OLD_NODE, 52000))
    assert removed == [] and len(service.peers()) == 1
    reactor.advance(3 * 65)  # three rounds without an answer
    assert removed == []
    reactor.advance(4)
    assert removed == [RemovalReason.EXPIRED] and service.peers() == []


def test_legacy_peers_are_keyed_by_address_and_bounded() -> None:
    table = PeerTable("blockchain", "main", max_peers=2)
    answer = decode_legacy(SEED_ANSWER)
    other_port = decode_legacy(SEED_ANSWER.replace(b":8048", b":9000"))
    events = []
    for a, host in ((answer, OLD_NODE), (answer, OLD_NODE), (other_port, OLD_NODE),
                    (answer, "198.51.100.14")):  # fmt: skip
        sighting = legacy_sighting(a, host, ETH0.ip, "blockchain", "main", 200)
        assert sighting is not None
        events += table.see(sighting, 0.0)
    # a third from a new source makes room: the crowded source gives one up
    assert [(type(e).__name__, e.peer.address) for e in events] == [
        ("PeerAdded", (OLD_NODE, 8048)), ("PeerAdded", (OLD_NODE, 9000)),
        ("PeerRemoved", (OLD_NODE, 8048)), ("PeerAdded", ("198.51.100.14", 8048)),
    ]  # fmt: skip
    assert legacy_sighting(answer, OLD_NODE, None, "blockchain", "testnet", 200) is None


def test_discover_and_the_facade_queue_get_legacy_peers() -> None:
    import queue

    from ssdp_upnp.ssdp import _QueueObserver

    reactor = MemoryMulticastReactor()
    d = discover(reactor, "blockchain", "main", interfaces=[ETH0], timeout=3)
    port = next(p for p in reactor.datagram_ports if p.port != 1900)
    port.deliver(SEED_ANSWER, (OLD_NODE, 52000))
    reactor.advance(3)
    (peer,) = result_of(d)
    assert peer.legacy and peer.address == (OLD_NODE, 8048)
    added: queue.Queue[tuple[str, int]] = queue.Queue()
    _QueueObserver(added, None).peer_added(peer)
    assert added.get_nowait() == (OLD_NODE, 8048)


# -- the seed API's names and its kept forwards


def test_the_0_1_0_names() -> None:
    from ssdp_upnp import ssdp, util

    assert util.gen_logger is ssdp.gen_logger
    assert ssdp.logger.name == "upnp" and ssdp.logger.level == logging.INFO
    assert util.gen_logger("seed-test").level == logging.INFO
    address = util.get_local_IP()
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", address) and not address.startswith("127.0.1.")


def test_added_forwards_are_kept_and_renewed_until_forgotten() -> None:
    reactor = MemoryMulticastReactor()
    router = FakeRouter(igd2=False)

    def find() -> object:
        from ssdp_upnp.gateway_discovery import find_gateway

        return find_gateway(reactor, [ETH0], http=StubHTTPClient(igd_site(router)),
                            description_url="http://198.51.100.1:5000/rootDesc.xml")  # fmt: skip

    keeper = PortMappingService(reactor, [], find, lease=120, check_interval=60)  # type: ignore[arg-type]
    mapping = result_of(keeper.add(Forward(8011, 8015)))
    assert (mapping.external_port, mapping.internal_port, mapping.lease) == (8015, 8011, 120)
    keeper.startService()
    adds = lambda: [a for n, a in router.calls if n == "AddPortMapping"]  # noqa: E731
    reactor.advance(0)
    for _ in range(5):
        reactor.advance(60)  # 300 s: more than twice the lease
    assert len(adds()) >= 3 and (8015, "TCP") in router.table
    keeper.forget(Forward(8011, 8015))
    count = len(adds())
    reactor.advance(600)
    assert len(adds()) == count
    # a refused forward is not kept
    router.refused[9000] = 729
    failed = keeper.add(Forward(9000, 9000))
    assert failed.result is not None and keeper.forwards == []
    failed.addErrback(lambda f: None)
