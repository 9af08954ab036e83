"""
The SSDP advertiser: a node answers M-SEARCH and announces itself by NOTIFY.

L{SSDPAdvertiser} is the datagram protocol (it only moves bytes and time: the
messages come from L{ssdp_upnp.message}, the matching from
L{ssdp_upnp.search_target}); L{AdvertiserService} opens the multicast port on
1900 (shared with other SSDP stacks), joins the group on each interface,
serves the device description over HTTP on each interface, and sends byebye
when stopped.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from email.utils import formatdate
from typing import Any, cast

from twisted.application.service import Service
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, DeferredList, gatherResults, maybeDeferred
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import (
    IListeningPort,
    IMulticastTransport,
    IReactorMulticast,
    IReactorTCP,
    IReactorTime,
)
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger
from twisted.web.iweb import IRequest
from twisted.web.pages import notFound
from twisted.web.resource import IResource, Resource
from twisted.web.server import Site

from ._inbound import DropLog, accept
from ._multicast import close_multicast, join_group, leave_group, send_to_group
from ._ratelimit import RateLimiter
from ._timers import Timers
from ._version import __version__
from .description import (
    DESCRIPTION_PATH,
    SCPD_PATH,
    build_device_description,
    build_scpd,
    config_id,
)
from .errors import ConfigurationError, MessageError
from .lan import Interface
from .message import (
    DEFAULT_MAX_AGE,
    NTS,
    SSDP_PORT,
    Headers,
    Notify,
    SearchRequest,
    SearchResponse,
    encode,
)
from .node import NodeInfo, external_header
from .search_target import Answer, match_search_target

#: Longest wait before answering a multicast M-SEARCH, whatever MX says.
MAX_MX = 5
SERVER = f"Linux/1 UPnP/1.1 ssdp_upnp/{__version__}"


class SSDPAdvertiser(DatagramProtocol):
    """
    Answers M-SEARCH and sends NOTIFY for one node.

    @ivar locations: LOCATION URL by interface address; an interface without
        one is not answered on (its HTTP server is not up).
    """

    log = Logger()
    noisy = False

    def __init__(
        self,
        node: NodeInfo,
        boot_id: int,
        interfaces: Sequence[Interface],
        clock: IReactorTime,
        rng: random.Random | None = None,
        max_age: int = DEFAULT_MAX_AGE,
        server: str = SERVER,
        replies_per_second: float = 20.0,
        reply_burst: float = 40.0,
        total_replies_per_second: float = 200.0,
        total_reply_burst: float = 400.0,
        max_pending: int = 2048,
        alive_repeats: int = 3,
        alive_spacing: float = 0.3,
        ssdp_port: int = SSDP_PORT,
    ) -> None:
        if max_age < 1:
            raise ConfigurationError(f"max-age {max_age} must be at least 1 second")
        self.node = node
        self.boot_id = boot_id
        self.config_id = config_id(node)
        self.interfaces = list(interfaces)
        self.clock = clock
        self.rng = rng or random.SystemRandom()
        self.max_age = max_age
        self.server = server
        # per source, and in all: many sources (spoofed or not) must not add up to a flood
        self.limiter = RateLimiter(replies_per_second, reply_burst, max_keys=4096)
        self.total_limiter = RateLimiter(total_replies_per_second, total_reply_burst, max_keys=1)
        self.max_pending = max_pending
        self.alive_repeats = alive_repeats
        self.alive_spacing = alive_spacing
        self.ssdp_port = ssdp_port
        self.locations: dict[str, str] = {}
        self.drops = DropLog(self.log, clock)
        self.replies_sent = 0
        self._pending = Timers(clock)  # replies waiting for their random delay
        self._announcing = Timers(clock)
        self.multicast: IMulticastTransport | None = None
        self.external: tuple[str, int] | None = None

    # -- receiving

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        accepted = accept(datagram, addr, self.interfaces, self.drops)
        if accepted is not None and isinstance(accepted[0], SearchRequest):
            self._search_received(accepted[0], accepted[1], addr[0], addr[1])

    def _search_received(
        self, search: SearchRequest, interface: Interface, host: str, port: int
    ) -> None:
        if search.is_multicast:
            if search.mx is None:
                self.drops.drop("multicast M-SEARCH without MX", host, port)
                return
            if search.mx < 1:
                self.drops.drop("MX below 1", host, port)
                return
            window = float(min(search.mx, MAX_MX))
        else:
            window = 0.0
        location = self.locations.get(interface.ip)
        if location is None:
            return
        answers = match_search_target(search.st, self.node.notification_types())
        now = self.clock.seconds()
        for answer in answers:
            if len(self._pending) >= self.max_pending:
                self.drops.drop("too many replies pending", host, port)
                return
            if not self.limiter.allow(host, now):
                self.drops.drop("reply rate limit", host, port)
                return
            if not self.total_limiter.allow("*", now):
                self.drops.drop("total reply rate limit", host, port)
                return
            delay = self.rng.uniform(0.0, window)
            self._pending.later(delay, self._reply, answer, location, host, port)

    def headers(self) -> Headers:
        """The vendor headers of every message: the node's, and its public address if known."""
        if self.external is None:
            return self.node.headers()
        return self.node.headers() + (external_header(*self.external),)

    def set_external(self, external: tuple[str, int] | None) -> None:
        """Advertise C{external} (ip, port) as the node's public address, and announce it now."""
        if external == self.external:
            return
        self.external = external
        if self.multicast is not None:
            self._send_set(NTS.ALIVE)

    def response_for(self, answer: Answer, location: str) -> SearchResponse:
        """The response to send for one matched answer."""
        return SearchResponse(
            st=answer.st,
            usn=self.node.usn(answer.nt),
            location=location,
            max_age=self.max_age,
            server=self.server,
            boot_id=self.boot_id,
            config_id=self.config_id,
            date=formatdate(self.clock.seconds(), usegmt=True),
            extra=self.headers(),
        )

    def _reply(self, answer: Answer, location: str, host: str, port: int) -> None:
        if self.transport is None:
            return
        try:
            self.transport.write(encode(self.response_for(answer, location)), (host, port))
        except (OSError, MessageError) as e:
            self.log.warn("cannot answer {host}:{port}: {error}", host=host, port=port, error=e)
            return
        self.replies_sent += 1

    # -- announcing

    def notify_for(self, nts: NTS, nt: str, location: str | None) -> Notify:
        return Notify(
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
        """Send one set of NOTIFY (one per NT) on every interface (or C{only}) with a LOCATION."""
        transport = self.multicast
        if transport is None:
            return
        for interface in [only] if only is not None else self.interfaces:
            location = self.locations.get(interface.ip)
            if location is None:
                continue
            datagrams = [
                encode(self.notify_for(nts, nt, location)) for nt in self.node.notification_types()
            ]
            send_to_group(transport, interface, datagrams, self.ssdp_port)

    def announce_on(self, interface: Interface) -> None:
        """Announce on a newly added interface: a few alive sets, 0-100 ms from now."""
        start = self.rng.uniform(0.0, 0.1)
        for i in range(self.alive_repeats):
            self._announcing.later(start + i * self.alive_spacing, self._send_set,
                           NTS.ALIVE, interface)  # fmt: skip

    def start_announcing(self) -> None:
        """Announce after 0-100 ms, repeat the set, and re-announce under max-age/2."""
        start = self.rng.uniform(0.0, 0.1)
        for i in range(self.alive_repeats):
            self._announcing.later(start + i * self.alive_spacing, self._send_set, NTS.ALIVE)
        again = self.rng.uniform(self.max_age / 4.0, self.max_age / 2.0)
        self._announcing.later(again, self.start_announcing)

    def stop(self) -> None:
        """Cancel every pending reply and announcement, then send byebye twice."""
        self._pending.cancel_all()
        self._announcing.cancel_all()
        for _ in range(2):
            self._send_set(NTS.BYEBYE)


class _Document(Resource):
    """One XML document, for GET and HEAD; any other method (SUBSCRIBE, POST) gets 405."""

    isLeaf = True

    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.body = body

    def render_GET(self, request: IRequest) -> bytes:
        request.setHeader(b"content-type", b'text/xml; charset="utf-8"')
        return self.body

    def render_HEAD(self, request: IRequest) -> bytes:
        return self.render_GET(request)

    def render(self, request: IRequest) -> bytes:
        if request.method in (b"GET", b"HEAD"):
            return super().render(request)  # type: ignore[no-any-return]
        # SUBSCRIBE, POST, ...: no eventing, no control (and no twisted.web error page)
        request.setResponseCode(405)
        request.setHeader(b"allow", b"GET, HEAD")
        request.setHeader(b"content-type", b"text/plain")
        return b"405 method not allowed\n"


class _Documents(Resource):
    def __init__(self, documents: dict[bytes, bytes]) -> None:
        super().__init__()
        self.documents = documents

    def getChild(self, path: bytes, request: IRequest) -> IResource:
        body = self.documents.get(path)
        if body is None or request.postpath:
            return notFound("Not Found", "")
        return _Document(body)


class DescriptionSite(Site):
    """Serves the description and SCPD; anything else is 404, any method but GET/HEAD 405."""

    def __init__(self, node: NodeInfo, server: str = SERVER) -> None:
        root = _Documents(
            {
                DESCRIPTION_PATH.lstrip("/").encode(): build_device_description(node, server),
                SCPD_PATH.lstrip("/").encode(): build_scpd(),
            }
        )
        super().__init__(root)
        self.noisy = False
        self.displayTracebacks = False


class AdvertiserService(Service):
    """
    Advertise one node on the given interfaces.

    C{startService} opens the HTTP description server on each interface (port
    C{http_port}, 0 for any), the multicast port C{ssdp_port} with
    C{listenMultiple=True}, joins 239.255.255.250 on each interface and starts
    announcing. L{ready} fires with the interfaces that joined once the joins
    are done. C{stopService} sends byebye, leaves the groups and returns a
    Deferred that fires when every port is closed.

    L{update_interfaces} follows the host's interfaces while running (see
    L{ssdp_upnp._watcher.InterfaceWatcher}).
    """

    log = Logger()

    def __init__(
        self,
        node: NodeInfo,
        boot_id: int,
        reactor: Any,
        interfaces: Sequence[Interface],
        http_port: int = 0,
        max_age: int = DEFAULT_MAX_AGE,
        ttl: int = 2,
        rng: random.Random | None = None,
        ssdp_port: int = SSDP_PORT,
        **protocol_options: Any,
    ) -> None:
        if not interfaces:
            raise ConfigurationError("an advertiser needs at least one interface")
        if not 1 <= ttl <= 255:
            raise ConfigurationError(f"TTL {ttl} is not in 1..255")
        self.node = node
        self.reactor = reactor
        self.interfaces = list(interfaces)
        self._site: DescriptionSite | None = None
        self.http_port = http_port
        self.ttl = ttl
        self.ssdp_port = ssdp_port
        self.protocol = SSDPAdvertiser(
            node,
            boot_id,
            self.interfaces,
            reactor,
            rng=rng,
            max_age=max_age,
            ssdp_port=ssdp_port,
            **protocol_options,
        )
        self.ready: Deferred[list[Interface]] = Deferred()
        self._udp: IMulticastTransport | None = None
        self._http: dict[str, IListeningPort] = {}
        self._joined: list[Interface] = []

    @property
    def locations(self) -> Mapping[str, str]:
        return self.protocol.locations

    def _serve(self, interface: Interface) -> None:
        """Start the description server on C{interface}; it then has a LOCATION."""
        tcp: IReactorTCP = self.reactor
        port = tcp.listenTCP(self.http_port, cast(Any, self._site), interface=interface.ip)
        self._http[interface.ip] = port
        address = cast(IPv4Address, port.getHost())
        self.protocol.locations[interface.ip] = (
            f"http://{interface.ip}:{address.port}{DESCRIPTION_PATH}"
        )

    def startService(self) -> None:
        multicast: IReactorMulticast = self.reactor
        self._site = DescriptionSite(self.node, self.protocol.server)
        try:
            for interface in self.interfaces:
                self._serve(interface)
            self._udp = multicast.listenMulticast(
                self.ssdp_port, self.protocol, listenMultiple=True
            )
        except Exception:
            self._close_http()
            raise
        super().startService()
        transport = self._udp
        self.protocol.multicast = transport
        transport.setTTL(self.ttl)
        joins = [join_group(transport, i, self._joined) for i in self.interfaces]
        DeferredList(joins).addCallback(lambda _: self.ready.callback(list(self._joined)))
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
        transport = self._udp
        if transport is None:
            return
        for interface in [i for i in self.protocol.interfaces if i not in current]:
            self.protocol.interfaces.remove(interface)
            self.protocol.locations.pop(interface.ip, None)
            port = self._http.pop(interface.ip, None)
            if port is not None:
                maybeDeferred(port.stopListening)
            leave_group(transport, interface, self._joined)
            self.log.info("no longer advertising on {name} ({ip})", name=interface.name,
                          ip=interface.ip)  # fmt: skip
        for interface in [i for i in current if i not in self.protocol.interfaces]:
            try:
                self._serve(interface)
            except CannotListenError as e:
                self.log.error("cannot serve the description on {ip}: {error}",
                               ip=interface.ip, error=e)  # fmt: skip
                continue
            self.protocol.interfaces.append(interface)
            join_group(transport, interface, self._joined)
            self.protocol.announce_on(interface)
            self.log.info("now advertising on {name} at {location}", name=interface.name,
                          location=self.protocol.locations[interface.ip])  # fmt: skip

    def _close_http(self) -> list[Deferred[Any]]:
        closing = [maybeDeferred(port.stopListening) for port in self._http.values()]
        self._http.clear()
        return closing

    def stopService(self) -> Deferred[None]:
        super().stopService()
        self.protocol.stop()
        closing: list[Deferred[Any]] = []
        udp, self._udp = self._udp, None
        if udp is not None:
            closing.append(close_multicast(udp, self._joined))
        self.protocol.multicast = None
        closing.extend(self._close_http())
        self.protocol.locations.clear()
        return gatherResults(closing).addCallback(lambda _: None)
