"""The diagnosis report: its pure parts, and a run against the in-memory router."""

from __future__ import annotations

import random

import pytest
from twisted.internet.defer import Deferred

from helpers import ETH0, result_of
from ssdp_upnp.diagnosis import (
    Report,
    Verdict,
    classify_external,
    diagnose,
    interface_findings,
    search_finding,
    sockets_on_port,
)
from ssdp_upnp.lan import Interface, Skipped, choose_interfaces
from ssdp_upnp.testing import FakeRouter, MemoryMulticastReactor, StubHTTPClient, igd_site

LO = Interface.parse("lo", "127.0.0.1/8")
DOCKER = Interface.parse("docker0", "172.17.0.1/16")
URL = "http://198.51.100.1:5000/rootDesc.xml"
PROC_NET_UDP = (
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
    "  12: 00000000:076C 00000000:0000 07 00000000:00000000 00:00000000 00000000     0\n"
    "  13: 0100007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0\n"
)


def test_interfaces_used_and_skipped_and_why() -> None:
    chosen, skipped = choose_interfaces([LO, ETH0, DOCKER])
    findings = interface_findings(chosen, skipped)
    verdicts = {f.detail.split(":")[0]: f.verdict for f in findings}
    assert verdicts == {"lo 127.0.0.1/8": Verdict.INFO, "eth0 198.51.100.11/24": Verdict.OK,
                        "docker0 172.17.0.1/16": Verdict.INFO}  # fmt: skip
    assert any("docker0" in f.detail and "container" in f.detail for f in findings)
    # chosen on purpose, it is used but warned about
    chosen, skipped = choose_interfaces([LO, ETH0, DOCKER], ["docker0"])
    (warned,) = [f for f in interface_findings(chosen, skipped) if f.verdict is Verdict.WARN]
    assert "docker0" in warned.detail
    (only_lo,) = [f for f in interface_findings([LO], []) if f.verdict is Verdict.FAIL]
    assert "only loopback" in only_lo.detail


def test_port_1900_sharing_and_external_addresses() -> None:
    assert sockets_on_port(PROC_NET_UDP) == 1 and sockets_on_port("header only\n") == 0
    assert classify_external("203.0.113.2")[0] is Verdict.OK
    assert "CGNAT" in classify_external("100.64.3.4")[1]
    assert "double NAT" in classify_external("192.168.1.2")[1]


def test_search_answers() -> None:
    assert search_finding("blockchain", [], []).verdict is Verdict.WARN
    found = search_finding("blockchain", ["198.51.100.12:8048"], ["198.51.100.1"] * 3)
    assert found.verdict is Verdict.OK and "1 blockchain node(s)" in found.detail
    assert "1 other UPnP device(s)" in found.detail


@pytest.fixture(autouse=True)
def no_host_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    """PCP/NAT-PMP ask the default gateway: never the host's in these tests."""
    from ssdp_upnp import gateway_discovery, nat_ladder
    from ssdp_upnp.errors import NoGatewayFound

    def none(interfaces: object) -> tuple[str, str]:
        raise NoGatewayFound("no gateway for PCP/NAT-PMP: no IPv4 default route")

    monkeypatch.setattr(nat_ladder, "udp_gateway", none)
    monkeypatch.setattr(gateway_discovery, "default_gateways", lambda: [])


def run(router: FakeRouter | None, **kw: object) -> tuple[Deferred[Report], MemoryMulticastReactor]:
    reactor = MemoryMulticastReactor()
    http = StubHTTPClient(igd_site(router)) if router is not None else None
    d = Deferred.fromCoroutine(diagnose(
        reactor, [ETH0], [Skipped(LO, "loopback")], timeout=1,
        gateway_url=URL if router else None, http=http, proc_net_udp=PROC_NET_UDP,
        rng=random.Random(1), **kw,  # type: ignore[arg-type]
    ))  # fmt: skip
    for _ in range(80):
        reactor.advance(0.1)
    return d, reactor


def test_a_reachable_node() -> None:
    router = FakeRouter()
    d, reactor = run(router)
    report = result_of(d)
    topics = {f.topic: f for f in report.findings}
    assert report.reachable and report.exit_code == 0
    assert topics["gateway"].verdict is Verdict.OK and "IGD2" in topics["gateway"].detail
    assert topics["test mapping"].verdict is Verdict.OK and router.table == {}
    assert topics["port 1900"].verdict is Verdict.INFO
    assert topics["ipv6"].verdict is Verdict.INFO
    assert reactor.open_ports() == []


@pytest.mark.parametrize(
    "router, why",
    [(FakeRouter(external_ip="192.168.0.2"), "double NAT"),
     (FakeRouter(requester="198.51.100.99"), "secure mode"),
     (None, "no UPnP IGD")],
)  # fmt: skip
def test_an_unreachable_node_says_why(router: FakeRouter | None, why: str) -> None:
    d, _ = run(router)
    report = result_of(d)
    assert not report.reachable and report.exit_code == 1
    failed = [f for f in report.findings if f.verdict is Verdict.FAIL]
    assert any(why in f.detail or why in (f.advice or "") for f in failed), failed


def test_a_pcp_gateway_is_found_and_used_for_the_test_mapping(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ssdp_upnp import nat_ladder
    from ssdp_upnp.testing import FakePortControlServer

    route = ("198.51.100.1", "198.51.100.11")
    monkeypatch.setattr(nat_ladder, "udp_gateway", lambda interfaces: route)
    reactor = MemoryMulticastReactor()
    server = FakePortControlServer(reactor)
    d = Deferred.fromCoroutine(diagnose(
        reactor, [ETH0], [], timeout=1, http=StubHTTPClient(igd_site(FakeRouter())),
        proc_net_udp=PROC_NET_UDP, rng=random.Random(1),
    ))  # fmt: skip
    for _ in range(80):
        server.answer()
        reactor.advance(0.1)
    report = result_of(d)
    topics = {f.topic: f for f in report.findings}
    assert topics["pcp"].verdict is Verdict.OK and "epoch" in topics["pcp"].detail
    assert topics["natpmp"].verdict is Verdict.OK
    assert topics["upnp"].verdict is Verdict.INFO  # nothing answered the SSDP search here
    assert topics["gateway"].detail == "forwarding through pcp"
    assert topics["test mapping"].verdict is Verdict.OK and "through pcp" in topics[
        "test mapping"].detail  # fmt: skip
    assert topics["external address"].verdict is Verdict.OK
    assert report.reachable and server.mappings == {}
    assert reactor.open_ports() == []
