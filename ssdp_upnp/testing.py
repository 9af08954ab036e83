"""
In-memory fakes for testing code that uses ssdp_upnp, or ssdp_upnp itself.

Twisted's L{MemoryReactorClock} has no C{listenUDP} or C{listenMulticast};
L{MemoryMulticastReactor} adds them, handing out L{MemoryDatagramPort}s that
record what is written, joined and set, and into which a test delivers
datagrams. No socket is ever opened. Both are checked against their Twisted
interfaces by the test suite (C{verifyObject}).
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import ip_address
from typing import Any

from twisted.internet import error
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import (
    IListeningPort,
    IMulticastTransport,
    IReactorMulticast,
    IReactorUDP,
)
from twisted.internet.protocol import AbstractDatagramProtocol
from twisted.internet.testing import MemoryReactorClock
from zope.interface import implementer


@dataclass(frozen=True)
class Sent:
    """One datagram written to a L{MemoryDatagramPort}."""

    data: bytes
    addr: tuple[str, int]
    interface: str


@implementer(IMulticastTransport, IListeningPort)
class MemoryDatagramPort:
    """A UDP/multicast port in memory."""

    def __init__(
        self,
        reactor: MemoryMulticastReactor,
        port: int,
        protocol: AbstractDatagramProtocol,
        interface: str,
        listen_multiple: bool,
    ) -> None:
        self.reactor = reactor
        self.port = port
        self.protocol = protocol
        self.interface = interface
        self.listen_multiple = listen_multiple
        self.sent: list[Sent] = []
        self.groups: set[tuple[str, str]] = set()
        self.ttl = 1
        self.loopback = True
        self.outgoing_interface = "0.0.0.0"
        self.listening = True
        self.connected_to: tuple[str, int] | None = None
        self.broadcast = False

    # IListeningPort
    def startListening(self) -> None:
        self.protocol.makeConnection(self)

    def stopListening(self) -> Deferred[None]:
        if self.listening:
            self.listening = False
            self.reactor.closed_ports.append(self)
            self.protocol.doStop()
        return succeed(None)

    def getHost(self) -> IPv4Address:
        return IPv4Address("UDP", self.interface or "0.0.0.0", self.port)

    # IUDPTransport
    def write(self, packet: bytes, addr: Any = None) -> None:
        if not self.listening:
            raise error.CannotListenError(self.interface, self.port, "port is closed")
        if addr is None:
            if self.connected_to is None:
                raise ValueError("write without an address on an unconnected port")
            addr = self.connected_to
        if not isinstance(packet, bytes):
            raise TypeError("datagrams are bytes")
        self.sent.append(Sent(packet, (str(addr[0]), int(addr[1])), self.outgoing_interface))

    def connect(self, host: str, port: int) -> None:
        self.connected_to = (host, port)

    def setBroadcastAllowed(self, enabled: bool) -> None:
        self.broadcast = enabled

    def getBroadcastAllowed(self) -> bool:
        return self.broadcast

    # IMulticastTransport
    def getOutgoingInterface(self) -> str:
        return self.outgoing_interface

    def setOutgoingInterface(self, addr: str | int) -> Deferred[int]:
        self.outgoing_interface = str(addr)
        return succeed(1)

    def getLoopbackMode(self) -> bool:
        return self.loopback

    def setLoopbackMode(self, mode: bool) -> None:
        self.loopback = bool(mode)

    def getTTL(self) -> int:
        return self.ttl

    def setTTL(self, ttl: int) -> None:
        self.ttl = ttl

    def joinGroup(self, addr: str, interface: str = "") -> Deferred[None]:
        if interface in self.reactor.failing_interfaces:
            return fail(error.MulticastJoinError(addr, interface, 19, "No such device"))
        self.groups.add((addr, interface))
        return succeed(None)

    def leaveGroup(self, addr: str, interface: str = "") -> Deferred[None]:
        self.groups.discard((addr, interface))
        return succeed(None)

    # for tests
    def deliver(self, data: bytes, addr: tuple[str, int]) -> None:
        """Hand C{data} from C{addr} to the protocol, as the reactor would."""
        self.protocol.datagramReceived(data, addr)

    def take(self) -> list[Sent]:
        """The datagrams sent since the last call."""
        sent, self.sent = self.sent, []
        return sent


@implementer(IReactorUDP, IReactorMulticast)
class MemoryMulticastReactor(MemoryReactorClock):
    """
    A L{MemoryReactorClock} (TCP, time) with in-memory UDP and multicast.

    C{failing_interfaces} holds interface addresses whose C{joinGroup} fails
    with ENODEV; C{busy_ports} holds ports C{listen*} refuses as in use
    (unless C{listenMultiple}).
    """

    def __init__(self) -> None:
        super().__init__()
        self.datagram_ports: list[MemoryDatagramPort] = []
        self.closed_ports: list[MemoryDatagramPort] = []
        self.failing_interfaces: set[str] = set()
        self.busy_ports: set[int] = set()
        self.tcp_ports: list[MemoryTCPPort] = []
        self._next_port = 40000

    def _listen(
        self,
        port: int,
        protocol: AbstractDatagramProtocol,
        interface: str,
        listen_multiple: bool,
    ) -> MemoryDatagramPort:
        if port in self.busy_ports and not listen_multiple:
            raise error.CannotListenError(interface, port, OSError(98, "Address already in use"))
        if port == 0:
            self._next_port += 1
            port = self._next_port
        udp = MemoryDatagramPort(self, port, protocol, interface, listen_multiple)
        self.datagram_ports.append(udp)
        udp.startListening()
        return udp

    def listenUDP(
        self,
        port: int,
        protocol: AbstractDatagramProtocol,
        interface: str = "",
        maxPacketSize: int = 8192,
    ) -> MemoryDatagramPort:
        return self._listen(port, protocol, interface, False)

    def listenMulticast(
        self,
        port: int,
        protocol: AbstractDatagramProtocol,
        interface: str = "",
        maxPacketSize: int = 8192,
        listenMultiple: bool = False,
    ) -> MemoryDatagramPort:
        return self._listen(port, protocol, interface, listenMultiple)

    def listenTCP(
        self, port: int, factory: Any, backlog: int = 50, interface: str = ""
    ) -> MemoryTCPPort:
        if port in self.busy_ports:
            raise error.CannotListenError(interface, port, OSError(98, "Address already in use"))
        if port == 0:
            self._next_port += 1
            port = self._next_port
        self.tcpServers.append((port, factory, backlog, interface))
        tcp = MemoryTCPPort(self, IPv4Address("TCP", interface or "0.0.0.0", port), factory)
        self.tcp_ports.append(tcp)
        return tcp

    def open_ports(self) -> list[MemoryDatagramPort]:
        return [p for p in self.datagram_ports if p.listening]


@implementer(IListeningPort)
class MemoryTCPPort:
    """A listening TCP port in memory, with its real port number and a record of closing."""

    def __init__(self, reactor: MemoryMulticastReactor, address: IPv4Address, factory: Any) -> None:
        self.reactor = reactor
        self.address = address
        self.factory = factory
        self.listening = True

    def startListening(self) -> None:
        pass

    def stopListening(self) -> Deferred[None]:
        self.listening = False
        return succeed(None)

    def getHost(self) -> IPv4Address:
        return self.address


class MemoryLAN:
    """
    Several hosts, each with its own L{MemoryMulticastReactor}, on one segment.

    L{flush} carries every datagram written since the last call: one sent to a
    multicast group reaches every open port of that number that joined the
    group (the sender's own host too, while its loopback mode is on); one sent
    to an address reaches one port of that number on that host, as
    SO_REUSEPORT does. L{advance} moves every clock together, flushing as it goes.
    """

    def __init__(self) -> None:
        self.hosts: dict[str, MemoryMulticastReactor] = {}
        self.delivered = 0

    def add_host(self, ip: str) -> MemoryMulticastReactor:
        reactor = MemoryMulticastReactor()
        self.hosts[ip] = reactor
        return reactor

    def _targets(
        self, sender: str, source: MemoryDatagramPort, sent: Sent
    ) -> list[MemoryDatagramPort]:
        group, port = sent.addr
        if ip_address(group).is_multicast:
            return [
                p
                for ip, reactor in self.hosts.items()
                if ip != sender or source.loopback
                for p in reactor.open_ports()
                if p.port == port and any(g == group for g, _ in p.groups)
            ]
        reactor = self.hosts.get(group)
        ports = [p for p in reactor.open_ports() if p.port == port] if reactor else []
        return ports[:1]

    def flush(self) -> int:
        """Deliver until nothing is left to deliver; return how many deliveries were made."""
        count = 0
        while True:
            moved = False
            for ip, reactor in list(self.hosts.items()):
                for source in reactor.datagram_ports:
                    for sent in source.take():
                        moved = True
                        for target in self._targets(ip, source, sent):
                            target.deliver(sent.data, (ip, source.port))
                            count += 1
            if not moved:
                self.delivered += count
                return count

    def advance(self, seconds: float, step: float = 0.05) -> None:
        """Advance every host's clock by C{seconds}, in steps of C{step}, flushing after each."""
        self.flush()
        remaining = seconds
        while remaining > 1e-9:
            tick = min(step, remaining)
            for reactor in self.hosts.values():
                reactor.advance(tick)
            self.flush()
            remaining -= tick
