"""
Small helpers around Twisted's multicast transport, shared by the services,
for both address families.

They keep the Deferreds of C{setOutgoingInterface}, C{joinGroup},
C{leaveGroup} and C{stopListening} instead of dropping them.
L{GroupMembership} is which interfaces one port has joined the SSDP group on.

Twisted's IPv6 multicast gets three things wrong (PROTOCOL.md): C{joinGroup}
with an interface packs an address where the kernel wants an interface index,
C{setTTL} leaves the hop limit alone, and received addresses lose their
scope, so a link-local sender cannot be told from one on another link.
L{ScopedMulticastPort} is Twisted's port with those three done right (and
IPV6_V6ONLY, so that IPv4 never arrives as C{::ffff:a.b.c.d}); on an IPv6
port, C{joinGroup} and C{setOutgoingInterface} take an interface name and
a link-local sender comes as C{fe80::1%eth0}. Its C{write} sends to an
address literal of its family at once (Twisted checks each address four
times, ~4 us a datagram here), except that unicast written while it hands
on what it read waits for the end of that batch (L{ScopedMulticastPort.doRead}).
L{listen_multicast} opens one, for either family, on a real reactor, and asks
the reactor as usual otherwise (the in-memory fakes of L{ssdp_upnp.testing}
already speak that way).
"""

from __future__ import annotations

import errno
import socket
import struct
import sys
from collections.abc import Sequence
from typing import Any, cast

from twisted.internet import udp
from twisted.internet.defer import Deferred, DeferredList, fail, succeed
from twisted.internet.error import CannotListenError, MulticastJoinError
from twisted.internet.interfaces import IListeningPort, IMulticastTransport
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from ._types import ISSDPReactor
from .lan import Interface
from .message import SSDP_GROUP, SSDP_GROUP6, SSDP_PORT, SSDP_SITE_GROUP6

log = Logger()

#: recvfrom errors that mean nothing (more) to read, and those that tell of an
#: earlier send refused (Twisted's lists, for POSIX and Windows)
_READ_NOTHING = frozenset(
    getattr(errno, name)
    for name in ("EAGAIN", "EWOULDBLOCK", "EINTR",
                 "WSAEWOULDBLOCK", "WSAEINTR", "WSAEMSGSIZE", "WSAEINPROGRESS")
    if hasattr(errno, name)
)  # fmt: skip
_READ_REFUSED = frozenset(
    getattr(errno, name)
    for name in ("ECONNREFUSED", "WSAECONNREFUSED", "WSAECONNRESET", "WSAENETRESET",
                 "WSAETIMEDOUT")
    if hasattr(errno, name)
)  # fmt: skip

#: How many datagrams L{ScopedMulticastPort.doRead} hands on before it sends the
#: unicast written meanwhile, and the largest datagram that may wait so (a larger
#: one is written at once, so that its error, if any, is the writer's).
BATCH = 64
_MAX_WAITING = 8192

#: Linux's IPV6_MULTICAST_ALL (not in Python's socket module): 0 delivers only
#: the groups this socket joined, not those other programs joined.
_IPV6_MULTICAST_ALL = getattr(socket, "IPV6_MULTICAST_ALL", 29)


def _index(interface: str | int) -> int:
    """An interface index from its name or its index (as given to joinGroup)."""
    if isinstance(interface, int):
        return interface
    if interface.isdigit():
        return int(interface)
    return socket.if_nametoindex(interface)


class ScopedMulticastPort(udp.MulticastPort):
    """Twisted's multicast port, with IPv6 multicast done right (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._zones: dict[int, str] = {}
        #: unicast written during doRead, sent after each batch (None outside doRead)
        self._waiting: list[tuple[bytes, tuple[str, int]]] | None = None
        #: the first byte of a multicast address of this port's family
        self._multicast_from = 0xFF if self.addressFamily == socket.AF_INET6 else 224

    def createInternetSocket(self) -> socket.socket:
        skt = super().createInternetSocket()
        if self.addressFamily == socket.AF_INET6:
            skt.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                skt.setsockopt(socket.IPPROTO_IPV6, _IPV6_MULTICAST_ALL, 0)
            except OSError:
                pass  # an older kernel: the on-link check still drops other links' senders
        return skt

    def _bindSocket(self) -> None:
        if self.addressFamily == socket.AF_INET6 and self._preexistingSocket is None:
            # Twisted binds (host, port): a link-local host's zone would be lost (EINVAL)
            try:
                skt = self.createInternetSocket()
                where = socket.getaddrinfo(self.interface, self.port, socket.AF_INET6,
                                           socket.SOCK_DGRAM)[0][4]  # fmt: skip
                skt.bind(where)
            except OSError as e:
                raise CannotListenError(self.interface, self.port, e) from None
            self._preexistingSocket = skt  # type: ignore[assignment]
        super()._bindSocket()

    def write(self, datagram: bytes, addr: tuple[str, int] | None = None) -> None:
        """
        Twisted's C{write}, sending at once to an address literal of this
        port's family (every address we send to: a sender's, a group).
        Anything else (a name, a zone, the other family, a connected port)
        and any error go through Twisted's C{write}, its checks and its
        handling of EINTR, EMSGSIZE and ECONNREFUSED (a failed C{sendto} sent
        nothing, so nothing is sent twice).
        """
        if addr is not None and self._connectedAddr is None:
            try:
                packed = socket.inet_pton(self.addressFamily, addr[0])
            except (OSError, TypeError, ValueError):
                pass
            else:
                waiting = self._waiting
                if (
                    waiting is not None
                    and packed[0] < self._multicast_from
                    and len(datagram) <= _MAX_WAITING
                ):
                    # (multicast goes at once: its interface is the socket's now)
                    waiting.append((datagram, addr))
                else:
                    self._send(datagram, addr)
                return
        super().write(datagram, addr)

    def _send(self, datagram: bytes, addr: tuple[str, int]) -> None:
        """C{sendto} an address literal; on an error, Twisted's C{write} and its handling."""
        try:
            self.socket.sendto(datagram, addr)
        except OSError:
            super().write(datagram, addr)

    def _send_waiting(self, waiting: list[tuple[bytes, tuple[str, int]]]) -> None:
        """Send what waited, in order; a datagram that cannot be sent is logged and dropped."""
        for datagram, addr in waiting:
            try:
                self._send(datagram, addr)
            except Exception as e:
                log.warn("cannot send to {host}:{port}: {error}",
                         host=addr[0], port=addr[1], error=e)  # fmt: skip
        waiting.clear()

    def _zone(self, index: int) -> str:
        zone = self._zones.get(index)
        if zone is None:
            try:
                zone = socket.if_indextoname(index)
            except OSError:
                zone = str(index)
            self._zones[index] = zone
        return zone

    def doRead(self) -> None:
        """
        Hand on what the socket holds, as Twisted does (up to C{maxThroughput}
        bytes a turn), but send the unicast the protocol writes meanwhile after
        each L{BATCH} datagrams and at the end, not one by one: under a load
        the peers get their answers in bursts, and this process and theirs
        wake once a burst, not once a datagram (about a quarter less CPU per
        reply here). An IPv6 sender's address keeps its zone.
        """
        waiting: list[tuple[bytes, tuple[str, int]]] = []
        self._waiting = waiting
        scoped = self.addressFamily == socket.AF_INET6
        read = handled = 0
        try:
            while read < self.maxThroughput:
                try:
                    data, addr = self.socket.recvfrom(self.maxPacketSize)
                except OSError as e:
                    if e.errno in _READ_REFUSED and self._connectedAddr:
                        self.protocol.connectionRefused()
                    elif e.errno not in _READ_NOTHING and e.errno not in _READ_REFUSED:
                        raise
                    return
                read += len(data)
                if scoped:
                    host = addr[0]
                    if addr[3] and "%" not in host:
                        host = f"{host}%{self._zone(addr[3])}"
                    addr = (host, addr[1])
                try:
                    self.protocol.datagramReceived(data, addr)
                except BaseException:
                    log.failure("datagramReceived raised")
                handled += 1
                if handled % BATCH == 0 and waiting:
                    self._send_waiting(waiting)
        finally:
            self._waiting = None
            if waiting:
                self._send_waiting(waiting)

    def _membership(self, option: int, addr: str, interface: str | int) -> Deferred[None]:
        try:
            mreq = socket.inet_pton(socket.AF_INET6, addr) + struct.pack("@I", _index(interface))
            self.socket.setsockopt(socket.IPPROTO_IPV6, option, mreq)
        except OSError as e:
            return fail(MulticastJoinError(addr, interface, e.errno, e.strerror))
        return succeed(None)

    def joinGroup(self, addr: str, interface: str = "") -> Deferred[None]:
        if self.addressFamily != socket.AF_INET6:
            return super().joinGroup(addr, interface)
        return self._membership(socket.IPV6_JOIN_GROUP, addr, interface or 0)

    def leaveGroup(self, addr: str, interface: str = "") -> Deferred[None]:
        if self.addressFamily != socket.AF_INET6:
            return super().leaveGroup(addr, interface)
        return self._membership(socket.IPV6_LEAVE_GROUP, addr, interface or 0)

    def setTTL(self, ttl: int) -> None:
        if self.addressFamily != socket.AF_INET6:
            return super().setTTL(ttl)
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, ttl)

    def getTTL(self) -> int:
        if self.addressFamily != socket.AF_INET6:
            return super().getTTL()
        return self.socket.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS)

    def setOutgoingInterface(self, addr: str | int) -> Deferred[int]:
        if self.addressFamily != socket.AF_INET6:
            return super().setOutgoingInterface(addr)
        try:
            index = _index(addr)
            self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
        except OSError as e:
            return fail(e)
        return succeed(1)


def listen_multicast(
    reactor: ISSDPReactor,
    port: int,
    protocol: DatagramProtocol,
    interface: str = "",
    listen_multiple: bool = False,
) -> IMulticastTransport:
    """
    C{reactor.listenMulticast}, as a L{ScopedMulticastPort} when the reactor
    is a real one (IPv6 for an C{interface} with a colon, C{"::"} for any).
    """
    # a real reactor's module is loaded if one runs (importing it here would load TCP and TLS)
    posixbase = sys.modules.get("twisted.internet.posixbase")
    if posixbase is None or not isinstance(reactor, posixbase.PosixReactorBase):
        return reactor.listenMulticast(port, protocol, interface, listenMultiple=listen_multiple)
    p = ScopedMulticastPort(port, protocol, interface, reactor=reactor,
                            listenMultiple=listen_multiple)  # fmt: skip
    p.startListening()
    return cast(IMulticastTransport, p)


def any_address(family: int) -> str:
    """The address a port of C{family} listens on for every interface."""
    return "::" if family == 6 else ""


def group_address(interface: Interface) -> tuple[str, str]:
    """Where multicast to C{interface}'s link goes: (group, address to write to)."""
    if interface.family == 6:
        return SSDP_GROUP6, f"{SSDP_GROUP6}%{interface.name}"
    return SSDP_GROUP, SSDP_GROUP


def send_to_group(
    transport: IMulticastTransport,
    interface: Interface,
    datagrams: Sequence[bytes],
    port: int = SSDP_PORT,
) -> Deferred[None]:
    """
    Send C{datagrams} to the SSDP group out of C{interface} (IPv6: to ff02::c
    with the interface as its zone, which picks the link).

    @return: a Deferred that fires when they are written; a failure to send
        (an interface gone down) is logged and swallowed.
    """
    group, destination = group_address(interface)

    def write(_: object) -> None:
        for datagram in datagrams:
            transport.write(datagram, (destination, port))

    def failed(failure: Failure) -> None:
        log.warn(
            "cannot send to {group} on {interface}: {error}",
            group=group,
            interface=interface.ip,
            error=failure.getErrorMessage(),
        )

    if interface.family == 6:
        try:
            write(None)
        except OSError as e:
            failed(Failure(e))
        return succeed(None)
    d = transport.setOutgoingInterface(interface.ip)
    return d.addCallback(write).addErrback(failed)


def close_port(transport: IMulticastTransport) -> Deferred[None]:
    """Stop listening on a multicast port (that has joined no group)."""
    stopped = cast(IListeningPort, transport).stopListening()
    return stopped if isinstance(stopped, Deferred) else succeed(None)


class GroupMembership:
    """
    The interfaces on which one multicast port has joined the SSDP group.

    IPv4 joins 239.255.255.250 per address. IPv6 joins ff02::c once per
    interface (a membership is the link's, whatever its addresses), and, with
    C{site}, ff05::c too on an interface with a global or ULA address.

    A failed join is logged (multicast on that interface will not be
    received) and not counted; leaving an interface never joined is a no-op.
    """

    def __init__(self, transport: IMulticastTransport, site: bool = True) -> None:
        self.transport = transport
        self.site = site
        self._joined: list[Interface] = []
        # IPv6: the records on each (group, interface name) joined
        self._links: dict[tuple[str, str], set[Interface]] = {}

    @property
    def joined(self) -> list[Interface]:
        """The interfaces joined, in the order they were."""
        return list(self._joined)

    def _groups(self, interface: Interface) -> list[tuple[str, str]]:
        """The (group, interface argument) memberships that C{interface} needs."""
        if interface.family == 4:
            return [(SSDP_GROUP, interface.ip)]
        groups = [(SSDP_GROUP6, interface.name)]
        if self.site and not interface.is_link_local:
            groups.append((SSDP_SITE_GROUP6, interface.name))
        return groups

    def join(self, interface: Interface) -> Deferred[None]:
        """Join the group on C{interface}; the Deferred fires when done (never fails)."""

        def done(_: object) -> None:
            self._joined.append(interface)

        def failed(failure: Failure, group: str, where: str) -> None:
            self._links.pop((group, where), None)
            error = failure.value
            if isinstance(error, MulticastJoinError) and errno.EADDRINUSE in error.args:
                # a second address of an interface already joined: the membership is per device
                log.info(
                    "{group} already joined on the device of {interface}",
                    group=group,
                    interface=interface.ip,
                )
            else:
                log.error(
                    "cannot join {group} on {interface} ({name}): {error}; multicast on it"
                    " will not be received",
                    group=group,
                    interface=interface.ip,
                    name=interface.name,
                    error=failure.getErrorMessage(),
                )
            raise _NotJoined()

        joins = []
        for group, where in self._groups(interface):
            records = self._links.get((group, where))
            if records:  # IPv6: this link is already in the group
                records.add(interface)
                continue
            if interface.family == 6:
                self._links[(group, where)] = {interface}
            d = self.transport.joinGroup(group, where)
            joins.append(d.addErrback(failed, group, where))
        if not joins:
            done(None)
            return succeed(None)

        def all_done(results: list[tuple[bool, None]]) -> None:
            if any(ok for ok, _ in results):
                done(None)

        finished: Deferred[None] = DeferredList(joins, consumeErrors=True).addCallback(all_done)
        return finished

    def _leave(self, interface: Interface) -> list[Deferred[None]]:
        leaves = []
        for group, where in self._groups(interface):
            if interface.family == 6:
                records = self._links.get((group, where))
                if records is None:
                    continue
                records.discard(interface)
                if records:
                    continue  # another address of the link still wants the group
                del self._links[(group, where)]
            leaves.append(self.transport.leaveGroup(group, where))
        return leaves

    def leave(self, interface: Interface) -> Deferred[None]:
        """Leave the group on C{interface} if joined; a failure (the interface is already
        gone) is expected and ignored."""
        if interface not in self._joined:
            return succeed(None)
        self._joined.remove(interface)
        leaves = self._leave(interface)
        return DeferredList(leaves, consumeErrors=True).addCallback(lambda _: None)

    def close(self) -> Deferred[None]:
        """Leave the group on every interface joined, then stop listening."""
        leaves = [d for i in self._joined for d in self._leave(i)]
        self._joined.clear()
        self._links.clear()
        return DeferredList(leaves, consumeErrors=True).addCallback(
            lambda _: close_port(self.transport)
        )


class _NotJoined(Exception):
    """A join that failed (already logged)."""
