"""
Why can't my peers reach my node? One report of findings, each with a
verdict and, where something is wrong, what to do (C{ssdp-upnp diagnose}).

The findings are built by plain functions of what was observed
(L{interface_findings}, L{classify_external}, L{sockets_on_port}, ...);
L{diagnose} observes: it reads the interfaces, opens an SSDP port and
searches, finds the gateway and makes a short-lived test mapping, then
removes it. This version checks UPnP IGD (1 and 2) over IPv4; NAT-PMP, PCP
and IPv6 pinholes are named as not checked.
"""

from __future__ import annotations

import enum
import ipaddress
import random
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from twisted.internet.defer import gatherResults
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import deferLater
from twisted.logger import Logger

from ._inbound import DropLog, Inbound
from ._multicast import close_port
from ._searcher import Searcher
from ._types import HTTPClient, ISSDPReactor
from .errors import NotAuthorized, SSDPUPnPError
from .gateway_discovery import find_gateway
from .igd import is_double_nat
from .lan import VIRTUAL_NAMES, Interface, Skipped
from .legacy import LegacyResponse
from .message import SearchResponse
from .node import read_advertisement

SSDP_PORT_HEX = ":076C"  # 1900, as /proc/net/udp writes it
TEST_LEASE = 120
log = Logger()


class Verdict(enum.Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"
    INFO = "info"


@dataclass(frozen=True)
class Finding:
    topic: str
    verdict: Verdict
    detail: str
    advice: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        found = asdict(self)
        found["verdict"] = self.verdict.value
        return found


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]
    #: whether the node can be reached from outside by some method this version checks
    reachable: bool

    @property
    def exit_code(self) -> int:
        return 0 if self.reachable else 1


# -- pure parts


def interface_findings(chosen: Sequence[Interface], skipped: Sequence[Skipped]) -> list[Finding]:
    """Each of the host's IPv4 addresses: used, or skipped and why."""
    findings = []
    for interface in chosen:
        where = f"{interface.name} {interface.address}"
        if VIRTUAL_NAMES.match(interface.name):
            findings.append(Finding(
                "interfaces", Verdict.WARN,
                f"{where}: used, but its name marks a container bridge or a tunnel",
                "its peers are containers or VPN hosts, not your LAN: choose the LAN with"
                " --interface",
            ))  # fmt: skip
        else:
            findings.append(Finding("interfaces", Verdict.OK, f"{where}: used"))
    for skip in skipped:
        where = f"{skip.interface.name} {skip.interface.address}"
        findings.append(Finding("interfaces", Verdict.INFO, f"{where}: skipped ({skip.reason})"))
    if chosen and all(i.is_loopback for i in chosen):
        findings.append(Finding(
            "interfaces", Verdict.FAIL, "only loopback: no LAN interface with an IPv4 address",
            "connect the host to the LAN (or name its interface with --interface)",
        ))  # fmt: skip
    return findings


def sockets_on_port(proc_net_udp: str, port_hex: str = SSDP_PORT_HEX) -> int:
    """How many UDP sockets of C{/proc/net/udp} text are bound to the port (hex, C{:076C})."""
    count = 0
    for line in proc_net_udp.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 1 and fields[1].upper().endswith(port_hex):
            count += 1
    return count


def sharing_finding(sockets: int) -> Finding:
    if sockets == 0:
        return Finding("port 1900", Verdict.OK, "no other SSDP stack listens on this host")
    return Finding(
        "port 1900", Verdict.INFO,
        f"shared with {sockets} other socket(s) (another SSDP stack: miniupnpd, minissdpd,"
        " a media server...)",
        "fine: the port is shared; a stack that binds it alone would keep us out",
    )  # fmt: skip


def classify_external(ip: str) -> tuple[Verdict, str, str | None]:
    """The verdict on a gateway's external address: public, double NAT or CGNAT."""
    try:
        address = ipaddress.IPv4Address(ip)
    except ValueError:
        return (Verdict.FAIL, f"external address {ip[:40]!r} is not an IPv4 address", None)
    if address in ipaddress.IPv4Network("100.64.0.0/10"):
        return (Verdict.FAIL, f"external address {ip} is shared (CGNAT, 100.64/10)",
                "the ISP's NAT sits beyond your router: ask for a public address or use a"
                " relay")  # fmt: skip
    if is_double_nat(ip):  # RFC 1918, link-local, loopback, 0/8 (not documentation ranges)
        return (Verdict.FAIL, f"external address {ip} is private: a second router sits beyond"
                " this one (double NAT)", "forward the port on the outer router too, or put"
                " this router in bridge mode")  # fmt: skip
    return (Verdict.OK, f"external address {ip}", None)


def search_finding(product: str, nodes: Iterable[str], others: Iterable[str]) -> Finding:
    nodes, others = sorted(set(nodes)), sorted(set(others))
    if not nodes and not others:
        return Finding("search", Verdict.WARN, "our search was answered by nobody",
                       "no SSDP device on these interfaces, or multicast is filtered (a"
                       " firewall, IGMP snooping without a querier)")  # fmt: skip
    listed = ", ".join(nodes) or "none"
    detail = (f"our search was answered by {len(nodes)} {product} node(s) ({listed})"
              f" and {len(others)} other UPnP device(s)")  # fmt: skip
    return Finding("search", Verdict.OK, detail)


# -- observing


async def diagnose(
    reactor: ISSDPReactor,
    interfaces: Sequence[Interface],
    skipped: Sequence[Skipped],
    *,
    product: str = "blockchain",
    timeout: float = 3.0,
    gateway_url: str | None = None,
    http: HTTPClient | None = None,
    proc_net_udp: str = "",
    ipv6: Sequence[str] = (),
    rng: random.Random | None = None,
) -> Report:
    """
    Observe and report.

    @param interfaces: those to check (chosen); C{skipped}: the others, with why.
    @param proc_net_udp: the text of C{/proc/net/udp} read before anything was opened.
    @param ipv6: the host's global IPv6 addresses.
    @return: a Deferred-compatible coroutine of the L{Report} (nothing raises:
        every failure is a finding).
    """
    findings = interface_findings(interfaces, skipped)
    findings.append(sharing_finding(sockets_on_port(proc_net_udp)))
    findings.extend(await _ssdp_findings(reactor, interfaces, product, timeout))
    gateway_findings, reachable = await _gateway_findings(
        reactor, interfaces, timeout, gateway_url, http, rng or random.SystemRandom()
    )
    findings.extend(gateway_findings)
    findings.append(Finding(
        "ipv6", Verdict.INFO,
        (f"global IPv6 addresses: {', '.join(ipv6)}" if ipv6 else "no global IPv6 address")
        + "; IPv6 SSDP and pinholes are not checked by this version",
    ))  # fmt: skip
    return Report(tuple(findings), reachable)


async def _ssdp_findings(
    reactor: ISSDPReactor, interfaces: Sequence[Interface], product: str, timeout: float
) -> list[Finding]:
    findings = []
    nodes: list[str] = []
    others: list[str] = []

    def seen(message: Inbound, host: str, port: int, interface: Interface) -> None:
        if isinstance(message, LegacyResponse):
            if message.scheme.lower().startswith(f"{product.lower()}_"):
                nodes.append(f"{host} (0.1.0)")
            return
        if not isinstance(message, SearchResponse):
            return
        advertised = read_advertisement(message.extra)
        if advertised is not None and advertised.product == product:
            nodes.append(f"{host}:{advertised.port}")
        else:
            others.append(host)

    searcher = Searcher(reactor, interfaces, seen, DropLog(log, reactor), legacy=True)
    try:
        listener = reactor.listenMulticast(0, DatagramProtocol(), listenMultiple=True)
    except Exception as e:  # noqa: BLE001 - reported
        return [Finding("multicast", Verdict.FAIL, f"cannot open a multicast port: {e}")]
    try:
        for interface in interfaces:
            try:
                await listener.joinGroup("239.255.255.250", interface.ip)
                findings.append(Finding("multicast", Verdict.OK,
                                        f"joined 239.255.255.250 on {interface.name}"))  # fmt: skip
            except Exception as e:  # noqa: BLE001 - reported
                findings.append(Finding(
                    "multicast", Verdict.FAIL,
                    f"cannot join 239.255.255.250 on {interface.name}: {e}",
                    "the interface has no multicast route, or is down",
                ))  # fmt: skip
    finally:
        await close_port(listener)
    try:
        searcher.open()
        searcher.search(["ssdp:all"], 2)
        await deferLater(reactor, timeout, lambda: None)
    except Exception as e:  # noqa: BLE001 - reported
        findings.append(Finding("search", Verdict.FAIL, f"cannot search: {e}"))
        return findings
    finally:
        await gatherResults(searcher.close())
    findings.append(search_finding(product, nodes, others))
    return findings


async def _gateway_findings(
    reactor: ISSDPReactor,
    interfaces: Sequence[Interface],
    timeout: float,
    gateway_url: str | None,
    http: HTTPClient | None,
    rng: random.Random,
) -> tuple[list[Finding], bool]:
    findings = [Finding("nat-pmp/pcp", Verdict.INFO, "not checked by this version")]
    try:
        gateway = await find_gateway(reactor, interfaces, http=http, description_url=gateway_url,
                                     timeout=max(timeout, 3.0))  # fmt: skip
    except SSDPUPnPError as e:
        findings.append(Finding("gateway", Verdict.FAIL, f"no UPnP IGD: {e}",
                                "turn UPnP IGD on in the router, or forward the port by"
                                " hand"))  # fmt: skip
        return findings, False
    kind = "IGD2" if gateway.is_igd2 else "IGD1"
    findings.append(Finding("gateway", Verdict.OK,
                            f"{kind} answered: {gateway.service.service_type} at"
                            f" {gateway.service.control_url}"))  # fmt: skip
    try:
        address = await gateway.get_external_ip()
    except SSDPUPnPError as e:
        findings.append(Finding("external address", Verdict.FAIL, f"not given: {e}"))
        return findings, False
    verdict, detail, what_to_do = classify_external(address.ip)
    findings.append(Finding("external address", verdict, detail, what_to_do))
    port = rng.randint(40000, 49999)
    try:
        mapping = await gateway.add_mapping(port, port, "TCP", lease=TEST_LEASE,
                                            description="ssdp-upnp diagnose")  # fmt: skip
        present = await gateway.get_mapping(mapping.external_port, "TCP")
        await gateway.delete_mapping(mapping.external_port, "TCP")
        gone = await gateway.get_mapping(mapping.external_port, "TCP")
    except NotAuthorized as e:
        findings.append(Finding("test mapping", Verdict.FAIL, f"refused: {e}",
                                "the router maps only to the host that asks (secure mode):"
                                " run this on the node's host"))  # fmt: skip
        return findings, False
    except SSDPUPnPError as e:
        findings.append(Finding("test mapping", Verdict.FAIL, f"failed: {e}"))
        return findings, False
    if present is None or gone is not None:
        detail = f"TCP {port}: listed after adding {present is not None}, gone after removing"
        findings.append(Finding("test mapping", Verdict.FAIL, f"{detail} {gone is None}"))
        return findings, False
    findings.append(Finding("test mapping", Verdict.OK,
                            f"TCP {mapping.external_port} -> {mapping.internal_client}:{port}"
                            f" added (lease {mapping.lease} s) and removed"))  # fmt: skip
    return findings, verdict is Verdict.OK
