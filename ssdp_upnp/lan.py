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
import os
import re
import socket
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import ifaddr

from .errors import NoInterfaceError

#: Address families a node can run SSDP on.
FAMILIES = (4, 6)


@dataclass(frozen=True)
class Interface:
    """
    One address of a network interface, with its subnet: IPv4, or IPv6 with
    the interface's index (its scope, which link-local addresses need).
    """

    name: str
    address: ipaddress.IPv4Interface | ipaddress.IPv6Interface
    index: int = 0

    # each of these is read per datagram, and an Interface never changes: worked out once

    @cached_property
    def ip(self) -> str:
        """The address alone (no zone)."""
        return str(self.address.ip)

    @cached_property
    def family(self) -> int:
        return self.address.version

    @cached_property
    def is_loopback(self) -> bool:
        return self.address.ip.is_loopback

    @cached_property
    def is_link_local(self) -> bool:
        return self.address.ip.is_link_local

    @cached_property
    def host(self) -> str:
        """The address to bind and send from: a link-local IPv6 one with its zone."""
        if self.family == 6 and self.is_link_local:
            return f"{self.ip}%{self.name}"
        return self.ip

    @cached_property
    def url_host(self) -> str:
        """
        The address as a URL writes it: an IPv6 one in brackets and without its
        zone (a zone names an interface of this host, which means nothing to
        the receiver; it adds the zone of the interface it heard us on).
        """
        return f"[{self.ip}]" if self.family == 6 else self.ip

    def has_on_link(self, host: str) -> bool:
        """
        True if C{host} is on this interface's link: an IPv4 address on its
        subnet; an IPv6 address inside its prefix, or, for a link-local
        interface, a link-local address whose zone is this interface.
        """
        if self.family == 4:
            try:
                value = int.from_bytes(socket.inet_pton(socket.AF_INET, host), "big")
            except (OSError, TypeError, ValueError):
                return False
            network, mask = self._network4
            return value & mask == network
        address, _, zone = host.partition("%")
        try:
            ip = ipaddress.IPv6Address(address)
        except ValueError:
            return False
        if ip.is_link_local:
            return self.is_link_local and zone in (self.name, str(self.index))
        return not self.is_link_local and ip in self.address.network

    def __hash__(self) -> int:
        # equal interfaces (name, address and prefix, index) hash alike; from plain values
        # kept once, as an interface keys the advertiser's tables at every datagram
        return hash(self._key)

    @cached_property
    def _key(self) -> tuple[str, str, int, int]:
        return (self.name, self.ip, self.address.network.prefixlen, self.index)

    @cached_property
    def _network4(self) -> tuple[int, int]:
        """The IPv4 subnet as integers (address, mask): the on-link check runs per datagram."""
        network = self.address.network
        return int(network.network_address), int(network.netmask)

    @classmethod
    def parse(cls, name: str, cidr: str, index: int = 0) -> Interface:
        """C{Interface.parse("eth0", "198.51.100.11/24")}, C{("eth0", "fe80::1/64", 2)}."""
        address = ipaddress.ip_interface(cidr)
        if isinstance(address, ipaddress.IPv6Interface) and "%" in cidr:
            raise ValueError(f"{cidr}: give the interface index, not a zone")
        return cls(name, address, index)


#: IPv6 address flags (Linux, /proc/net/if_inet6) that make an address unusable for now:
#: tentative (duplicate address detection still running: binding it fails), DAD failed,
#: deprecated (its lifetime is over: no new use).
_UNUSABLE6 = 0x40 | 0x08 | 0x20


def parse_if_inet6(text: str) -> list[Interface]:
    """
    The usable IPv6 addresses in the text of Linux's C{/proc/net/if_inet6}
    (address, index, prefix length, scope, flags, name; all hex but the name).
    """
    found = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 6:
            continue
        try:
            address = ipaddress.IPv6Address(int(fields[0], 16))
            index, prefix, flags = int(fields[1], 16), int(fields[2], 16), int(fields[4], 16)
            interface = ipaddress.IPv6Interface(f"{address}/{prefix}")
        except ValueError:
            continue
        if not flags & _UNUSABLE6:
            found.append(Interface(fields[5], interface, index))
    return found


def system_interfaces() -> list[Interface]:
    """
    Every IPv4 and usable IPv6 address of every interface of this host
    (network namespace). On Linux the IPv6 ones come from C{/proc/net/if_inet6},
    which says which are still tentative (their duplicate address detection
    runs: they cannot be bound yet; the interface watcher takes them later).
    """
    try:
        with open("/proc/net/if_inet6") as f:
            ipv6: list[Interface] | None = parse_if_inet6(f.read())
    except OSError:
        ipv6 = None
    found = []
    for adapter in ifaddr.get_adapters():
        index = getattr(adapter, "index", None) or 0
        for ip in adapter.ips:
            if not isinstance(ip.ip, str) and ipv6 is not None:
                continue
            raw = (ip.ip if isinstance(ip.ip, str) else ip.ip[0]).split("%")[0]
            try:
                address = ipaddress.ip_interface(f"{raw}/{ip.network_prefix}")
            except ValueError:
                continue
            found.append(
                Interface(adapter.nice_name, address, index if address.version == 6 else 0)
            )
        if ipv6 is not None:
            found.extend(i for i in ipv6 if i.name == adapter.nice_name)
    return found


#: Names that mark containers, virtual bridges and tunnels: not the LAN where peers are.
VIRTUAL_NAMES = re.compile(
    r"^(docker|veth|br-|virbr|cni|flannel|tun|tap|wg|tailscale|zt|utun)", re.IGNORECASE
)


@dataclass(frozen=True)
class Skipped:
    """An address not used by default, and why."""

    interface: Interface
    reason: str


def skip_reason(interface: Interface, point_to_point: Collection[str] = ()) -> str | None:
    """
    Why C{interface} is not a LAN to run SSDP on by default, or None if it is
    one. A public IPv4 address is skipped (a router's WAN side, a VPS); a
    global IPv6 address is what LAN hosts have, and is used (but see
    L{choose_interfaces}: not on an interface whose IPv4 address is public).
    """
    ip = interface.address.ip
    if interface.is_loopback:
        return "loopback"
    if interface.family == 4 and ip.is_link_local:
        return "link-local only"
    if ip.is_multicast or ip.is_unspecified or getattr(ip, "ipv4_mapped", None):
        return "not a unicast address"
    if VIRTUAL_NAMES.match(interface.name):
        return "a container bridge or a tunnel, by its name"
    if interface.name in point_to_point:
        return "a point-to-point link"
    if interface.family == 4 and ip.is_global:
        return "a public address (SSDP stays on LANs: a router's WAN side, a VPS)"
    return None


def choose_interfaces(
    available: Sequence[Interface],
    wanted: Iterable[str] = (),
    exclude: Iterable[str] = (),
    point_to_point: Collection[str] = (),
    families: Collection[int] = FAMILIES,
) -> tuple[list[Interface], list[Skipped]]:
    """
    Choose the interfaces to run SSDP on, and say why the others are not.

    @param wanted: interface names or addresses, used whatever they are;
        empty means every LAN interface (see L{skip_reason}), or IPv4 loopback
        when there is nothing else (a host with no LAN, a test namespace).
    @param exclude: names or addresses never used.
    @param families: the address families to use (4, 6 or both).
    @raise NoInterfaceError: a wanted name or address is not on this host, or
        there is no interface of these families at all.
    """
    wanted, exclude = list(wanted), set(exclude)
    kinds = " or ".join(f"IPv{f}" for f in sorted(families))
    every = list(available)
    skipped = [Skipped(i, f"IPv{i.family} not used") for i in every if i.family not in families]
    available = [i for i in every if i.family in families]
    if wanted:
        chosen: list[Interface] = []
        for want in wanted:
            matches = [i for i in available if want in (i.name, i.ip, i.host)]
            if not matches:
                names = ", ".join(f"{i.name} ({i.ip})" for i in available) or "none"
                raise NoInterfaceError.unknown(want, families, names)
            chosen.extend(m for m in matches if m not in chosen)
        skipped.extend(Skipped(i, "not asked for") for i in available if i not in chosen)
    else:
        # an interface with a public IPv4 address and no private one faces the internet
        public = {i.name for i in every if i.family == 4 and i.address.ip.is_global}
        public -= {i.name for i in every if i.family == 4 and not skip_reason(i)}
        chosen = []
        for interface in available:
            reason = skip_reason(interface, point_to_point)
            if reason is None and interface.family == 6 and interface.name in public:
                reason = "its IPv4 address is public (SSDP stays on LANs)"
            if reason is None:
                chosen.append(interface)
            else:
                skipped.append(Skipped(interface, reason))
        if not chosen:
            # IPv4 loopback (IPv6 multicast does not work on lo), if IPv4 is wanted
            chosen = [s.interface for s in skipped if s.interface.is_loopback
                      and s.interface.family == 4 and 4 in families]  # fmt: skip
            skipped = [s for s in skipped if s.interface not in chosen]
        if not chosen:
            raise NoInterfaceError(f"this host has no {kinds} interface to run SSDP on")
    excluded = [i for i in chosen if exclude & {i.name, i.ip, i.host}]
    chosen = [i for i in chosen if i not in excluded]
    skipped.extend(Skipped(i, "excluded") for i in excluded)
    if not chosen:
        raise NoInterfaceError("every interface is excluded")
    return chosen, skipped


def select_interfaces(
    available: Sequence[Interface],
    wanted: Iterable[str] = (),
    exclude: Iterable[str] = (),
    families: Collection[int] = FAMILIES,
) -> list[Interface]:
    """The interfaces L{choose_interfaces} chooses (without the reasons for the others)."""
    return choose_interfaces(available, wanted, exclude, families=families)[0]


def point_to_point_links(root: str = "/sys/class/net") -> set[str]:
    """The names of this host's point-to-point links (IFF_POINTOPOINT in their flags; Linux)."""
    found: set[str] = set()
    try:
        names = os.listdir(root)
    except OSError:
        return found
    for name in names:
        try:
            with open(os.path.join(root, name, "flags")) as f:
                if int(f.read().strip(), 16) & 0x10:
                    found.add(name)
        except (OSError, ValueError):
            continue
    return found


def lan_choice(
    wanted: Iterable[str] = (),
    exclude: Iterable[str] = (),
    families: Collection[int] = FAMILIES,
) -> tuple[list[Interface], list[Skipped]]:
    """L{choose_interfaces} over this host's interfaces."""
    return choose_interfaces(system_interfaces(), wanted, exclude, point_to_point_links(),
                             families)  # fmt: skip


def lan_interfaces(
    wanted: Iterable[str] = (), exclude: Iterable[str] = (), families: Collection[int] = FAMILIES
) -> list[Interface]:
    """The interfaces of this host to run SSDP on (see L{choose_interfaces})."""
    return lan_choice(wanted, exclude, families)[0]


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


def speakers(interfaces: Iterable[Interface], routable: bool = False) -> list[Interface]:
    """
    The interfaces that send multicast (NOTIFY, M-SEARCH): every IPv4 one, and
    one per IPv6 link: its link-local address (what a message to ff02::c goes
    from, so the LOCATION it names is its sender), or its first address when
    it has none. With C{routable}, a link's first global or ULA address comes
    first (a gateway search: miniupnpd answers a link-local asker from its
    link-local address with a global LOCATION, a global asker from its global
    one). A reply goes out on the record that matched its asker.
    """
    interfaces = list(interfaces)
    chosen = []
    for interface in interfaces:
        if interface.family == 4:
            chosen.append(interface)
            continue
        link = [i for i in interfaces if i.family == 6 and i.name == interface.name]
        preferred = [i for i in link if i.is_link_local != routable]
        if interface == (preferred[0] if preferred else link[0]):
            chosen.append(interface)
    return chosen


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


def route_source(host: str) -> str:
    """
    Our address on the route to C{host}: a UDP socket is connected (which
    sends nothing) and asked its own address.

    @raise OSError: when there is no route.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.connect((host, 9))
        return str(s.getsockname()[0])


def parse_ipv6_route(text: str) -> list[tuple[str, str]]:
    """
    The IPv6 default gateways in the text of Linux's C{/proc/net/ipv6_route},
    as (address, interface name): rows for ::/0 with a next hop and the
    RTF_GATEWAY flag. A link-local next hop comes with its zone
    (C{fe80::1%eth0}), which sending to it needs.
    """
    gateways = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 10 or fields[0] != "0" * 32 or fields[1] != "00":
            continue
        try:
            hop = ipaddress.IPv6Address(int(fields[4], 16))
            flags = int(fields[8], 16)
        except ValueError:
            continue
        if not flags & 0x2 or hop.is_unspecified:
            continue
        name = fields[9]
        address = f"{hop}%{name}" if hop.is_link_local else str(hop)
        if (address, name) not in gateways:
            gateways.append((address, name))
    return gateways


def default_gateways6() -> list[tuple[str, str]]:
    """This host's IPv6 default gateways and their interfaces (Linux; elsewhere none)."""
    try:
        with open("/proc/net/ipv6_route") as f:
            return parse_ipv6_route(f.read())
    except OSError:
        return []


def public_ipv6_addresses(names: Collection[str]) -> list[tuple[str, str]]:
    """(address, interface name) of every public IPv6 address on the interfaces C{names}."""
    from .mapping import is_public_ipv6

    found = []
    for adapter in ifaddr.get_adapters():
        if adapter.nice_name not in names:
            continue
        for ip in adapter.ips:
            if isinstance(ip.ip, tuple) and is_public_ipv6(ip.ip[0]):
                found.append((str(ipaddress.IPv6Address(ip.ip[0])), adapter.nice_name))
    return found
