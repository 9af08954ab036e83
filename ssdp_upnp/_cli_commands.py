"""
The commands of C{ssdp-upnp} (L{ssdp_upnp.cli} parses and checks the
arguments first, then calls L{run}).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, NoReturn, cast

from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.interfaces import IReactorCore
from twisted.internet.task import LoopingCall, deferLater, react
from twisted.logger import Logger

from ._types import ISSDPReactor
from .cli import _interfaces, _table, families
from .errors import (
    ConfigurationError,
    NoGatewayFound,
    NoSuchEntryInArray,
    NotAuthorized,
    SSDPUPnPError,
)
from .lan import lan_choice, public_ipv6_addresses

if TYPE_CHECKING:  # each command imports what only it uses (nat add loads no SSDP node)
    from ._inbound import Inbound
    from .gateway import Gateway
    from .lan import Interface
    from .mapping import IPortMapper

log = Logger()


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
        chosen, skipped = lan_choice(args.interface or [], args.exclude_interface or [],
                                     families(args))  # fmt: skip
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
    from ._inbound import DropLog
    from ._searcher import Searcher
    from .legacy import LegacyResponse
    from .message import Notify, SearchResponse

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

    chosen, skipped = lan_choice(args.interface or [], args.exclude_interface or [],
                                 families(args))  # fmt: skip
    if args.verbose:
        for interface in chosen:
            print(f"searching on {interface.name} ({interface.host})", file=sys.stderr)
        for s in skipped:
            print(f"skipping {s.interface.name} ({s.interface.host}): {s.reason}",
                  file=sys.stderr)  # fmt: skip
    searcher = Searcher(reactor, chosen, seen, DropLog(log, reactor),
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
    from .discovery import discover

    with _Progress(reactor, args, "looking for peers"):
        peers = await discover(reactor, args.product, args.network, interfaces=_interfaces(args),
                               timeout=args.timeout, mx=args.mx, wanted=args.wanted,
                               legacy=not args.no_legacy)  # fmt: skip
    rows = [{"host": p.host, "port": p.port, "uuid": p.uuid, "node_id": p.node_id,
             "network": p.network, "location": p.location,
             "external": f"{p.external[0]}:{p.external[1]}" if p.external else None,
             "external6": ", ".join(f"[{ip}]:{port}" for ip, port in p.external6) or None,
             "addresses": list(p.addresses)}
            for p in peers]  # fmt: skip
    for row, peer in zip(rows, peers, strict=True):
        if peer.legacy:  # a 0.1.0 node has no uuid: say what it is instead
            row["legacy"] = True
            if not args.json:
                row["uuid"] = "(legacy 0.1.0 node)"
    _emit(args, rows, ["host", "port", "uuid", "node_id", "external", "location"])


async def _advertise(reactor: ISSDPReactor, args: argparse.Namespace) -> None:
    from .node_service import NodeConfig, NodeService

    config = NodeConfig(
        args.product, args.network, args.port, node_id=args.node_id, uuid=args.uuid,
        state_file=args.state_file, interfaces=tuple(args.interface or ()), discover=False,
        exclude_interfaces=tuple(args.exclude_interface or ()), legacy=not args.no_legacy,
        families=families(args),
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
    return {
        "method": str(answer.method),
        "answered": True,
        "detail": str(answer.where),
        "local_address": answer.local_address,
    }


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
                    row["unique_id"] = mapper.held[(protocol, args.port)].token
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


COMMANDS = {"search": _search, "peers": _peers, "advertise": _advertise, "nat": _nat,
            "diagnose": _diagnose}  # fmt: skip


def _fail(args: argparse.Namespace, error: Exception) -> NoReturn:
    if args.json:
        message = {"error": type(error).__name__, "message": str(error)}
        print(json.dumps(message, sort_keys=True), file=sys.stderr)
    else:
        print(f"ssdp-upnp: {error}", file=sys.stderr)
    raise SystemExit(1)


def run(args: argparse.Namespace) -> None:
    """Run the command C{args} name on the reactor, to its end (exit status 1 on failure)."""

    async def command(reactor: ISSDPReactor) -> None:
        try:
            await COMMANDS[args.command](reactor, args)
        except (SSDPUPnPError, ConfigurationError, OSError) as e:
            _fail(args, e)

    react(lambda reactor: Deferred.fromCoroutine(command(cast(ISSDPReactor, reactor))))
