"""
ssdp-upnp: look at the LAN and the router from a shell.

    ssdp-upnp search [--st ST] [--timeout S] [--interface IP]
    ssdp-upnp peers --product P [--network N]
    ssdp-upnp advertise --product P --port N [--network N] [--duration S]
    ssdp-upnp nat status | external-ip | list
    ssdp-upnp nat add INTERNAL [EXTERNAL] [--udp] [--lease S]
    ssdp-upnp nat remove EXTERNAL [--udp]

Tables for people, C{--json} for scripts. Exit status: 0 done, 1 failed (no
gateway, a refusal, nothing in time), 2 bad usage. Built on the Deferred API
and C{task.react}.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any, cast

from twisted.internet.defer import Deferred, gatherResults
from twisted.internet.interfaces import IReactorCore
from twisted.internet.task import deferLater, react
from twisted.logger import Logger

from ._bounded import int_option
from ._inbound import DropLog, Inbound
from ._searcher import Searcher
from ._types import ISSDPReactor
from .discovery import discover
from .errors import ConfigurationError, NoSuchEntryInArray, SSDPUPnPError
from .gateway import Gateway
from .gateway_discovery import find_gateway
from .lan import Interface, lan_interfaces
from .legacy import LegacyResponse
from .message import Notify, SearchResponse
from .node_service import NodeConfig, NodeService

log = Logger()


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
    return lan_interfaces(args.interface or [])


def _int_arg(name: str, low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number in low..high (the parser behind every option)."""
    convert = int_option(name, low, high)

    def parse(text: str) -> int:
        try:
            return convert(text)
        except ConfigurationError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    return parse


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
        await deferLater(reactor, args.timeout, lambda: None)
    finally:
        await gatherResults(searcher.close())
    rows = sorted(found.values(), key=lambda r: (r["host"], r["usn"]))
    _emit(args, rows, ["host", "st", "usn", "location", "server"])


async def _peers(reactor: ISSDPReactor, args: argparse.Namespace) -> None:
    peers = await discover(reactor, args.product, args.network, interfaces=_interfaces(args),
                           timeout=args.timeout, mx=args.mx,
                           legacy=not args.no_legacy)  # fmt: skip
    rows = [{"host": p.host, "port": p.port, "uuid": p.uuid, "node_id": p.node_id,
             "network": p.network, "location": p.location,
             "external": f"{p.external[0]}:{p.external[1]}" if p.external else None}
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


async def _gateway(reactor: ISSDPReactor, args: argparse.Namespace) -> Gateway:
    return await find_gateway(reactor, _interfaces(args), description_url=args.gateway_url,
                              timeout=args.timeout)  # fmt: skip


async def _nat(reactor: ISSDPReactor, args: argparse.Namespace) -> None:
    gateway = await _gateway(reactor, args)
    protocol = "UDP" if getattr(args, "udp", False) else "TCP"
    if args.nat_command == "status":
        status = await gateway.get_status()
        address = await gateway.get_external_ip()
        _emit(args, {
            "gateway": gateway.description.url, "service": gateway.service.service_type,
            "status": status.status, "uptime": status.uptime, "external_ip": address.ip,
            "double_nat": address.double_nat, "local_address": gateway.local_address,
        })  # fmt: skip
    elif args.nat_command == "external-ip":
        address = await gateway.get_external_ip()
        _emit(args, asdict(address) if args.json else address.ip)
    elif args.nat_command == "list":
        rows = [asdict(m) for m in await gateway.list_mappings()]
        _emit(args, rows, ["protocol", "external_port", "internal_client", "internal_port",
                           "lease", "description"])  # fmt: skip
    elif args.nat_command == "add":
        external = args.external or args.internal
        mapping = await gateway.add_mapping(external, args.internal, protocol, lease=args.lease,
                                            description=args.description)  # fmt: skip
        address = await gateway.get_external_ip()
        _emit(args, {**asdict(mapping), "external_ip": address.ip})
    elif args.nat_command == "remove":
        existing = await gateway.get_mapping(args.external, protocol)
        if existing is None:
            raise NoSuchEntryInArray(714, f"no {protocol} mapping of port {args.external}",
                                     "remove")  # fmt: skip
        await gateway.delete_mapping(args.external, protocol)
        _emit(args, {"removed": asdict(existing)} if args.json else
              f"removed {protocol} {args.external}")  # fmt: skip


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="ssdp-upnp", description=__doc__.split("\n")[1])
    top.add_argument("--json", action="store_true", help="print JSON instead of tables")
    sub = top.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser, timeout: float) -> None:
        p.add_argument(
            "--interface",
            "-i",
            action="append",
            help="interface name or IPv4 address (repeatable; default: all LAN)",
        )
        p.add_argument("--timeout", type=float, default=timeout, help="seconds to wait")
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
    search.add_argument("--st", default="ssdp:all", help="search target (default ssdp:all)")
    search.add_argument("--mx", type=_int_arg("--mx", 1, 5), default=2, metavar="1-5")

    peers = sub.add_parser("peers", help="find the nodes of a product and network")
    common(peers, 3.0)
    peers.add_argument("--product", required=True)
    peers.add_argument("--network", default="main")
    peers.add_argument("--mx", type=_int_arg("--mx", 1, 5), default=2, metavar="1-5")

    adv = sub.add_parser("advertise", help="advertise a node until stopped")
    common(adv, 0.0)
    adv.add_argument("--product", required=True)
    adv.add_argument("--port", type=_int_arg("--port", 1, 65535), required=True)
    adv.add_argument("--network", default="main")
    adv.add_argument("--node-id")
    adv.add_argument("--uuid")
    adv.add_argument("--state-file")
    adv.add_argument("--duration", type=float, default=0, help="stop after S seconds")

    nat = sub.add_parser("nat", help="the UPnP gateway (router)")
    nat_sub = nat.add_subparsers(dest="nat_command", required=True)
    for name, text in (("status", "connection status and external address"),
                       ("external-ip", "the external address"),
                       ("list", "every port mapping")):  # fmt: skip
        p = nat_sub.add_parser(name, help=text)
        common(p, 5.0)
        p.add_argument("--gateway-url", help="the gateway's description URL (skips SSDP)")
    add = nat_sub.add_parser("add", help="forward a port to this host")
    common(add, 5.0)
    add.add_argument("--gateway-url")
    add.add_argument("internal", type=_int_arg("INTERNAL", 1, 65535))
    add.add_argument("external", type=_int_arg("EXTERNAL", 1, 65535), nargs="?")
    add.add_argument("--udp", action="store_true")
    add.add_argument("--lease", type=int, default=3600)
    add.add_argument("--description", default="ssdp-upnp")
    remove = nat_sub.add_parser("remove", help="remove a forward of this host")
    common(remove, 5.0)
    remove.add_argument("--gateway-url")
    remove.add_argument("external", type=_int_arg("EXTERNAL", 1, 65535))
    remove.add_argument("--udp", action="store_true")
    return top


COMMANDS = {"search": _search, "peers": _peers, "advertise": _advertise, "nat": _nat}


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)

    async def run(reactor: ISSDPReactor) -> None:
        try:
            await COMMANDS[args.command](reactor, args)
        except (SSDPUPnPError, ConfigurationError, OSError) as e:
            print(f"ssdp-upnp: {e}", file=sys.stderr)
            raise SystemExit(1) from None

    react(lambda reactor: Deferred.fromCoroutine(run(cast(ISSDPReactor, reactor))))


if __name__ == "__main__":
    main()
