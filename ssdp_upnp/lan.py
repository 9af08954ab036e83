"""
The LAN interfaces SSDP runs on, and which of them a sender belongs to.

Twisted gives no IP_PKTINFO, so the interface a datagram came in on is found
by matching the sender against each interface's subnet (miniupnpd does the
same). L{select_interfaces} is pure; L{system_interfaces} reads the machine's
addresses with ifaddr. L{LANInterfaces} is the one list a node runs on: read
again when the host's addresses may have changed, and followed by every part.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

import ifaddr

from .errors import NoInterfaceError


@dataclass(frozen=True)
class Interface:
    """One IPv4 address of a network interface, with its subnet."""

    name: str
    address: ipaddress.IPv4Interface

    @property
    def ip(self) -> str:
        return str(self.address.ip)

    @property
    def is_loopback(self) -> bool:
        return self.address.ip.is_loopback

    def has_on_link(self, host: str) -> bool:
        """True if C{host} is an IPv4 address on this interface's subnet."""
        try:
            return ipaddress.IPv4Address(host) in self.address.network
        except ValueError:
            return False

    @classmethod
    def parse(cls, name: str, cidr: str) -> Interface:
        """C{Interface.parse("eth0", "198.51.100.11/24")}."""
        return cls(name, ipaddress.IPv4Interface(cidr))


def system_interfaces() -> list[Interface]:
    """Every IPv4 address of every interface of this host (network namespace)."""
    found = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                try:
                    address = ipaddress.IPv4Interface(f"{ip.ip}/{ip.network_prefix}")
                except ValueError:
                    continue
                found.append(Interface(adapter.nice_name, address))
    return found


def select_interfaces(
    available: Sequence[Interface], wanted: Iterable[str] = ()
) -> list[Interface]:
    """
    Choose the interfaces to run SSDP on.

    @param wanted: interface names or IPv4 addresses; empty means every
        non-loopback IPv4 interface, or loopback when there is nothing else
        (a host with no LAN, a test namespace).
    @raise NoInterfaceError: a wanted name or address is not on this host, or
        there is no IPv4 interface at all.
    """
    wanted = list(wanted)
    if not wanted:
        lan = [i for i in available if not i.is_loopback and not i.address.ip.is_link_local]
        chosen = lan or [i for i in available if i.is_loopback]
        if not chosen:
            raise NoInterfaceError("this host has no IPv4 interface")
        return chosen
    chosen = []
    for want in wanted:
        matches = [i for i in available if want in (i.name, i.ip)]
        if not matches:
            names = ", ".join(f"{i.name} ({i.ip})" for i in available) or "none"
            raise NoInterfaceError(f"no IPv4 interface {want!r}; this host has: {names}")
        chosen.extend(m for m in matches if m not in chosen)
    return chosen


def lan_interfaces(wanted: Iterable[str] = ()) -> list[Interface]:
    """L{select_interfaces} over this host's interfaces (see there)."""
    return select_interfaces(system_interfaces(), wanted)


class FollowsInterfaces(Protocol):
    """A part of a node that runs on the LAN's interfaces and moves when they change."""

    def update_interfaces(self, current: Sequence[Interface]) -> None: ...


class LANInterfaces:
    """
    The interfaces a node runs on, one list for all its parts.

    C{read} gives the interfaces to use now (e.g. C{lambda: lan_interfaces(["eth0"])});
    L{update} takes a new list and, when it differs, tells every follower.

    @ivar current: the interfaces in use.
    @raise NoInterfaceError: (from the constructor) C{read} finds none.
    """

    def __init__(self, read: Callable[[], Sequence[Interface]]) -> None:
        self.read = read
        self.current: list[Interface] = list(read())
        self.followers: list[FollowsInterfaces] = []

    def follow(self, follower: FollowsInterfaces) -> None:
        """Tell C{follower} of every change from now on."""
        self.followers.append(follower)

    def update(self, now: Sequence[Interface]) -> bool:
        """Use C{now} from now on; say whether it changed anything (followers were told)."""
        now = list(now)
        if now == self.current:
            return False
        self.current = now
        for follower in list(self.followers):
            follower.update_interfaces(now)
        return True


def interface_for(interfaces: Iterable[Interface], host: str) -> Interface | None:
    """The interface whose subnet holds C{host}, or None (an off-link sender)."""
    for interface in interfaces:
        if interface.has_on_link(host):
            return interface
    return None


def parse_proc_route(text: str) -> list[str]:
    """
    The default gateways in the text of Linux's C{/proc/net/route}: rows whose
    destination is 0.0.0.0 and whose flags say RTF_GATEWAY; addresses are hex,
    little-endian.
    """
    gateways = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or fields[1] != "00000000":
            continue
        try:
            flags = int(fields[3], 16)
            raw = int(fields[2], 16)
        except ValueError:
            continue
        if flags & 0x2 and raw:
            address = str(ipaddress.IPv4Address(raw.to_bytes(4, "little")))
            if address not in gateways:
                gateways.append(address)
    return gateways


def default_gateways() -> list[str]:
    """This host's IPv4 default gateways (Linux; elsewhere none)."""
    try:
        with open("/proc/net/route") as f:
            return parse_proc_route(f.read())
    except OSError:
        return []
