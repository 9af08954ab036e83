"""
ssdp-upnp: look at the LAN and the router from a shell::

    ssdp-upnp search [--st ST] [--timeout S] [--interface IP]
    ssdp-upnp peers --product P [--network N]
    ssdp-upnp advertise --product P --port N [--network N] [--duration S]
    ssdp-upnp nat status | external-ip | list [--method auto|pcp|natpmp|upnp]
    ssdp-upnp nat add INTERNAL [EXTERNAL] [--udp] [--lease S] [--method M]
    ssdp-upnp nat remove EXTERNAL [--udp]
    ssdp-upnp nat pinhole add PORT [--udp] [--lease S] | status | remove UNIQUE_ID
    ssdp-upnp diagnose [--product P] [--gateway-url URL]

Tables for people, C{--json} for scripts. Exit status: 0 done, 1 failed (no
gateway, a refusal, nothing in time), 2 bad usage. Built on the Deferred API
and C{task.react}.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast

from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.interfaces import IReactorCore
from twisted.internet.task import LoopingCall, deferLater, react
from twisted.logger import Logger

from ._bounded import int_option
from ._inbound import DropLog, Inbound
from ._searcher import Searcher
from ._types import ISSDPReactor
from .discovery import discover
from .errors import (
    ConfigurationError,
    MessageError,
    NoGatewayFound,
    NoSuchEntryInArray,
    NotAuthorized,
    SSDPUPnPError,
)
from .lan import Interface, is_public_ipv6, lan_choice, lan_interfaces, public_ipv6_addresses
from .legacy import LegacyResponse
from .mapping import check_method
from .message import Notify, SearchRequest, SearchResponse, decode, encode
from .node import check_network, check_node_id, check_product, check_uuid
from .node_service import NodeConfig, NodeService

if TYPE_CHECKING:  # the NAT side loads only for the commands that use it
    from .gateway import Gateway
    from .mapping import IPortMapper

log = Logger()
T = TypeVar("T")


class _Progress:
    """A one-line progress indicator on stderr while a command waits (only on a terminal)."""

    def __init__(self, reactor: ISSDPReactor, args: argparse.Namespace, what: str) -> None:
        self.reactor = reactor
        self.what = what
        self.shown = not args.json and sys.stderr.isatty()
        self.start = reactor.seconds()
        self.loop: LoopingCall | None = None

    def _show(self) -> None:
        sys.stderr.write(f"\r{self.what}... {self.reactor.seconds() - self.start:.1f}s ")
        sys.stderr.flush()

    def __enter__(self) -> _Progress:
        if self.shown:
            self.loop = LoopingCall(self._show)
            self.loop.clock = self.reactor
            self.loop.start(0.25)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.loop is not None and self.loop.running:
            self.loop.stop()
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()


def _table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    if not rows:
        return "(none)"
    cells = [[str(row.get(c, "") if row.get(c) is not None else "") for c in columns]
             for row in rows]  # fmt: skip
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def _emit(args: argparse.Namespace, data: Any, columns: Sequence[str] | None = None) -> None:
    if args.json:
        print(json.dumps(data, indent=None, sort_keys=True))
    elif columns is not None:
        print(_table(data, columns))
    elif isinstance(data, dict):
        width = max(len(k) for k in data)
        for key, value in data.items():
            print(f"{key.ljust(width)}  {value}")
    else:
        print(data)


def _interfaces(args: argparse.Namespace) -> list[Interface]:
    return lan_interfaces(args.interface or [], args.exclude_interface or [])


def _arg(check: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse type from a check that raises L{ConfigurationError}: one line, exit 2."""

    def parse(text: str) -> T:
        try:
            return check(text)
        except (ConfigurationError, MessageError) as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    parse.__name__ = getattr(check, "__name__", "value")
    return parse


def _int_arg(name: str, low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number in low..high (the parser behind every option)."""
    return _arg(int_option(name, low, high))


def _seconds(name: str, low: float, high: float, zero: bool = False) -> Callable[[str], float]:
    """An argparse type: seconds in (low..high], or 0 too with C{zero}."""

    def check(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ConfigurationError(f"{name} must be a number of seconds, not {text!r}") from None
        if (zero and value == 0) or (math.isfinite(value) and low < value <= high):
            return value
        raise ConfigurationError(f"{name} must be over {low:g} and at most {high:g}, not {text}")

    return _arg(check)


def _search_target(text: str) -> str:
    """An ST our own nodes would take (decoded back from the M-SEARCH it makes)."""
    if not text:
        raise ConfigurationError("--st must not be empty")
    sent = decode(encode(SearchRequest(st=text, mx=2)))
    assert isinstance(sent, SearchRequest)
    return sent.st


def _gateway_url(text: str) -> str:
    if not text.startswith("http://"):
        raise ConfigurationError(f"--gateway-url {text!r} is not an http:// URL")
    return text


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _global_ipv6() -> list[str]:
    import ifaddr

    found = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, tuple) and ipaddress.IPv6Address(ip.ip[0]).is_global:
                found.append(f"{ip.ip[0]} ({adapter.nice_name})")
    return found


async def _diagnose(reactor: ISSDPReactor, args: argparse.Namespace) -> None:
    from .diagnosis import diagnose

    sharing = _read("/proc/net/udp")  # before we open anything of our own
    with _Progress(reactor, args, "diagnosing"):
        chosen, skipped = lan_choice(args.interface or [], args.exclude_interface or [])
        report = await diagnose(
            reactor, chosen, skipped, product=args.product,
            timeout=args.timeout, gateway_url=args.gateway_url, proc_net_udp=sharing,
            ipv6=_global_ipv6(), pinhole_for=public_ipv6_addresses({i.name for i in chosen}),
        )  # fmt: skip
    if args.json:
        print(json.dumps({"reachable": report.reachable,
                          "findings": [f.as_dict() for f in report.findings]}))  # fmt: skip
    else:
        for finding in report.findings:
            print(f"{finding.verdict.value.upper():5} {finding.topic:16} {finding.detail}")
            if finding.advice:
                print(f"{'':22}-> {finding.advice}")
        print("reachable from outside: " + ("yes" if report.reachable else "no"))
    if not report.reachable:
        raise SystemExit(1)


def _short_type(st: str) -> str:
    """What a search target names, short: C{device:blockchain:1} for the long URN."""
    if st.startswith("urn:"):
        parts = st.split(":")
        return ":".join(parts[2:]) if len(parts) >= 5 else st
    return st


def _search_rows(found: Sequence[dict[str, Any]], verbose: bool) -> tuple[list[dict[str, Any]],
                                                                          list[str]]:  # fmt: skip
    """The table of C{search}: narrow (host, type, uuid) unless C{verbose}."""
    if verbose:
        return list(found), ["host", "st", "usn", "location", "server"]
    rows = []
    for row in found:
        uuid = row["usn"][5:].split("::", 1)[0] if row["usn"].lower().startswith("uuid:") else ""
        kind = "ssdp-upnp 0.1.0 node" if row["seen_as"] == "legacy" else _short_type(row["st"])
        rows.append({"host": row["host"], "type": kind[:44], "uuid": uuid[:36]})
    return rows, ["host", "type", "uuid"]


async def _search(reactor: ISSDPReactor, args: argparse.Namespace) -> None:
    found: dict[tuple[str, str], dict[str, Any]] = {}

    def seen(message: Inbound, host: str, port: int, interface: Interface) -> None:
        if isinstance(message, LegacyResponse):
            location = f"{message.scheme}://{message.location_host}:{message.port}"
            found.setdefault((location, host), {
                "usn": "", "st": "", "location": location, "host": host,
                "server": "ssdp-upnp 0.1.0", "seen_as": "legacy",
            })  # fmt: skip
            return
        if isinstance(message, SearchResponse):
            usn, st, kind = message.usn, message.st, "response"
        elif isinstance(message, Notify):
            usn, st, kind = message.usn, message.nt, message.nts.value
        else:
            return
        key = (usn, host)
        if key not in found:
            found[key] = {"usn": usn, "st": st, "location": message.location, "host": host,
                          "server": message.server, "seen_as": kind}  # fmt: skip

    searcher = Searcher(reactor, _interfaces(args), seen, DropLog(log, reactor),
                        legacy=not args.no_legacy)  # fmt: skip
    searcher.open()
    searcher.search([args.st], args.mx)
    try:
        with _Progress(reactor, args, "searching"):
            await deferLater(reactor, args.timeout, lambda: None)
    finally:
        await gatherResults(searcher.close())
    rows = sorted(found.values(), key=lambda r: (r["host"], r["usn"]))
    if args.json:
        _emit(args, rows)
    else:
        _emit(args, *_search_rows(rows, args.verbose))


async def _peers(reactor: ISSDPReactor, args: argparse.Namespace) -> None:
    with _Progress(reactor, args, "looking for peers"):
        peers = await discover(reactor, args.product, args.network, interfaces=_interfaces(args),
                               timeout=args.timeout, mx=args.mx, wanted=args.wanted,
                               legacy=not args.no_legacy)  # fmt: skip
    rows = [{"host": p.host, "port": p.port, "uuid": p.uuid, "node_id": p.node_id,
             "network": p.network, "location": p.location,
             "external": f"{p.external[0]}:{p.external[1]}" if p.external else None,
             "external6": ", ".join(f"[{ip}]:{port}" for ip, port in p.external6) or None}
            for p in peers]  # fmt: skip
    for row, peer in zip(rows, peers, strict=True):
        if peer.legacy:  # a 0.1.0 node has no uuid: say what it is instead
            row["legacy"] = True
            if not args.json:
                row["uuid"] = "(legacy 0.1.0 node)"
    _emit(args, rows, ["host", "port", "uuid", "node_id", "external", "location"])


async def _advertise(reactor: ISSDPReactor, args: argparse.Namespace) -> None:
    config = NodeConfig(
        args.product, args.network, args.port, node_id=args.node_id, uuid=args.uuid,
        state_file=args.state_file, interfaces=tuple(args.interface or ()), discover=False,
        legacy=not args.no_legacy,
    )  # fmt: skip
    service = NodeService(config, reactor)
    assert service.node is not None and service.advertiser is not None
    service.startService()
    cast(IReactorCore, reactor).addSystemEventTrigger("before", "shutdown", service.stopService)
    _emit(args, {"uuid": service.node.uuid, "boot_id": service.boot_id,
                 "locations": sorted(service.advertiser.locations.values())})  # fmt: skip
    sys.stdout.flush()
    if args.duration:
        await deferLater(reactor, args.duration, lambda: None)
        await service.stopService()
    else:
        await Deferred()  # until the process is told to stop (SIGINT, SIGTERM)


def _udp_method(mapper: IPortMapper) -> bool:
    return str(mapper.method) in ("pcp", "natpmp")


async def _mapper(reactor: ISSDPReactor, args: argparse.Namespace, method: str) -> IPortMapper:
    from .nat_ladder import find_mapper

    with _Progress(reactor, args, "looking for the gateway"):
        return await find_mapper(
            reactor, _interfaces(args), method=method, description_url=args.gateway_url,
            timeout=args.timeout,
        )  # fmt: skip


def _method_row(method: str, answer: IPortMapper | Exception) -> dict[str, Any]:
    if isinstance(answer, Exception):
        return {"method": method, "answered": False, "detail": str(answer)}
    row: dict[str, Any] = {"method": str(answer.method), "answered": True,
                           "local_address": answer.local_address}  # fmt: skip
    if method == "upnp":
        gateway = cast("Gateway", answer)
        row["detail"] = f"{gateway.service.service_type} at {gateway.description.url}"
    else:
        epoch = getattr(answer, "epoch", None)
        last = epoch.last if epoch is not None else None
        row["detail"] = f"gateway {getattr(answer, 'gateway', '?')}:5351" + (
            f", epoch {last[0]}" if last else "")  # fmt: skip
    return row


async def _nat_status(reactor: ISSDPReactor, args: argparse.Namespace) -> None:
    from .nat_ladder import survey

    with _Progress(reactor, args, "asking the gateway (PCP, NAT-PMP, UPnP)"):
        found = await survey(reactor, _interfaces(args), description_url=args.gateway_url,
                             timeout=args.timeout)  # fmt: skip
    try:
        rows = [_method_row(method, answer) for method, answer in found.items()]
        usable = [a for a in found.values() if not isinstance(a, Exception)]
        if not usable:
            raise NoGatewayFound("no method answered: " + "; ".join(
                f"{m}: {e}" for m, e in found.items()))  # fmt: skip
        address = None
        for mapper in usable:
            try:
                address = await mapper.get_external_ip()
                break
            except SSDPUPnPError as e:
                log.info("{method}: no external address: {error}", method=mapper.method, error=e)
        for row, answer in zip(rows, found.values(), strict=True):
            if row["answered"] and str(row["method"]).startswith("igd"):
                status = await cast("Gateway", answer).get_status()
                row.update(status=status.status, uptime=status.uptime)
        report = {
            "methods": rows,
            "best": str(usable[0].method),
            "local_address": usable[0].local_address,
            "external_ip": address.ip if address else None,
            "double_nat": address.double_nat if address else None,
        }
    finally:
        for answer in found.values():
            if not isinstance(answer, Exception):
                await answer.close()
    if args.json:
        _emit(args, report)
        return
    print(_table(rows, ["method", "answered", "detail"]))
    print(f"best method: {report['best']}; external address: {report['external_ip']}"
          + (" (double NAT or CGNAT: not reachable from the internet)"
             if report["double_nat"] else ""))  # fmt: skip


def _pinhole_addresses(args: argparse.Namespace) -> list[tuple[str, str]]:
    interfaces = _interfaces(args)
    names = {i.name for i in interfaces}
    found = public_ipv6_addresses(names)
    if args.address is not None:
        found = [(a, n) for a, n in found if a == args.address] or [
            (args.address, next(iter(sorted(names)), ""))]  # fmt: skip
    if not found:
        raise NoGatewayFound(f"no public IPv6 address on {', '.join(sorted(names)) or 'any'}")
    return found


async def _pinhole(reactor: ISSDPReactor, args: argparse.Namespace) -> None:
    from .firewall import FirewallControl
    from .nat_ladder import PinholeLadder

    rows = []
    for address, interface in _pinhole_addresses(args):
        method = getattr(args, "method", "auto")
        if args.pinhole_command in ("remove", "status"):
            method = "upnp" if args.pinhole_command == "remove" else "auto"
        ladder = PinholeLadder(reactor, address, interface, method=method, timeout=args.timeout)
        with _Progress(reactor, args, f"asking the router about [{address}]"):
            mapper = await ladder()
        try:
            row: dict[str, Any] = {"address": address, "method": str(mapper.method)}
            if args.pinhole_command == "add":
                protocol = "UDP" if args.udp else "TCP"
                mapping = await mapper.add_mapping(args.port, args.port, protocol,
                                                   lease=args.lease)  # fmt: skip
                row.update(port=mapping.external_port, protocol=protocol, lease=mapping.lease)
                if isinstance(mapper, FirewallControl):
                    row["unique_id"] = mapper.held[(protocol, args.port)].unique_id
            elif args.pinhole_command == "remove":
                await cast(FirewallControl, mapper).delete_pinhole(args.unique_id)
                row["removed"] = args.unique_id
            elif isinstance(mapper, FirewallControl):
                status = await mapper.get_firewall_status()
                row.update(firewall_enabled=status.enabled,
                           inbound_pinhole_allowed=status.inbound_pinhole_allowed)  # fmt: skip
            else:
                row.update(firewall_enabled=None, inbound_pinhole_allowed=True)
        finally:
            await mapper.close()
        rows.append(row)
    columns = {
        "add": ["address", "port", "protocol", "lease", "method", "unique_id"],
        "remove": ["address", "removed", "method"],
        "status": ["address", "method", "firewall_enabled", "inbound_pinhole_allowed"],
    }
    _emit(args, rows, columns[args.pinhole_command])


async def _nat(reactor: ISSDPReactor, args: argparse.Namespace) -> None:
    if args.nat_command == "status":
        await _nat_status(reactor, args)
        return
    if args.nat_command == "pinhole":
        await _pinhole(reactor, args)
        return
    # PCP and NAT-PMP cannot list, and delete only what the same process mapped
    method = "upnp" if args.nat_command in ("list", "remove") else args.method
    mapper = await _mapper(reactor, args, method)
    try:
        await _nat_command(args, mapper)
    finally:
        await mapper.close()


async def _nat_command(args: argparse.Namespace, gateway: IPortMapper) -> None:
    protocol = "UDP" if getattr(args, "udp", False) else "TCP"
    if args.nat_command == "external-ip":
        address = await gateway.get_external_ip()
        _emit(args, {**asdict(address), "method": gateway.method} if args.json else address.ip)
    elif args.nat_command == "list":
        rows = [{**asdict(m), "method": gateway.method}
                for m in await cast("Gateway", gateway).list_mappings()]  # fmt: skip
        _emit(args, rows, ["protocol", "external_port", "internal_client", "internal_port",
                           "lease", "description", "method"])  # fmt: skip
    elif args.nat_command == "add":
        external = args.external or args.internal
        lease = args.lease
        if lease == 0 and _udp_method(gateway):
            lease = 604800  # PCP and NAT-PMP have no permanent mappings: a week
        mapping = await gateway.add_mapping(external, args.internal, protocol, lease=lease,
                                            description=args.description)  # fmt: skip
        address = await gateway.get_external_ip()
        _emit(args, {**asdict(mapping), "external_ip": address.ip, "method": gateway.method})
    elif args.nat_command == "remove":
        existing = await gateway.get_mapping(args.external, protocol)
        if existing is None:
            raise NoSuchEntryInArray(714, f"no {protocol} mapping of port {args.external}",
                                     "remove")  # fmt: skip
        if existing.internal_client != gateway.local_address:
            raise NotAuthorized(606, f"{protocol} {args.external} is forwarded to"
                                f" {existing.internal_client}, not to us", "remove")  # fmt: skip
        await gateway.delete_mapping(args.external, protocol)
        _emit(args, {"removed": asdict(existing)} if args.json else
              f"removed {protocol} {args.external}")  # fmt: skip


class _Parser(argparse.ArgumentParser):
    """Usage errors in one line (exit 2), pointing at --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog="ssdp-upnp", description=__doc__.split("\n")[1])
    top.add_argument("--json", action="store_true", help="print JSON instead of tables")
    sub = top.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser, timeout: float) -> None:
        p.add_argument(
            "--interface",
            "-i",
            action="append",
            help="interface name or IPv4 address (repeatable; default: all LAN)",
        )
        p.add_argument(
            "--exclude-interface",
            action="append",
            help="interface name or IPv4 address never to use (repeatable)",
        )
        p.add_argument("--timeout", type=_seconds("--timeout", 0, 3600, zero=timeout == 0),
                       default=timeout, help="seconds to wait")  # fmt: skip
        p.add_argument(
            "--no-legacy",
            action="store_true",
            help="neither answer nor find ssdp-upnp 0.1.0 nodes (on by default)",
        )
        p.add_argument(
            "--json",
            action="store_true",
            default=argparse.SUPPRESS,
            help="print JSON instead of tables",
        )

    search = sub.add_parser("search", help="list every SSDP answer on the LAN")
    common(search, 3.0)
    search.add_argument("--st", default="ssdp:all", type=_arg(_search_target),
                        help="search target (default ssdp:all)")  # fmt: skip
    search.add_argument("--verbose", "-v", action="store_true",
                        help="every column (ST, USN, LOCATION, SERVER)")  # fmt: skip
    search.add_argument("--mx", type=_int_arg("--mx", 1, 5), default=2, metavar="1-5")

    peers = sub.add_parser("peers", help="find the nodes of a product and network")
    common(peers, 3.0)
    peers.add_argument("--product", required=True, type=_arg(check_product))
    peers.add_argument("--network", default="main", type=_arg(check_network))
    peers.add_argument("--mx", type=_int_arg("--mx", 1, 5), default=2, metavar="1-5")
    peers.add_argument("--wanted", type=_int_arg("--wanted", 1, 1024),
                       help="return as soon as this many peers are known")  # fmt: skip

    adv = sub.add_parser("advertise", help="advertise a node until stopped")
    common(adv, 0.0)
    adv.add_argument("--product", required=True, type=_arg(check_product))
    adv.add_argument("--port", type=_int_arg("--port", 1, 65535), required=True)
    adv.add_argument("--network", default="main", type=_arg(check_network))
    adv.add_argument("--node-id", type=_arg(check_node_id))
    adv.add_argument("--uuid", type=_arg(check_uuid))
    adv.add_argument("--state-file")
    adv.add_argument("--duration", type=_seconds("--duration", 0, 10**7, zero=True), default=0,
                     help="stop after S seconds")  # fmt: skip

    diag = sub.add_parser("diagnose", help="why peers cannot reach this node: one report")
    common(diag, 3.0)
    diag.add_argument("--product", default="blockchain", type=_arg(check_product))
    diag.add_argument("--gateway-url", type=_arg(_gateway_url))

    def method_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--method", type=_arg(check_method), default="auto",
                       help="how to talk to the gateway: auto (PCP, then NAT-PMP, then UPnP IGD),"
                       " pcp, natpmp or upnp")  # fmt: skip

    nat = sub.add_parser("nat", help="the gateway (router): PCP, NAT-PMP or UPnP IGD")
    nat_sub = nat.add_subparsers(dest="nat_command", required=True)
    for name, text in (("status", "connection status and external address"),
                       ("external-ip", "the external address"),
                       ("list", "every port mapping")):  # fmt: skip
        p = nat_sub.add_parser(name, help=text)
        common(p, 5.0)
        p.add_argument("--gateway-url", type=_arg(_gateway_url),
                       help="the gateway's description URL (skips SSDP)")  # fmt: skip
        method_option(p)
    add = nat_sub.add_parser("add", help="forward a port to this host")
    common(add, 5.0)
    add.add_argument("--gateway-url", type=_arg(_gateway_url))
    method_option(add)
    add.add_argument("internal", type=_int_arg("INTERNAL", 1, 65535))
    add.add_argument("external", type=_int_arg("EXTERNAL", 1, 65535), nargs="?")
    add.add_argument("--udp", action="store_true")
    add.add_argument("--lease", type=_int_arg("--lease", 0, 604800), default=3600)
    add.add_argument("--description", default="ssdp-upnp")
    remove = nat_sub.add_parser("remove", help="remove a forward of this host")
    common(remove, 5.0)
    remove.add_argument("--gateway-url", type=_arg(_gateway_url))
    method_option(remove)
    remove.add_argument("external", type=_int_arg("EXTERNAL", 1, 65535))
    remove.add_argument("--udp", action="store_true")

    pin = nat_sub.add_parser("pinhole", help="the router's IPv6 firewall: pinholes to this host")
    pin_sub = pin.add_subparsers(dest="pinhole_command", required=True)
    for name, text in (("add", "open PORT to this host's public IPv6 address"),
                       ("status", "what opens pinholes here (PCP, IGD2 firewall control)"),
                       ("remove", "close an IGD2 pinhole by its UniqueID")):  # fmt: skip
        p = pin_sub.add_parser(name, help=text)
        common(p, 5.0)
        p.add_argument("--address", type=_arg(_public_ipv6),
                       help="the public IPv6 address (default: each of this host's)")  # fmt: skip
        if name == "add":
            p.add_argument("port", type=_int_arg("PORT", 1, 65535))
            p.add_argument("--udp", action="store_true")
            p.add_argument("--lease", type=_int_arg("--lease", 1, 86400), default=3600)
            p.add_argument("--method", type=_arg(_pinhole_method), default="auto",
                           help="auto (PCP, else IGD2), pcp or upnp")  # fmt: skip
        if name == "remove":
            p.add_argument("unique_id", type=_int_arg("UNIQUE_ID", 0, 65535))
    return top


def _public_ipv6(text: str) -> str:
    if not is_public_ipv6(text):
        raise ConfigurationError(f"{text!r} is not a public IPv6 address")
    return str(ipaddress.IPv6Address(text))


def _pinhole_method(text: str) -> str:
    method = check_method(text)
    if method == "natpmp":
        raise ConfigurationError("NAT-PMP opens no IPv6 pinholes (auto, pcp or upnp)")
    return method


COMMANDS = {"search": _search, "peers": _peers, "advertise": _advertise, "nat": _nat,
            "diagnose": _diagnose}  # fmt: skip


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """
    The arguments, every one checked before anything is opened (the
    interfaces named are looked up too): exit 2 with one line otherwise.
    """
    top = parser()
    args = top.parse_args(argv)
    try:
        _interfaces(args)
    except ConfigurationError as e:
        top.error(str(e))
    if args.command == "nat" and args.nat_command in ("list", "remove") and args.method in (
        "pcp", "natpmp",
    ):  # fmt: skip
        top.error(
            f"nat {args.nat_command} needs UPnP IGD: PCP and NAT-PMP cannot list mappings and"
            " delete only what the same process mapped (theirs end with their lifetime)"
        )
    return args


def _fail(args: argparse.Namespace, error: Exception) -> NoReturn:
    if args.json:
        message = {"error": type(error).__name__, "message": str(error)}
        print(json.dumps(message, sort_keys=True), file=sys.stderr)
    else:
        print(f"ssdp-upnp: {error}", file=sys.stderr)
    raise SystemExit(1)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)

    async def run(reactor: ISSDPReactor) -> None:
        try:
            await COMMANDS[args.command](reactor, args)
        except (SSDPUPnPError, ConfigurationError, OSError) as e:
            _fail(args, e)

    react(lambda reactor: Deferred.fromCoroutine(run(cast(ISSDPReactor, reactor))))


if __name__ == "__main__":
    main()
