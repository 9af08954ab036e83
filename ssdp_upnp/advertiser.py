"""
The SSDP advertiser: a node answers M-SEARCH and announces itself by NOTIFY.

L{SSDPAdvertiser} is the datagram protocol (it only moves bytes and time: the
messages come from L{ssdp_upnp.message}, the matching from
L{ssdp_upnp.search_target}); L{AdvertiserService} opens the multicast port on
1900 (shared with other SSDP stacks), joins the group on each interface,
serves the device description over HTTP on each interface
(L{ssdp_upnp._description_server}), and sends byebye when stopped.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any, cast

from twisted.application.service import Service
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred, DeferredList, gatherResults, maybeDeferred
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort, IMulticastTransport, IReactorTime
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger

from ._description_server import DescriptionLimits, DescriptionServer
from ._inbound import DropLog, Inbound, MessageHandler, SSDPReceiver
from ._multicast import GroupMembership, any_address, listen_multicast, send_to_group
from ._ratelimit import RateLimiter, TokenBucket
from ._timers import Timers
from ._types import ISSDPReactor
from ._version import SERVER
from .description import DESCRIPTION_PATH, config_id
from .errors import ConfigurationError, MessageError
from .lan import Interface, speakers
from .legacy import legacy_header
from .message import (
    DEFAULT_MAX_AGE,
    NTS,
    SSDP_HOST,
    SSDP_HOST6,
    SSDP_PORT,
    Headers,
    Notify,
    SearchRequest,
    SearchResponse,
    encode,
)
from .node import MAX_EXTERNAL6, NodeInfo, external6_header, external_header
from .search_target import Answer, match_search_target

__all__ = ["SERVER", "AdvertiserLimits", "AdvertiserService", "DescriptionLimits", "SSDPAdvertiser"]

#: Longest wait before answering a multicast M-SEARCH, whatever MX says.
MAX_MX = 5
#: Each set of alive NOTIFY is sent this many times, this many seconds apart (UDP is lossy).
ALIVE_REPEATS = 3
ALIVE_SPACING = 0.3


@dataclass(frozen=True)
class AdvertiserLimits:
    """
    How much answering a node does, whatever the LAN sends it: replies per
    second (and burst) per source and in all, and how many replies may wait
    for their random delay at once.
    """

    replies_per_second: float = 20.0
    reply_burst: float = 40.0
    total_replies_per_second: float = 200.0
    total_reply_burst: float = 400.0
    max_pending: int = 2048


class SSDPAdvertiser(SSDPReceiver):
    """
    Answers M-SEARCH and sends NOTIFY for one node.

    It owns which interfaces are served and at which LOCATION (L{serve_on},
    L{stop_serving}): only senders on the subnet of a served interface are
    answered, through the same inbound path as discovery (L{SSDPReceiver}).
    """

    log = Logger()

    def __init__(
        self,
        node: NodeInfo,
        boot_id: int,
        clock: IReactorTime,
        *,
        rng: random.Random | None = None,
        max_age: int = DEFAULT_MAX_AGE,
        server: str = SERVER,
        limits: AdvertiserLimits = AdvertiserLimits(),
        ssdp_port: int = SSDP_PORT,
        legacy: bool = True,
    ) -> None:
        if max_age < 1:
            raise ConfigurationError(f"max-age {max_age} must be at least 1 second")
        self._served: dict[Interface, str] = {}  # LOCATION by interface, in serving order
        super().__init__(self._served.keys(), DropLog(self.log, clock), self._message)
        self.node = node
        self.boot_id = boot_id
        self.config_id = config_id(node)
        self.clock = clock
        self.rng = rng or random.SystemRandom()
        self.max_age = max_age
        self.server = server
        self.limits = limits
        #: one answer per search carries the header 0.1.0 clients look for
        self.legacy = legacy
        # per source, and in all: many sources (spoofed or not) must not add up to a flood
        self.limiter = RateLimiter(limits.replies_per_second, limits.reply_burst, max_keys=4096)
        self.total_limiter = TokenBucket(limits.total_replies_per_second, limits.total_reply_burst)
        self.ssdp_port = ssdp_port
        self.replies_sent = 0
        self._pending = Timers(clock)  # replies waiting for their random delay
        self._announcing = Timers(clock)
        self.external: tuple[str, int] | None = None
        self.external6: tuple[tuple[str, int], ...] = ()
        #: between L{start_announcing} and L{stop}
        self.announcing = False
        self._answer_cache: dict[str, list[Answer]] = {}
        self._replies: dict[tuple[Answer, str, str | None], bytes] = {}
        self._replies_second = -1
        #: the multicast port of each address family (4 is also C{transport}, its own)
        self.transports: dict[int, IMulticastTransport] = {}
        #: told of every other message on the port (NOTIFY: the node's own discovery listens
        #: here, so that one socket on 1900 gets both unicast M-SEARCH and NOTIFY)
        self.listeners: list[MessageHandler] = []

    # -- what is served where

    @property
    def interfaces(self) -> list[Interface]:
        """The interfaces served, in the order they were added."""
        return list(self._served)

    @property
    def locations(self) -> Mapping[str, str]:
        """LOCATION URL by interface address (a link-local IPv6 one with its zone)."""
        return {interface.host: location for interface, location in self._served.items()}

    def serve_on(self, interface: Interface, location: str) -> None:
        """
        Answer searches from C{interface}'s subnet with C{location}, and
        announce there (at once if the node already announces).
        """
        new = interface not in self._served
        self._served[interface] = location
        if new and self.announcing:
            self._announce_on(interface)

    def stop_serving(self, interface: Interface) -> None:
        """
        Neither answer nor announce on C{interface} any more (it is gone): say
        byebye there first, while it can still be said.
        """
        if interface in self._served and self.announcing:
            for _ in range(2):
                self._send_set(NTS.BYEBYE, interface)
        self._served.pop(interface, None)

    def transport_for(self, family: int) -> IMulticastTransport | None:
        """The port that sends for C{family}, if open."""
        transport = self.transports.get(family)
        if transport is None and family == 4:
            return self.transport  # type: ignore[return-value]  # (a multicast port's)
        return transport

    @property
    def sending(self) -> bool:
        return any(self.transport_for(f) is not None for f in (4, 6))

    # -- receiving

    def _message(self, message: Inbound, host: str, port: int, interface: Interface) -> None:
        if type(message) is not SearchRequest:
            for listener in list(self.listeners):
                listener(message, host, port, interface)
            return
        # an M-SEARCH (read here, not in a method of its own: this runs for every search)
        if message.is_multicast:
            if message.mx is None:
                self.drops.drop("multicast M-SEARCH without MX", host, port)
                return
            if message.mx < 1:
                self.drops.drop("MX below 1", host, port)
                return
            window = float(min(message.mx, MAX_MX))
        else:
            window = 0.0
        location = self._served.get(interface)
        if location is None:
            return
        answers = self._answer_cache.get(message.st) or self._answers(message.st)
        now = self.clock.seconds()
        family = interface.family
        # one answer per search also tells a 0.1.0 client (IPv4 only) where we are
        legacy: str | None = interface.ip if self.legacy and family == 4 else None
        limiter = self.limiter
        for answer in answers:
            # (only a delayed reply waits: a unicast search's are sent at once)
            if window and len(self._pending) >= self.limits.max_pending:
                self.drops.drop("too many replies pending", host, port)
                return
            if not limiter.allow(host, now):
                self.drops.drop("reply rate limit", host, port)
                return
            if not self.total_limiter.allow(now):
                self.drops.drop("total reply rate limit", host, port)
                return
            if window:
                delay = self.rng.uniform(0.0, window)
                self._pending.later(delay, self._reply, answer, location, host, port, legacy,
                                    family)  # fmt: skip
            else:  # a unicast search: answered now, no timer per reply
                self._reply(answer, location, host, port, legacy, family, now)
            legacy = None

    def _answers(self, st: str) -> list[Answer]:
        """What a search for C{st} is answered with (remembered: nodes search alike)."""
        answers = self._answer_cache.get(st)
        if answers is None:
            answers = match_search_target(st, self.node.notification_types())
            if len(self._answer_cache) >= 256:  # STs are the LAN's to choose: bounded
                self._answer_cache.clear()
            self._answer_cache[st] = answers
        return answers

    def headers(self) -> Headers:
        """The vendor headers of every message: the node's, and its public addresses if known."""
        extra = self.node.headers()
        if self.external is not None:
            extra += (external_header(*self.external),)
        if self.external6:
            extra += (external6_header(self.external6),)
        return extra

    def set_external6(self, addresses: Sequence[tuple[str, int]]) -> None:
        """Advertise these public IPv6 addresses and ports (at most 4 kept), and announce now."""
        kept = tuple(addresses)[:MAX_EXTERNAL6]
        if kept == self.external6:
            return
        self.external6 = kept
        self._replies.clear()
        if self.sending:
            self._send_set(NTS.ALIVE)

    def set_external(self, external: tuple[str, int] | None) -> None:
        """Advertise C{external} (ip, port) as the node's public address, and announce it now."""
        if external == self.external:
            return
        self.external = external
        self._replies.clear()
        if self.sending:
            self._send_set(NTS.ALIVE)

    def response_for(
        self, answer: Answer, location: str, legacy_ip: str | None = None
    ) -> SearchResponse:
        """
        The response to send for one matched answer; with C{legacy_ip}, it also
        carries the header that leads a 0.1.0 client to C{legacy_ip} (first,
        as 0.1.0 reads only the first 1024 bytes).
        """
        extra = self.headers()
        if legacy_ip is not None:
            node = self.node
            extra = (legacy_header(node.product, node.network, legacy_ip, node.port), *extra)
        return SearchResponse(
            st=answer.st,
            usn=self.node.usn(answer.nt),
            location=location,
            max_age=self.max_age,
            server=self.server,
            boot_id=self.boot_id,
            config_id=self.config_id,
            date=formatdate(self.clock.seconds(), usegmt=True),
            extra=extra,
        )

    def _reply(
        self,
        answer: Answer,
        location: str,
        host: str,
        port: int,
        legacy_ip: str | None,
        family: int = 4,
        now: float | None = None,
    ) -> None:
        """Send the response to one answer to C{host}:C{port} (C{now}: the clock's time)."""
        transport = self.transport_for(family)
        if transport is None:
            return
        if now is None:
            now = self.clock.seconds()
        try:
            transport.write(self._response_bytes(answer, location, legacy_ip, now), (host, port))
        except (OSError, MessageError) as e:
            self.log.warn("cannot answer {host}:{port}: {error}", host=host, port=port, error=e)
            return
        self.replies_sent += 1

    def _response_bytes(
        self, answer: Answer, location: str, legacy_ip: str | None, now: float
    ) -> bytes:
        """
        The encoded L{response_for} at C{now}: the same bytes for the same answer
        within one second (its DATE), so they are built once per second, not per reply.
        """
        second = int(now)
        if second != self._replies_second:
            self._replies.clear()
            self._replies_second = second
        key = (answer, location, legacy_ip)
        data = self._replies.get(key)
        if data is None:
            data = encode(self.response_for(answer, location, legacy_ip))
            if len(self._replies) < 1024:
                self._replies[key] = data
        return data

    # -- announcing

    def notify_for(self, nts: NTS, nt: str, location: str | None, family: int = 4) -> Notify:
        return Notify(
            host=SSDP_HOST6 if family == 6 else SSDP_HOST,
            nts=nts,
            nt=nt,
            usn=self.node.usn(nt),
            location=location if nts is NTS.ALIVE else None,
            max_age=self.max_age if nts is NTS.ALIVE else None,
            server=self.server if nts is NTS.ALIVE else None,
            boot_id=self.boot_id,
            config_id=self.config_id,
            extra=self.headers(),
        )

    def _send_set(self, nts: NTS, only: Interface | None = None) -> None:
        """
        Send one set of NOTIFY (one per NT) on every interface (or C{only})
        with a LOCATION: once per IPv6 link, from its link-local address (see
        L{ssdp_upnp.lan.speakers}).
        """
        talking = speakers(self._served)
        for interface in [only] if only is not None else talking:
            location = self._served.get(interface)
            transport = self.transport_for(interface.family)
            if location is None or transport is None or interface not in talking:
                continue
            datagrams = [
                encode(self.notify_for(nts, nt, location, interface.family))
                for nt in self.node.notification_types()
            ]
            send_to_group(transport, interface, datagrams, self.ssdp_port)

    def _announce_on(self, interface: Interface) -> None:
        """Announce on a newly served interface: a few alive sets, 0-100 ms from now."""
        start = self.rng.uniform(0.0, 0.1)
        for i in range(ALIVE_REPEATS):
            self._announcing.later(start + i * ALIVE_SPACING, self._send_set, NTS.ALIVE, interface)

    def start_announcing(self) -> None:
        """Announce after 0-100 ms, repeat the set, and re-announce under max-age/2."""
        self.announcing = True
        start = self.rng.uniform(0.0, 0.1)
        for i in range(ALIVE_REPEATS):
            self._announcing.later(start + i * ALIVE_SPACING, self._send_set, NTS.ALIVE)
        again = self.rng.uniform(self.max_age / 4.0, self.max_age / 2.0)
        self._announcing.later(again, self.start_announcing)

    def stop(self) -> None:
        """Cancel every pending reply and announcement, then send byebye twice."""
        self.announcing = False
        self._pending.cancel_all()
        self._announcing.cancel_all()
        for _ in range(2):
            self._send_set(NTS.BYEBYE)


class AdvertiserService(Service):
    """
    Advertise one node on the given interfaces.

    C{startService} opens the multicast port C{ssdp_port} with
    C{listenMultiple=True} and, on each interface, the HTTP description
    server (port C{http_port}, 0 for any) and the group membership, then
    starts announcing. L{ready} fires with the interfaces that joined once the
    joins are done. C{stopService} sends byebye, leaves the groups and returns
    a Deferred that fires when every port is closed.

    L{update_interfaces} follows the host's interfaces while running (see
    L{ssdp_upnp.node_service.NodeService}); L{set_external} advertises the
    node's public address.

    @ivar interfaces: the interfaces to advertise on (what is served now is
        C{protocol.interfaces}: the same, less those that could not be served).
    """

    log = Logger()

    def __init__(
        self,
        node: NodeInfo,
        boot_id: int,
        reactor: ISSDPReactor,
        interfaces: Sequence[Interface],
        http_port: int = 0,
        max_age: int = DEFAULT_MAX_AGE,
        ttl: int = 2,
        rng: random.Random | None = None,
        ssdp_port: int = SSDP_PORT,
        limits: AdvertiserLimits = AdvertiserLimits(),
        legacy: bool = True,
        http_limits: DescriptionLimits | None = None,
        site_scope: bool = True,
    ) -> None:
        if not interfaces:
            raise ConfigurationError("an advertiser needs at least one interface")
        if not 1 <= ttl <= 255:
            raise ConfigurationError(f"TTL {ttl} is not in 1..255")
        self.node = node
        self.reactor = reactor
        self.interfaces = list(interfaces)
        self.http_port = http_port
        self.ttl = ttl
        self.ssdp_port = ssdp_port
        self.protocol = SSDPAdvertiser(
            node, boot_id, reactor, rng=rng, max_age=max_age, ssdp_port=ssdp_port, limits=limits,
            legacy=legacy,
        )  # fmt: skip
        self.ready: Deferred[list[Interface]] = Deferred()
        self._site = DescriptionServer(
            node, reactor, self.protocol.on_link, self.protocol.server,
            http_limits or DescriptionLimits(),
        )  # fmt: skip
        self._groups: dict[int, GroupMembership] = {}
        self._http: dict[Interface, IListeningPort] = {}
        #: join ff05::c too on IPv6 links with a global or ULA address
        self.site_scope = site_scope

    @property
    def locations(self) -> Mapping[str, str]:
        """LOCATION URL by interface address, while running."""
        return self.protocol.locations

    @property
    def joined(self) -> list[Interface]:
        """The interfaces on which the SSDP group is joined, IPv4 first."""
        return [i for f in sorted(self._groups) for i in self._groups[f].joined]

    def set_external(self, external: tuple[str, int] | None) -> None:
        """Advertise C{external} (ip, port) as the node's public address (None: none)."""
        self.protocol.set_external(external)

    def set_external6(self, addresses: Sequence[tuple[str, int]]) -> None:
        """Advertise these (IPv6 address, port) as the node's public IPv6 addresses."""
        self.protocol.set_external6(addresses)

    def _serve(self, interface: Interface) -> None:
        """Start the description server on C{interface}, then serve SSDP there."""
        port = self.reactor.listenTCP(self.http_port, self._site, interface=interface.host)
        self._http[interface] = port
        address = cast(IPv4Address | IPv6Address, port.getHost())
        location = f"http://{interface.url_host}:{address.port}{DESCRIPTION_PATH}"
        self.protocol.serve_on(interface, location)

    def _open(self, family: int) -> GroupMembership:
        """The multicast port of C{family} on C{ssdp_port}, opened if it is not yet."""
        group = self._groups.get(family)
        if group is not None:
            return group
        receiver = self.protocol if family == 4 else _Relay(self.protocol)
        udp = listen_multicast(self.reactor, self.ssdp_port, receiver, any_address(family),
                               listen_multiple=True)  # fmt: skip
        udp.setTTL(self.ttl)
        self.protocol.transports[family] = udp
        group = self._groups[family] = GroupMembership(udp, site=self.site_scope)
        return group

    def _unserve(self, interface: Interface) -> None:
        self.protocol.stop_serving(interface)
        port = self._http.pop(interface, None)
        if port is not None:
            maybeDeferred(port.stopListening)

    def startService(self) -> None:
        try:
            for interface in self.interfaces:
                try:
                    self._serve(interface)
                except CannotListenError as e:
                    if interface.family == 4:
                        raise
                    # an IPv6 address can go (or be refused) between the look and now
                    self.log.error("cannot serve the description on {ip}: {error}",
                                   ip=interface.host, error=e)  # fmt: skip
            for family in sorted({i.family for i in self.interfaces}):
                self._open(family)
        except Exception:
            self._close_http()
            for group in self._groups.values():
                group.close()
            self._groups.clear()
            self.protocol.transports.clear()
            raise
        super().startService()
        joins = [self._groups[i.family].join(i) for i in self.protocol.interfaces]
        DeferredList(joins).addCallback(lambda _: self.ready.callback(self.joined))
        self.protocol.start_announcing()
        self.log.info(
            "advertising {product} node {uuid} (network {network}, port {port}, boot id"
            " {boot_id}) at {locations}",
            product=self.node.product,
            uuid=self.node.uuid,
            network=self.node.network,
            port=self.node.port,
            boot_id=self.protocol.boot_id,
            locations=sorted(self.protocol.locations.values()),
        )

    def update_interfaces(self, current: Sequence[Interface]) -> None:
        """
        Advertise on C{current} from now on: stop serving and leave the group on
        interfaces (or addresses) that are gone; serve, join and announce on new ones.
        """
        self.interfaces = list(current)
        if not self.running:
            return
        for interface in [i for i in self.protocol.interfaces if i not in current]:
            self._unserve(interface)
            if interface.family in self._groups:
                self._groups[interface.family].leave(interface)
            self.log.info("no longer advertising on {name} ({ip})", name=interface.name,
                          ip=interface.ip)  # fmt: skip
        for interface in [i for i in current if i not in self.protocol.interfaces]:
            try:
                group = self._open(interface.family)
                self._serve(interface)
            except CannotListenError as e:
                self.log.error("cannot serve the description on {ip}: {error}",
                               ip=interface.ip, error=e)  # fmt: skip
                continue
            group.join(interface)
            self.log.info("now advertising on {name} at {location}", name=interface.name,
                          location=self.protocol.locations[interface.host])  # fmt: skip

    def _close_http(self) -> list[Deferred[Any]]:
        closing = [maybeDeferred(port.stopListening) for port in self._http.values()]
        for interface in list(self._http):
            self.protocol.stop_serving(interface)
        self._http.clear()
        return closing

    def stopService(self) -> Deferred[None]:
        super().stopService()
        self.protocol.stop()
        closing: list[Deferred[Any]] = [group.close() for group in self._groups.values()]
        self._groups.clear()
        self.protocol.transports.clear()
        closing.extend(self._close_http())
        return gatherResults(closing).addCallback(lambda _: None)


class _Relay(DatagramProtocol):
    """The protocol of the advertiser's IPv6 port: its datagrams go the advertiser's way."""

    noisy = False

    def __init__(self, advertiser: SSDPAdvertiser) -> None:
        self.advertiser = advertiser

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.advertiser.datagramReceived(datagram, addr)
