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
and C{task.react}. This module only parses and checks the arguments (light:
no Twisted, so C{--help} and usage errors are quick); the commands are in
L{ssdp_upnp._cli_commands}, imported once the arguments are good.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Sequence

from ._bounded import int_option
from .errors import ConfigurationError, MessageError, NoInterfaceError

# The rest loads when a value is checked or a command runs: --help and most usage errors
# import neither typing, dataclasses, ifaddr nor the message and node modules.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn, TypeVar

    from .lan import Interface

    T = TypeVar("T")


def _check(module: str, name: str) -> Callable[[str], Any]:
    """The check C{name} of C{ssdp_upnp.module}, imported when first called."""

    def check(text: str) -> Any:
        from importlib import import_module

        return getattr(import_module(f"ssdp_upnp.{module}"), name)(text)

    check.__name__ = name
    return check


check_product = _check("_node_names", "check_product")
check_network = _check("_node_names", "check_network")
check_node_id = _check("_node_names", "check_node_id")
check_uuid = _check("_node_names", "check_uuid")
check_method = _check("mapping", "check_method")


def _table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    if not rows:
        return "(none)"
    cells = [[str(row.get(c, "") if row.get(c) is not None else "") for c in columns]
             for row in rows]  # fmt: skip
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


def families(args: argparse.Namespace) -> tuple[int, ...]:
    """The address families the command line asks for."""
    if getattr(args, "ipv4_only", False):
        return (4,)
    if getattr(args, "ipv6_only", False):
        return (6,)
    return (4, 6)


def _interfaces(args: argparse.Namespace) -> list[Interface]:
    """
    The interfaces C{args} choose, read from the host once (when the arguments
    are checked) and kept in C{args} for the command.
    """
    chosen: list[Interface] | None = getattr(args, "chosen_interfaces", None)
    if chosen is not None:
        return chosen
    unknown = _unknown_interface(args.interface or [])
    if unknown is not None:
        raise NoInterfaceError.unknown(unknown[0], families(args), unknown[1])
    from .lan import lan_interfaces

    chosen = lan_interfaces(args.interface or [], args.exclude_interface or [], families(args))
    args.chosen_interfaces = chosen
    return chosen


def _unknown_interface(wanted: Sequence[str]) -> tuple[str, str] | None:
    """
    The first of C{wanted} that is neither the name of an interface of this
    host nor an address, with the names there are; or None. It reads only the
    names (C{if_nameindex}), so a mistyped name is told at once; whether a
    name or an address fits is then L{ssdp_upnp.lan}'s to say.
    """
    import socket

    try:
        names = {name for _, name in socket.if_nameindex()}
    except OSError:
        return None
    for want in wanted:
        if want in names or _is_address(want.partition("%")[0]):
            continue
        return want, ", ".join(sorted(names)) or "none"
    return None


def _is_address(text: str) -> bool:
    import socket

    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, text)
        except (OSError, ValueError):
            continue
        return True
    return False


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
    from .message import SearchRequest, decode, encode

    if not text:
        raise ConfigurationError("--st must not be empty")
    sent = decode(encode(SearchRequest(st=text, mx=2)))
    assert isinstance(sent, SearchRequest)
    return sent.st


def _gateway_url(text: str) -> str:
    if not text.startswith("http://"):
        raise ConfigurationError(f"--gateway-url {text!r} is not an http:// URL")
    return text


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
            help="interface name or address (repeatable; default: all LAN)",
        )
        p.add_argument(
            "--exclude-interface",
            action="append",
            help="interface name or address never to use (repeatable)",
        )
        family = p.add_mutually_exclusive_group()
        family.add_argument("--ipv4-only", action="store_true",
                            help="use IPv4 only (default: IPv4 and IPv6)")  # fmt: skip
        family.add_argument("--ipv6-only", action="store_true",
                            help="use IPv6 only (default: IPv4 and IPv6)")  # fmt: skip
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
    # no default here: argparse would run the check (and import the message module) on it
    search.add_argument("--st", type=_arg(_search_target),
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
    import ipaddress

    from .mapping import is_public_ipv6

    if not is_public_ipv6(text):
        raise ConfigurationError(f"{text!r} is not a public IPv6 address")
    return str(ipaddress.IPv6Address(text))


def _pinhole_method(text: str) -> str:
    method: str = check_method(text)
    if method == "natpmp":
        raise ConfigurationError("NAT-PMP opens no IPv6 pinholes (auto, pcp or upnp)")
    return method


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """
    The arguments, every one checked before anything is opened (the
    interfaces named are looked up too): exit 2 with one line otherwise.
    """
    top = parser()
    args = top.parse_args(argv)
    if args.command == "search" and args.st is None:
        args.st = "ssdp:all"
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


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    from ._types import without_tls

    without_tls()  # before the reactor loads
    from ._cli_commands import run  # Twisted and the rest load only now

    run(args)


def console(argv: Sequence[str] | None = None) -> NoReturn:
    """
    The C{ssdp-upnp} program: L{main}, then the output flushed and the process
    ended at once (C{os._exit}) with main's exit status.

    By then the command is over (the reactor has stopped) and only stdout and
    stderr were written; tearing down an interpreter that loaded Twisted takes
    0.06-0.13 s here and releases nothing the system would not. An exception
    other than C{SystemExit} is left to Python (traceback, normal exit).
    """
    try:
        main(argv)
        status = 0
    except SystemExit as e:
        status = _exit_status(e.code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: Python's own status for it
            status = status or 120
    os._exit(status)


def _exit_status(code: object) -> int:
    """The status C{SystemExit(code)} ends Python with (a message goes to stderr, status 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    console()
