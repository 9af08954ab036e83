"""
Why can't my peers reach my node? One report of findings, each with a
verdict and, where something is wrong, what to do (C{ssdp-upnp diagnose}).

The findings are built by plain functions of what was observed
(L{interface_findings}, L{classify_external}, L{sockets_on_port}, ...);
L{diagnose} observes: it reads the interfaces, opens an SSDP port and
searches, finds the gateway and makes a short-lived test mapping, then
removes it. PCP, NAT-PMP and UPnP IGD (1 and 2) are each asked and the best
makes the test mapping; each public IPv6 address gets a test pinhole. IPv6
SSDP is named as not checked.
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
from ._multicast import GroupMembership, any_address, listen_multicast
from ._searcher import Searcher
from ._types import HTTPClient, ISSDPReactor
from .errors import NATPMPNotAuthorized, NotAuthorized, PCPNotAuthorized, SSDPUPnPError
from .igd import is_double_nat
from .lan import VIRTUAL_NAMES, Interface, Skipped, speakers
from .legacy import LegacyResponse
from .mapping import IPortMapper
from .message import SSDP_GROUP, SSDP_GROUP6, SearchResponse
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
    pinhole_for: Sequence[tuple[str, str]] = (),
    rng: random.Random | None = None,
) -> Report:
    """
    Observe and report.

    @param interfaces: those to check (chosen); C{skipped}: the others, with why.
    @param proc_net_udp: the text of C{/proc/net/udp} read before anything was opened.
    @param ipv6: the host's global IPv6 addresses.
    @param pinhole_for: (address, interface) of the public IPv6 addresses to
        open a test pinhole for.
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
        + "; IPv6 SSDP is not checked by this version",
    ))  # fmt: skip
    pinholes, reachable6 = await _pinhole_findings(
        reactor, pinhole_for, http, timeout, rng or random.SystemRandom()
    )
    findings.extend(pinholes)
    return Report(tuple(findings), reachable or reachable6)


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
    for family in sorted({i.family for i in interfaces}):
        try:
            listener = listen_multicast(reactor, 0, DatagramProtocol(), any_address(family),
                                        listen_multiple=True)  # fmt: skip
        except Exception as e:  # noqa: BLE001 - reported
            findings.append(Finding("multicast", Verdict.FAIL,
                                    f"cannot open an IPv{family} multicast port: {e}"))  # fmt: skip
            continue
        group = GroupMembership(listener)
        # IPv6: one membership per link (joined with its speaking address)
        for interface in [i for i in speakers(interfaces) if i.family == family]:
            await group.join(interface)
            name = SSDP_GROUP if family == 4 else SSDP_GROUP6
            where = f"{interface.name}" if family == 4 else f"{interface.name} ({interface.ip})"
            if interface in group.joined:
                findings.append(Finding("multicast", Verdict.OK, f"joined {name} on {where}"))
            else:
                findings.append(Finding(
                    "multicast", Verdict.FAIL, f"cannot join {name} on {where}",
                    "the interface has no multicast route, or is down",
                ))  # fmt: skip
        await group.close()
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


def method_finding(method: str, answer: IPortMapper | Exception) -> Finding:
    """What one way of forwarding said (C{answer}: its mapper, or its error)."""
    name = {"pcp": "PCP", "natpmp": "NAT-PMP", "upnp": "UPnP IGD"}[method]
    if isinstance(answer, Exception):
        return Finding(method, Verdict.INFO, f"{name} did not answer: {answer}")
    if method == "upnp":
        name = str(answer.method).upper()  # IGD2 or IGD1
    return Finding(method, Verdict.OK, f"{name} answered at {answer.where}")


async def _gateway_findings(
    reactor: ISSDPReactor,
    interfaces: Sequence[Interface],
    timeout: float,
    gateway_url: str | None,
    http: HTTPClient | None,
    rng: random.Random,
) -> tuple[list[Finding], bool]:
    from .nat_ladder import survey

    found = await survey(reactor, interfaces, http=http, description_url=gateway_url,
                         timeout=max(timeout, 3.0))  # fmt: skip
    findings = [method_finding(method, answer) for method, answer in found.items()]
    usable = [a for a in found.values() if not isinstance(a, Exception)]
    try:
        if not usable:
            why = "; ".join(f"{m}: {e}" for m, e in found.items())
            findings.append(Finding(
                "gateway", Verdict.FAIL, f"no UPnP IGD, PCP or NAT-PMP answered ({why})",
                "turn UPnP IGD or NAT-PMP/PCP on in the router, or forward the port by hand",
            ))  # fmt: skip
            return findings, False
        gateway = usable[0]
        detail = f"forwarding through {gateway.method}"
        if str(gateway.method).startswith("igd"):
            detail = f"{str(gateway.method).upper()} answered at {gateway.where}"
        findings.append(Finding("gateway", Verdict.OK, detail))
        more, reachable = await _mapping_findings(gateway, rng)
        return findings + more, reachable
    finally:
        for answer in usable:
            await answer.close()


async def _mapping_findings(gateway: IPortMapper, rng: random.Random) -> tuple[list[Finding], bool]:
    findings = []
    try:
        address = await gateway.get_external_ip()
    except SSDPUPnPError as e:
        if gateway.method != "pcp":
            findings.append(Finding("external address", Verdict.FAIL, f"not given: {e}"))
            return findings, False
        address = None  # PCP tells it with the test mapping
    port = rng.randint(40000, 49999)
    try:
        mapping = await gateway.add_mapping(port, port, "TCP", lease=TEST_LEASE,
                                            description="ssdp-upnp diagnose")  # fmt: skip
        if address is None:
            address = await gateway.get_external_ip()
        present = await gateway.get_mapping(mapping.external_port, "TCP")
        await gateway.delete_mapping(mapping.external_port, "TCP")
        gone = await gateway.get_mapping(mapping.external_port, "TCP")
    except (NotAuthorized, PCPNotAuthorized, NATPMPNotAuthorized) as e:
        findings.append(Finding("test mapping", Verdict.FAIL, f"refused: {e}",
                                "the router maps only to the host that asks (secure mode):"
                                " run this on the node's host, or allow mapping in the"
                                " router"))  # fmt: skip
        return findings, False
    except SSDPUPnPError as e:
        findings.append(Finding("test mapping", Verdict.FAIL, f"failed: {e}"))
        return findings, False
    verdict, detail, what_to_do = classify_external(address.ip)
    findings.append(Finding("external address", verdict, detail, what_to_do))
    if present is None or gone is not None:
        detail = f"TCP {port}: listed after adding {present is not None}, gone after removing"
        findings.append(Finding("test mapping", Verdict.FAIL, f"{detail} {gone is None}"))
        return findings, False
    findings.append(Finding("test mapping", Verdict.OK,
                            f"TCP {mapping.external_port} -> {mapping.internal_client}:{port}"
                            f" added through {gateway.method} (lease {mapping.lease} s) and"
                            " removed"))  # fmt: skip
    return findings, verdict is Verdict.OK


async def _pinhole_findings(
    reactor: ISSDPReactor,
    addresses: Sequence[tuple[str, str]],
    http: HTTPClient | None,
    timeout: float,
    rng: random.Random,
) -> tuple[list[Finding], bool]:
    """A short-lived test pinhole for each public IPv6 address (PCP, else IGD2)."""
    from .nat_ladder import PinholeLadder

    findings = []
    reachable = False
    for address, interface in addresses:
        ladder = PinholeLadder(reactor, address, interface, http=http, timeout=max(timeout, 3.0))
        port = rng.randint(40000, 49999)
        try:
            mapper = await ladder()
        except SSDPUPnPError as e:
            findings.append(Finding(
                "ipv6 pinhole", Verdict.WARN, f"[{address}]: no way to open a pinhole: {e}",
                "turn on PCP or UPnP IGD2 (IPv6 firewall control) in the router, or open"
                " the port in its IPv6 firewall by hand",
            ))  # fmt: skip
            continue
        try:
            await mapper.add_mapping(port, port, "TCP", lease=TEST_LEASE)
            await mapper.delete_mapping(port, "TCP")
        except SSDPUPnPError as e:
            refused = f"[{address}]:{port} refused by {mapper.method}: {e}"
            findings.append(Finding("ipv6 pinhole", Verdict.WARN, refused))
            continue
        finally:
            await mapper.close()
        reachable = True
        opened = f"[{address}]:{port} opened through {mapper.method} and closed"
        findings.append(Finding("ipv6 pinhole", Verdict.OK, opened))
    return findings, reachable
