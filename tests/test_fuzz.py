"""
Fuzzing every parser with hypothesis: any input gives a value or a typed
error, never another exception. Budgets are fixed (FUZZ_EXAMPLES) and
reported in RELIABILITY.md; raise them with SSDP_UPNP_FUZZ_EXAMPLES.
"""

from __future__ import annotations

import os
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.python import usage

from helpers import ETH0, make_node, result_of
from ssdp_upnp.advertiser import SSDPAdvertiser
from ssdp_upnp.description import read_node_description
from ssdp_upnp.discovery import DiscoveryService
from ssdp_upnp.errors import (
    GatewayError,
    InvalidDescription,
    LegacyMessageError,
    MessageError,
    SSDPUPnPError,
    UnsafeXML,
)
from ssdp_upnp.igd import connection_services, parse_gateway_description, parse_port_mapping_list
from ssdp_upnp.legacy import decode_legacy
from ssdp_upnp.message import SearchRequest, decode, encode
from ssdp_upnp.soap import parse_response
from ssdp_upnp.tap import Options
from ssdp_upnp.testing import MemoryMulticastReactor

FUZZ_EXAMPLES = int(os.environ.get("SSDP_UPNP_FUZZ_EXAMPLES", "2000"))
FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))

# -- XML documents built from the vocabulary of the documents we read

NAMES = [
    "root", "device", "deviceList", "serviceList", "service", "serviceType", "serviceId",
    "controlURL", "SCPDURL", "eventSubURL", "URLBase", "deviceType", "UDN", "friendlyName",
    "Envelope", "Body", "Fault", "detail", "UPnPError", "errorCode", "errorDescription",
    "GetExternalIPAddressResponse", "NewExternalIPAddress", "PortMappingList",
    "PortMappingEntry", "NewExternalPort", "NewInternalPort", "NewProtocol",
    "NewInternalClient", "NewLeaseTime", "NewDescription", "node", "product", "network", "port",
]  # fmt: skip
PREFIXES = ["", "s:", "u:", "p:", "dev:"]
NS = (
    ' xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:u="urn:x" '
    'xmlns:p="urn:schemas-upnp-org:gw:WANIPConnection" xmlns:dev="urn:schemas-upnp-org:device-1-0"'
)
TEXTS = st.one_of(
    st.sampled_from(["", "1", "65535", "0", "-1", "TCP", "http://198.51.100.1:5000/x",
                     "/ctl", "//203.0.113.9/x", "urn:schemas-upnp-org:service:WANIPConnection:1",
                     "urn:schemas-upnp-org:service:WANIPConnection:2", "718", "12ab", "&amp;",
                     "&lt;x&gt;", "<![CDATA[x]]>"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="<&"), max_size=30),
)  # fmt: skip


def element(depth: int) -> st.SearchStrategy[str]:
    leaf = st.builds(lambda p, n, t: f"<{p}{n}>{t}</{p}{n}>", st.sampled_from(PREFIXES),
                     st.sampled_from(NAMES), TEXTS)  # fmt: skip
    if depth == 0:
        return leaf
    return st.one_of(
        leaf,
        st.builds(
            lambda p, n, kids: f"<{p}{n}>{''.join(kids)}</{p}{n}>",
            st.sampled_from(PREFIXES),
            st.sampled_from(NAMES),
            st.lists(element(depth - 1), max_size=4),
        ),
    )


def documents() -> st.SearchStrategy[bytes]:
    tree = st.builds(
        lambda p, n, kids: f'<{p}{n}{NS}>{"".join(kids)}</{p}{n}>',
        st.sampled_from(PREFIXES), st.sampled_from(NAMES), st.lists(element(4), max_size=5),
    )  # fmt: skip
    structured = tree.map(lambda t: t.encode())
    mutated = st.tuples(structured, st.integers(0, 2000), st.binary(max_size=8)).map(
        lambda x: x[0][: x[1]] + x[2] + x[0][x[1] :]
    )
    return st.one_of(structured, mutated, st.binary(max_size=300))


@FUZZ
@given(documents())
def test_gateway_descriptions(data: bytes) -> None:
    try:
        description = parse_gateway_description(data, "http://198.51.100.1:5000/rootDesc.xml")
    except GatewayError:
        return
    for service in connection_services(description):
        assert service.control_url.startswith("http://198.51.100.1")


@FUZZ
@given(documents())
def test_node_descriptions(data: bytes) -> None:
    try:
        read_node_description(data)
    except (UnsafeXML, InvalidDescription):
        pass


@FUZZ
@given(documents(), st.sampled_from(["GetExternalIPAddress", "AddPortMapping", "GetStatusInfo"]))
def test_soap_responses_and_faults(data: bytes, action: str) -> None:
    try:
        parse_response(data, action)
    except GatewayError:
        pass


@FUZZ
@given(documents())
def test_port_mapping_lists(data: bytes) -> None:
    try:
        parse_port_mapping_list(data.decode("utf-8", "replace"))
    except GatewayError:
        pass


ARGS = st.sampled_from([
    "--product", "--network", "--port", "--interface", "-i", "--max-age", "--ttl",
    "--no-advertise", "--no-discover", "--http-port", "--uuid", "--node-id", "--forward",
    "--lease", "--gateway-url", "--mx", "--search-interval", "--state-file", "--check-interval",
    "blockchain", "main", "8048", "0", "-1", "99999", "x y", "eth0", "8048:9/udp", "http://h/",
    "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "",
])  # fmt: skip


@FUZZ
@given(st.lists(st.one_of(ARGS, st.text(max_size=12)), max_size=8))
def test_twistd_options(argv: list[str]) -> None:
    try:
        Options().parseOptions(argv)
    except usage.UsageError:
        pass


# -- datagrams through the advertiser: after the run it still answers

DATAGRAM_PIECES = st.sampled_from([
    b"M-SEARCH * HTTP/1.1\r\n", b"NOTIFY * HTTP/1.1\r\n", b"HTTP/1.1 200 OK\r\n",
    b"HOST: 239.255.255.250:1900\r\n", b'MAN: "ssdp:discover"\r\n', b"MX: 3\r\n",
    b"MX: 99999999999\r\n", b"ST: ssdp:all\r\n", b"ST: upnp:rootdevice\r\n",
    b"ST: urn:ssdp-upnp-org:device:blockchain:1\r\n", b"ST: " + b"A" * 600 + b"\r\n",
    b"USN: uuid:" + b"x" * 300 + b"\r\n", b"\r\n", b"\n", b"\x00", b":", b"X: \x7f\r\n",
])  # fmt: skip


@FUZZ
@given(st.lists(st.one_of(DATAGRAM_PIECES, st.binary(max_size=40)), max_size=12))
def test_datagrams_into_the_advertiser(pieces: list[bytes]) -> None:
    data = b"".join(pieces)
    reactor = MemoryMulticastReactor()
    advertiser = SSDPAdvertiser(make_node(), 1, reactor, rng=random.Random(0))
    advertiser.serve_on(ETH0, "http://198.51.100.11:1/description.xml")
    port = reactor.listenMulticast(1900, advertiser, listenMultiple=True)
    advertiser.datagramReceived(data, ("198.51.100.12", 40000))
    reactor.advance(6)
    for sent in port.take():
        decode(sent.data)  # whatever it answered is well-formed
    # and it still answers a valid search
    advertiser.datagramReceived(encode(SearchRequest(st="upnp:rootdevice", mx=1)),
                                ("198.51.100.13", 40001))  # fmt: skip
    reactor.advance(1)
    assert [s.addr for s in port.take()] == [("198.51.100.13", 40001)]


@FUZZ
@given(st.binary(max_size=700))
def test_raw_bytes_decode(data: bytes) -> None:
    try:
        decode(data)
    except MessageError:
        pass


def test_typed_errors_share_one_base() -> None:
    assert issubclass(GatewayError, SSDPUPnPError) and issubclass(MessageError, SSDPUPnPError)


# -- the 0.1.0 decoder: any bytes give an answer or a typed error, and discovery survives them

LEGACY_PIECES = st.sampled_from([
    b"HTTP/1.1 200 OK\r\n", b"            ", b"\t", b"CACHE-CONTROL: max-age=1800\r\n",
    b"ST: private blockchain upnp 1.0\r\n", b"EXT:\r\n",
    b"LOCATION: blockchain_main://127.0.1.1:8048\r\n", b"LOCATION: blockchain_main://x:99999\r\n",
    b"LOCATION: a_b://" + b"h" * 300 + b":1\r\n", b"\r\n", b"\n", b":", b"\xff", b"_", b"://",
])  # fmt: skip


@FUZZ
@given(st.lists(st.one_of(LEGACY_PIECES, st.binary(max_size=40)), max_size=14))
def test_legacy_decoder(pieces: list[bytes]) -> None:
    data = b"".join(pieces)
    try:
        answer = decode_legacy(data)
    except LegacyMessageError:
        return
    assert 1 <= answer.port <= 65535 and "_" in answer.scheme


@FUZZ
@given(st.lists(st.one_of(LEGACY_PIECES, DATAGRAM_PIECES, st.binary(max_size=40)), max_size=14))
def test_datagrams_into_discovery_with_legacy(pieces: list[bytes]) -> None:
    reactor = MemoryMulticastReactor()
    service = DiscoveryService("blockchain", "main", reactor, [ETH0], rng=random.Random(0))
    service.startService()
    search = next(p for p in reactor.datagram_ports if p.port != 1900)
    search.deliver(b"".join(pieces), ("198.51.100.12", 40000))
    assert all(p.legacy or p.uuid for p in service.peers())
    result_of(service.stopService())
    assert reactor.getDelayedCalls() == []
