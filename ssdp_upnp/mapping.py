"""
What every way of forwarding a port shares: the mapping it made, the
gateway's external address, and L{IPortMapper}, the interface that PCP,
NAT-PMP and the UPnP IGD gateway implement (light: no socket, no HTTP, no XML).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from zope.interface import Attribute, Interface

from .errors import ConfigurationError

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

#: The ways to forward a port, best first (the order of the ladder).
METHODS = ("pcp", "natpmp", "upnp")
#: What C{--nat-method} takes: C{auto} is the ladder.
METHOD_CHOICES = ("auto", *METHODS)


def check_method(method: str) -> str:
    """C{method} if it is one of auto, pcp, natpmp, upnp (any case), in lower case."""
    lower = method.lower()
    if lower not in METHOD_CHOICES:
        raise ConfigurationError(f"NAT method {method!r} is not one of {', '.join(METHOD_CHOICES)}")
    return lower


@dataclass(frozen=True)
class PortMapping:
    """One port mapping of the gateway."""

    external_port: int
    protocol: str
    internal_port: int
    internal_client: str
    description: str = ""
    lease: int = 0
    enabled: bool = True
    remote_host: str = ""


@dataclass(frozen=True)
class ExternalAddress:
    """The gateway's external IPv4 address, and whether another NAT sits upstream."""

    ip: str
    double_nat: bool


#: Addresses that, as a gateway's external address, mean another NAT sits upstream.
_NOT_PUBLIC = tuple(
    ipaddress.IPv4Network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
              "169.254.0.0/16", "127.0.0.0/8", "0.0.0.0/8")
)  # fmt: skip


_ULA = ipaddress.IPv6Network("fc00::/7")


def is_double_nat(external_ip: str) -> bool:
    """
    True for an external address from RFC 1918, the shared CGNAT range
    100.64.0.0/10, link-local, loopback or 0/8: a NAT sits upstream of the
    gateway, and a mapping on it alone does not make the node reachable.
    """
    try:
        address = ipaddress.ip_address(external_ip.split("%", 1)[0])
    except ValueError:
        return True
    if address.version == 6:  # a pinhole's own address: private unless of global scope
        return not is_public_ipv6(external_ip)
    return any(address in network for network in _NOT_PUBLIC)


def is_public_ipv6(address: str) -> bool:
    """
    Whether a pinhole to C{address} can make it reachable: a unicast address
    of global scope (not link-local, loopback, ULA, site-local, multicast or
    IPv4-mapped). Documentation addresses count: labs use them.
    """
    try:
        ip = ipaddress.IPv6Address(address.split("%", 1)[0])
    except ValueError:
        return False
    return not (
        ip.is_link_local or ip.is_loopback or ip.is_multicast or ip.is_unspecified
        or ip.is_site_local or ip in _ULA or ip.ipv4_mapped is not None
    )  # fmt: skip


def external_address(ip: str) -> ExternalAddress:
    return ExternalAddress(ip, is_double_nat(ip))


class IPortMapper(Interface):
    """
    A way to forward ports of this host on the gateway: PCP, NAT-PMP or a
    UPnP IGD connection service. Every call returns a Deferred; a refusal
    fails with a L{ssdp_upnp.errors.MappingRefused} subclass (the gateway is
    still usable), anything else (no answer, a broken one) with another
    L{ssdp_upnp.errors.GatewayError}.
    """

    method = Attribute("'pcp', 'natpmp', 'igd2' or 'igd1'.")
    local_address = Attribute("Our address toward the gateway: the internal client of a mapping.")
    where = Attribute("Where the gateway answered, for people (its service and URL, or port).")

    def get_external_ip() -> Deferred[ExternalAddress]:
        """Fires with the gateway's L{ExternalAddress}."""

    def add_mapping(
        external_port: int,
        internal_port: int,
        protocol: str = "TCP",
        *,
        lease: int = 3600,
        description: str = "ssdp_upnp",
    ) -> Deferred[PortMapping]:
        """
        Map (or renew) C{external_port} to this host's C{internal_port};
        fires with the L{PortMapping} made. PCP and NAT-PMP may assign another
        external port when the one asked for is taken: the mapping says
        which. IGD fails with L{ssdp_upnp.errors.ConflictInMappingEntry} then.
        """

    def add_any_mapping(
        external_port: int,
        internal_port: int,
        protocol: str = "TCP",
        *,
        lease: int = 3600,
        description: str = "ssdp_upnp",
    ) -> Deferred[PortMapping]:
        """Like L{add_mapping}, but another external port is always acceptable."""

    def get_mapping(external_port: int, protocol: str = "TCP") -> Deferred[PortMapping | None]:
        """
        Fires with the gateway's mapping of C{external_port}, or None. (PCP
        and NAT-PMP cannot list: they give the mapping this mapper made,
        unless the gateway's epoch shows it has lost its mappings since.)
        """

    def delete_mapping(external_port: int, protocol: str = "TCP") -> Deferred[None]:
        """Delete the mapping of C{external_port}; fires with None."""

    def observe_reset(callback: Callable[[], None]) -> None:
        """
        Call C{callback()} when the gateway may have lost its mappings: its
        epoch went back, or it announced itself unasked (PCP ANNOUNCE, a
        NAT-PMP address notice). The mappings should be renewed at once.
        """

    def listen() -> None:
        """Follow the gateway's announcements, where it makes them (PCP, NAT-PMP)."""

    def close() -> Deferred[None]:
        """Release the mapper's sockets; fires with None."""
