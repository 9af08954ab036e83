"""
IGD2's WANIPv6FirewallControl:1: the arguments of its actions and the
reading of their answers, as plain functions (the SOAP goes through
L{ssdp_upnp.soap}). A pinhole lets connections from the internet reach one
of our global IPv6 addresses through the router's stateful firewall.

Actions: GetFirewallStatus, AddPinhole (returns a UniqueID), UpdatePinhole,
DeletePinhole, GetOutboundPinholeTimeout, CheckPinholeWorking. Protocol
travels as its IANA number; a lease is 1..86400 seconds.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ._bounded import bounded_int
from .errors import ConfigurationError, InvalidGatewayResponse
from .forward import check_protocol
from .igd import ConnectionService, GatewayDescription

FIREWALL_CONTROL = "urn:schemas-upnp-org:service:WANIPv6FirewallControl:1"
PROTOCOL_NUMBERS = {"TCP": 6, "UDP": 17}
#: WANIPv6FirewallControl:1 §2.5.7: LeaseTime is 1..86400.
MAX_PINHOLE_LEASE = 86400


def firewall_service(description: GatewayDescription) -> ConnectionService | None:
    """The description's WANIPv6FirewallControl service, if it has one."""
    return next(
        (s for d in description.root.walk() for s in d.services
         if s.service_type == FIREWALL_CONTROL),
        None,
    )  # fmt: skip


@dataclass(frozen=True)
class FirewallStatus:
    enabled: bool
    inbound_pinhole_allowed: bool


def _boolean(value: str | None, what: str) -> bool:
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no"):
        return False
    raise InvalidGatewayResponse(f"{what} {str(value)[:20]!r} is not a boolean")


def read_firewall_status(args: dict[str, str]) -> FirewallStatus:
    return FirewallStatus(
        _boolean(args.get("FirewallEnabled"), "FirewallEnabled"),
        _boolean(args.get("InboundPinholeAllowed"), "InboundPinholeAllowed"),
    )


def _ipv6(address: str, what: str) -> str:
    try:
        return str(ipaddress.IPv6Address(address))
    except ValueError:
        raise ConfigurationError(f"{what} {address!r} is not an IPv6 address") from None


def _lease(lease: int) -> int:
    if not 1 <= lease <= MAX_PINHOLE_LEASE:
        raise ConfigurationError(f"pinhole lease {lease} is not in 1..{MAX_PINHOLE_LEASE}")
    return lease


def add_pinhole_arguments(
    internal_client: str,
    internal_port: int,
    protocol: str,
    lease: int,
    remote_host: str = "",
    remote_port: int = 0,
) -> list[tuple[str, str]]:
    """
    AddPinhole's arguments: let any remote host and port (empty, 0: the
    wildcards) reach C{internal_client}:C{internal_port}.
    """
    if not 1 <= internal_port <= 65535 or not 0 <= remote_port <= 65535:
        raise ConfigurationError("pinhole ports are 1..65535 (the remote one may be 0: any)")
    return [
        ("RemoteHost", _ipv6(remote_host, "remote host") if remote_host else ""),
        ("RemotePort", str(remote_port)),
        ("InternalClient", _ipv6(internal_client, "internal client")),
        ("InternalPort", str(internal_port)),
        ("Protocol", str(PROTOCOL_NUMBERS[check_protocol(protocol)])),
        ("LeaseTime", str(_lease(lease))),
    ]


def read_unique_id(args: dict[str, str]) -> int:
    """AddPinhole's UniqueID (0..65535)."""
    try:
        return bounded_int(args.get("UniqueID", ""), 0, 65535)
    except ValueError:
        raise InvalidGatewayResponse(
            f"AddPinhole UniqueID {args.get('UniqueID', '')[:20]!r} is not 0..65535"
        ) from None


def update_pinhole_arguments(unique_id: int, lease: int) -> list[tuple[str, str]]:
    return [("UniqueID", str(unique_id)), ("NewLeaseTime", str(_lease(lease)))]


def delete_pinhole_arguments(unique_id: int) -> list[tuple[str, str]]:
    return [("UniqueID", str(unique_id))]


def check_pinhole_arguments(unique_id: int) -> list[tuple[str, str]]:
    return [("UniqueID", str(unique_id))]


def read_is_working(args: dict[str, str]) -> bool:
    return _boolean(args.get("IsWorking"), "IsWorking")


def outbound_timeout_arguments(
    internal_client: str, internal_port: int, protocol: str,
    remote_host: str = "", remote_port: int = 0,
) -> list[tuple[str, str]]:  # fmt: skip
    """GetOutboundPinholeTimeout's arguments for our flows to anyone."""
    return [
        ("RemoteHost", _ipv6(remote_host, "remote host") if remote_host else ""),
        ("RemotePort", str(remote_port)),
        ("InternalClient", _ipv6(internal_client, "internal client")),
        ("InternalPort", str(internal_port)),
        ("Protocol", str(PROTOCOL_NUMBERS[check_protocol(protocol)])),
    ]


def read_outbound_timeout(args: dict[str, str]) -> int:
    try:
        return bounded_int(args.get("OutboundPinholeTimeout", ""), 0, 2**32 - 1)
    except ValueError:
        raise InvalidGatewayResponse("OutboundPinholeTimeout is not a number of seconds") from None
