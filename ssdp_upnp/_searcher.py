"""
M-SEARCH from an ephemeral port on each interface, shared by peer discovery,
gateway discovery and the command line.

A control point must not search from port 1900 (PROTOCOL.md). L{Searcher}
opens one port per interface, bound to the interface's address, sends each
M-SEARCH several times a little apart (UDP is lossy), and hands every answer
that passes the inbound checks to its handler.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IMulticastTransport

from ._inbound import DropLog, MessageHandler, SSDPReceiver
from ._multicast import close_port, listen_multicast, send_to_group
from ._timers import Timers
from ._types import ISSDPReactor
from .lan import Interface, interface_for, speakers
from .message import SSDP_HOST, SSDP_HOST6, SSDP_PORT, SearchRequest, encode


class Searcher:
    def __init__(
        self,
        reactor: ISSDPReactor,
        interfaces: Sequence[Interface],
        handler: MessageHandler,
        drops: DropLog,
        *,
        ttl: int = 2,
        ssdp_port: int = SSDP_PORT,
        legacy: bool = False,
        routable: bool = False,
    ) -> None:
        self.reactor = reactor
        #: search from an IPv6 link's global or ULA address (see L{ssdp_upnp.lan.speakers})
        self.routable = routable
        # shared with the receivers: what L{add}/L{remove} change, they see
        self.interfaces = interfaces if isinstance(interfaces, list) else list(interfaces)
        self.handler = handler
        self.drops = drops
        self.ttl = ttl
        self.ssdp_port = ssdp_port
        #: also take 0.1.0 nodes' answers (see L{ssdp_upnp.legacy})
        self.legacy = legacy
        self.ports: list[tuple[Interface, IMulticastTransport]] = []
        self._timers = Timers(reactor)

    def open(self) -> None:
        """
        Open a port on each interface that searches (one per IPv6 link: see
        L{ssdp_upnp.lan.speakers}); on failure close what was opened and raise.
        """
        try:
            self._follow()
        except Exception:
            self.close()
            raise

    def _open(self, interface: Interface) -> None:
        receiver = SSDPReceiver(self.interfaces, self.drops, self.handler, self.legacy)
        port = listen_multicast(self.reactor, 0, receiver, interface.host)
        port.setTTL(self.ttl)
        self.ports.append((interface, port))

    def _follow(self) -> None:
        """Close the ports of records that no longer search, open those of new ones."""
        wanted = speakers(self.interfaces, self.routable)
        for entry in [e for e in self.ports if e[0] not in wanted]:
            self.ports.remove(entry)
            close_port(entry[1])
        open_on = [i for i, _ in self.ports]
        for interface in wanted:
            if interface not in open_on:
                self._open(interface)

    def add(self, interface: Interface) -> None:
        """
        Search on C{interface} too (an interface or address that appeared).

        @raise CannotListenError: its port cannot be opened (it is not added).
        """
        if interface not in self.interfaces:
            self.interfaces.append(interface)
        try:
            self._follow()
        except Exception:
            self.interfaces.remove(interface)
            raise

    def remove(self, interface: Interface) -> None:
        """Stop searching on C{interface} (gone)."""
        if interface in self.interfaces:
            self.interfaces.remove(interface)
        self._follow()

    def search(
        self, targets: Sequence[str], mx: int, repeats: int = 3, spacing: float = 0.5
    ) -> None:
        """Send an M-SEARCH per target on each interface, C{repeats} times C{spacing} apart."""
        datagrams = {
            family: [encode(SearchRequest(st=st, mx=mx, host=host)) for st in targets]
            for family, host in ((4, SSDP_HOST), (6, SSDP_HOST6))
        }
        for i in range(repeats):
            self.later(i * spacing, self._send, datagrams)

    def search_unicast(
        self, hosts: Sequence[str], targets: Sequence[str], repeats: int = 3, spacing: float = 0.5
    ) -> None:
        """
        Also send each M-SEARCH straight to each of C{hosts} (no MX: the answer
        is due within a second), from the port of the interface whose subnet
        holds it; hosts on no subnet of ours are skipped.
        """
        for host in hosts:
            link = interface_for(self.interfaces, host)
            if link is None:
                continue
            # the port of that very address, else the one of its link (IPv6: one per link)
            ports = sorted(self.ports, key=lambda entry: entry[0] != link)
            for interface, port in ports:
                if (interface.family, interface.name) == (link.family, link.name):
                    named = f"[{host.split('%')[0]}]" if link.family == 6 else host
                    datagrams = [
                        encode(SearchRequest(st=st, mx=None, host=f"{named}:{self.ssdp_port}"))
                        for st in targets
                    ]
                    for i in range(repeats):
                        self.later(i * spacing, self._send_to, port, host, datagrams)
                    break

    def _send_to(self, port: IMulticastTransport, host: str, datagrams: list[bytes]) -> None:
        for datagram in datagrams:
            try:
                port.write(datagram, (host, self.ssdp_port))
            except OSError:
                pass  # an unreachable gateway answers nothing, which the search reports

    def later(self, delay: float, f: Callable[..., object], *args: Any) -> None:
        """Call C{f(*args)} after C{delay} seconds unless L{close} comes first."""
        self._timers.later(delay, f, *args)

    def _send(self, datagrams: dict[int, list[bytes]]) -> None:
        for interface, port in self.ports:
            send_to_group(port, interface, datagrams[interface.family], self.ssdp_port)

    def close(self) -> list[Deferred[None]]:
        """Cancel what is scheduled and close the ports; the Deferreds fire when closed."""
        self._timers.cancel_all()
        closing = [close_port(port) for _, port in self.ports]
        self.ports.clear()
        return closing
