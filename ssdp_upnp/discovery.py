"""
SSDP discovery: find the nodes of one product and network on the LAN.

L{DiscoveryService} searches from an ephemeral port on each interface
(L{ssdp_upnp._searcher.Searcher}: each M-SEARCH sent several times, then again
every C{search_interval}), listens to NOTIFY on 1900, and keeps a
L{ssdp_upnp.peers.PeerTable}; observers hear of peers added and removed.
L{discover} is the one-shot form.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from twisted.application.service import Service
from twisted.internet.defer import Deferred, gatherResults, race
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import (
    IDelayedCall,
    IReactorTime,
)
from twisted.internet.task import deferLater
from twisted.logger import Logger

from ._inbound import DropLog, Inbound, SSDPReceiver
from ._multicast import GroupMembership, any_address, listen_multicast
from ._searcher import Searcher
from ._types import ISSDPReactor
from .errors import ConfigurationError
from .lan import Interface
from .legacy import LegacyResponse
from .message import DEFAULT_MAX_AGE, SSDP_PORT
from .node import check_network, check_product, device_type
from .peers import (
    Departure,
    Peer,
    PeerAdded,
    PeerEvent,
    PeerRemoved,
    PeerTable,
    RemovalReason,
    Sighting,
    VerifyAddress,
    legacy_sighting,
)
from .peers import read_message as read_peer_message


class PeerObserver(Protocol):
    """Told of every peer that appears or goes."""

    def peer_added(self, peer: Peer) -> None: ...

    def peer_removed(self, peer: Peer, reason: RemovalReason) -> None: ...


class DiscoveryService(Service):
    """
    Keep the table of live peers of C{product} on C{network}.

    @param exclude: uuids never reported (the node's own advertiser).
    @param search_interval: seconds between search rounds after the first;
        None searches once.
    @param listen_notify: also listen to NOTIFY on C{ssdp_port} (shared with
        other stacks by C{listenMultiple}).
    @param legacy: also find ssdp-upnp 0.1.0 nodes by their answers to our
        searches (L{ssdp_upnp.legacy}). They never say byebye: one is dropped
        once it has missed three search rounds in a row (L{legacy_lifetime}).
    @param flap_interval: a peer that leaves and comes back is told again at
        most once per this many seconds (one replaced by a restart or a
        change, three times): a flapping host cannot flood observers, logs
        or the seed facade's queue.
    """

    log = Logger()

    def __init__(
        self,
        product: str,
        network: str,
        reactor: ISSDPReactor,
        interfaces: Sequence[Interface],
        *,
        exclude: Iterable[str] = (),
        mx: int = 2,
        search_interval: float | None = 60.0,
        search_repeats: int = 3,
        repeat_spacing: float = 0.5,
        listen_notify: bool = True,
        ttl: int = 2,
        rng: random.Random | None = None,
        ssdp_port: int = SSDP_PORT,
        max_peers: int = 1024,
        legacy: bool = True,
        flap_interval: float = 60.0,
        site_scope: bool = True,
    ) -> None:
        if not interfaces:
            raise ConfigurationError("discovery needs at least one interface")
        if not 1 <= mx <= 5:
            raise ConfigurationError(f"MX {mx} is not in 1..5")
        if search_interval is not None and search_interval < 1:
            raise ConfigurationError("the search interval must be at least 1 second")
        if not 1 <= ttl <= 255:
            raise ConfigurationError(f"TTL {ttl} is not in 1..255")
        self.product = check_product(product)
        self.network = check_network(network)
        self.reactor = reactor
        self.clock: IReactorTime = reactor
        self.interfaces = list(interfaces)
        self.search_target = device_type(product)
        self.mx = mx
        self.search_interval = search_interval
        self.search_repeats = search_repeats
        self.repeat_spacing = repeat_spacing
        self.listen_notify = listen_notify
        self.ttl = ttl
        self.rng = rng or random.SystemRandom()
        self.ssdp_port = ssdp_port
        self.table = PeerTable(product, network, exclude=exclude, max_peers=max_peers)
        self.flap_interval = flap_interval
        self._reported: dict[str, deque[float]] = {}  # when each peer was last told, by key
        self._left: dict[str, RemovalReason] = {}  # why each peer last went, by key
        self._held: dict[str, Peer] = {}  # appearances waiting for their flap interval
        self._release: IDelayedCall | None = None
        self.drops = DropLog(SSDPReceiver.log, self.clock)
        self.legacy = legacy
        # one list, shared with the searcher and the receivers (see update_interfaces)
        self.searcher = Searcher(reactor, self.interfaces, self.message_received, self.drops,
                                 ttl=ttl, ssdp_port=ssdp_port, legacy=legacy)  # fmt: skip
        self._observers: list[PeerObserver] = []
        self._notify_groups: dict[int, GroupMembership] = {}
        #: also join ff05::c on IPv6 links with a global or ULA address
        self.site_scope = site_scope
        self._expiry: IDelayedCall | None = None
        self._waiters: list[tuple[Callable[[Peer], bool], Deferred[Peer]]] = []

    # -- public API

    def peers(self) -> list[Peer]:
        """The live peers now."""
        return self.table.peers()

    def observe(self, observer: PeerObserver) -> Callable[[], None]:
        """Tell C{observer} of peers from now on; returns a function that stops it."""
        self._observers.append(observer)

        def stop() -> None:
            if observer in self._observers:
                self._observers.remove(observer)

        return stop

    def wait_for_peer(self, predicate: Callable[[Peer], bool] = lambda p: True) -> Deferred[Peer]:
        """
        A Deferred that fires with the first live peer, present or future, for
        which C{predicate} is true. Cancel it (or use C{addTimeout}) to stop waiting.
        """
        for peer in self.table.peers():
            if predicate(peer):
                d: Deferred[Peer] = Deferred()
                d.callback(peer)
                return d

        def cancel(d: Deferred[Peer]) -> None:
            self._waiters[:] = [(p, w) for p, w in self._waiters if w is not d]

        waiter: Deferred[Peer] = Deferred(cancel)
        self._waiters.append((predicate, waiter))
        return waiter

    def update_interfaces(self, current: Sequence[Interface]) -> None:
        """
        Discover on C{current} from now on: close the search port and leave the
        group on interfaces (or addresses) that are gone; open, join and search
        on new ones.
        """
        if not self.running:
            return
        for interface in [i for i in self.interfaces if i not in current]:
            self.searcher.remove(interface)
            if interface.family in self._notify_groups:
                self._notify_groups[interface.family].leave(interface)
        added = [i for i in current if i not in self.interfaces]
        for interface in added:
            try:
                self.searcher.add(interface)
            except CannotListenError as e:  # the searcher has dropped it
                self.log.error("cannot search on {ip}: {error}", ip=interface.ip, error=e)
                continue
            if self.listen_notify:
                try:
                    self._notify_group(interface.family).join(interface)
                except CannotListenError as e:
                    self.log.error("cannot hear NOTIFY on {ip}: {error}", ip=interface.ip,
                                   error=e)  # fmt: skip
        if added:
            self.search()

    def search(self) -> None:
        """Send one search round now: each M-SEARCH C{search_repeats} times, spaced."""
        self.searcher.search([self.search_target], self.mx, self.search_repeats,
                             self.repeat_spacing)  # fmt: skip

    # -- service

    def startService(self) -> None:
        self.searcher.open()
        try:
            if self.listen_notify:
                for family in sorted({i.family for i in self.interfaces}):
                    self._notify_group(family)
        except Exception:
            self._close_ports()
            raise
        super().startService()
        if self.listen_notify:
            for interface in self.interfaces:
                self._notify_groups[interface.family].join(interface)
        self.search()
        if self.search_interval is not None:
            self.searcher.later(self.search_interval, self._search_again)
        self.log.info(
            "searching for {product} nodes of network {network} on {interfaces}",
            product=self.product,
            network=self.network,
            interfaces=[i.host for i in self.interfaces],
        )

    def stopService(self) -> Deferred[None]:
        super().stopService()
        for call in (self._expiry, self._release):
            if call is not None and call.active():
                call.cancel()
        self._expiry = self._release = None
        closing = self._close_ports()
        self._dispatch(self.table.clear())
        return gatherResults(closing).addCallback(lambda _: None)

    # -- internals

    def _notify_group(self, family: int) -> GroupMembership:
        """The port of C{family} on C{ssdp_port} that hears NOTIFY, opened if not yet."""
        group = self._notify_groups.get(family)
        if group is None:
            receiver = SSDPReceiver(self.interfaces, self.drops, self.message_received)
            port = listen_multicast(self.reactor, self.ssdp_port, receiver,
                                    any_address(family), listen_multiple=True)  # fmt: skip
            group = self._notify_groups[family] = GroupMembership(port, site=self.site_scope)
        return group

    def _close_ports(self) -> list[Deferred[None]]:
        closing = self.searcher.close()
        closing.extend(group.close() for group in self._notify_groups.values())
        self._notify_groups.clear()
        return closing

    def _search_again(self) -> None:
        self.search()
        assert self.search_interval is not None
        # a little jitter so that nodes started together do not search in step
        jitter = self.rng.uniform(0.0, min(5.0, self.search_interval / 10.0))
        self.searcher.later(self.search_interval + jitter, self._search_again)

    @property
    def legacy_lifetime(self) -> int:
        """
        Seconds a 0.1.0 node stays known after its last answer: three search
        rounds (with their jitter) and the time their answers may take.
        """
        if self.search_interval is None:
            return DEFAULT_MAX_AGE  # one search: the service ends first
        jitter = min(5.0, self.search_interval / 10.0)
        answers = (self.search_repeats - 1) * self.repeat_spacing + self.mx + 1
        return math.ceil(3 * (self.search_interval + jitter) + answers)

    def message_received(
        self, message: Inbound, host: str, port: int, interface: Interface
    ) -> None:
        """
        Take a message that arrived for discovery (answers on the search ports,
        NOTIFY on 1900; L{NodeService} hands over those its advertiser's port got).
        """
        if not self.running:
            return
        news: Sighting | Departure | None
        if isinstance(message, LegacyResponse):
            news = legacy_sighting(message, host, interface.ip, self.product, self.network,
                                   self.legacy_lifetime)  # fmt: skip
        else:
            news = read_peer_message(message, host, interface.ip)
        now = self.clock.seconds()
        if isinstance(news, Departure):
            events = self.table.depart(news, now)
        elif news is not None:
            events = self.table.see(news, now)
        else:
            return
        self._dispatch(events)  # (and the refused, which are no events)
        if events:  # a refresh only puts an expiry later: the timer may fire early, see below
            self._schedule_expiry()

    def _schedule_expiry(self) -> None:
        """
        Have L{_expire} called at the table's next expiry, or before: a timer due
        no later than that is kept (it fires early, finds nothing due and sets
        itself again), so a sighting that moves the soonest expiry later costs
        no timer work, and the table is asked only when something changed.
        """
        when = self.table.next_expiry()
        if self._expiry is not None and self._expiry.active():
            if when is not None and self._expiry.getTime() <= when:
                return
            self._expiry.cancel()
        self._expiry = None
        if when is not None:
            delay = max(0.0, when - self.clock.seconds())
            self._expiry = self.clock.callLater(delay, self._expire)

    def _expire(self) -> None:
        self._expiry = None
        self._dispatch(self.table.expire(self.clock.seconds()))
        self._schedule_expiry()

    def _dispatch(self, events: list[PeerEvent]) -> None:
        now = self.clock.seconds()
        for event in events:
            if isinstance(event, PeerAdded):
                if self._damped(event.peer, now):
                    self._held[event.peer.key] = event.peer
                    self._schedule_release()
                else:
                    self._report_added(event.peer, now)
            elif isinstance(event, PeerRemoved):
                key = event.peer.key
                self._left[key] = event.reason
                if self._held.pop(key, None) is None:  # a held appearance was never told
                    for observer in list(self._observers):
                        self._call(observer.peer_removed, event.peer, event.reason)
            elif isinstance(event, VerifyAddress):
                # another host speaks for this peer: does its own address still answer?
                peer = event.peer
                self.searcher.search_unicast([peer.host], [f"uuid:{peer.uuid}"], 2, 0.5)
        for refused in self.table.take_refused():
            self.drops.drop(refused.reason, refused.peer.host, 0, detail=refused.peer.uuid)
        if len(self._reported) > 4 * self.table.max_peers:
            self._forget_old_reports(now)

    # -- damping: a flapping peer is told at most once per flap interval

    def _damped(self, peer: Peer, now: float) -> bool:
        """
        Whether this appearance waits: a peer that left (byebye, expiry,
        eviction) and came back is told again once per flap interval; one that
        was replaced (restart, change) up to three times an interval.
        """
        times = self._reported.get(peer.key)
        if not times:
            return False
        while times and times[0] <= now - self.flap_interval:
            times.popleft()
        left = self._left.get(peer.key)
        limit = 3 if left in (RemovalReason.RESTARTED, RemovalReason.CHANGED) else 1
        return len(times) >= limit

    def _report_added(self, peer: Peer, now: float) -> None:
        self._reported.setdefault(peer.key, deque()).append(now)
        for observer in list(self._observers):
            self._call(observer.peer_added, peer)
        self._wake(peer)

    def _schedule_release(self) -> None:
        if self._release is not None and self._release.active():
            return
        self._release = self.clock.callLater(self.flap_interval, self._release_held)

    def _release_held(self) -> None:
        self._release = None
        now = self.clock.seconds()
        for key in list(self._held):
            live = self.table.get(key)
            if live is None:
                del self._held[key]
            elif not self._damped(live, now):
                del self._held[key]
                self._report_added(live, now)
        if self._held:
            self._schedule_release()

    def _forget_old_reports(self, now: float) -> None:
        for key, times in list(self._reported.items()):
            if (not times or times[-1] <= now - self.flap_interval) and key not in self.table:
                del self._reported[key]
                self._left.pop(key, None)

    def _call(self, f: Callable[..., object], *args: Any) -> None:
        try:
            f(*args)
        except Exception:
            self.log.failure("peer observer {observer!r} failed", observer=f)

    def _wake(self, peer: Peer) -> None:
        ready = [(p, d) for p, d in self._waiters if p(peer)]
        if not ready:
            return
        self._waiters[:] = [(p, d) for p, d in self._waiters if not p(peer)]
        for _, d in ready:
            d.callback(peer)


class _Collector:
    def __init__(self, wanted: int | None, done: Deferred[None]) -> None:
        self.wanted = wanted
        self.done = done
        self.seen = 0

    def peer_added(self, peer: Peer) -> None:
        self.seen += 1
        if self.wanted is not None and self.seen >= self.wanted and not self.done.called:
            self.done.callback(None)

    def peer_removed(self, peer: Peer, reason: RemovalReason) -> None:
        pass


def discover(
    reactor: ISSDPReactor,
    product: str,
    network: str = "main",
    *,
    interfaces: Sequence[Interface],
    timeout: float = 3.0,
    wanted: int | None = None,
    mx: int = 2,
    exclude: Iterable[str] = (),
    ttl: int = 2,
    rng: random.Random | None = None,
    ssdp_port: int = SSDP_PORT,
    legacy: bool = True,
) -> Deferred[list[Peer]]:
    """
    Search once for the nodes of C{product} on C{network}.

    @param wanted: stop as soon as this many peers are known (else wait C{timeout}).
    @param legacy: also find ssdp-upnp 0.1.0 nodes (their peers have C{legacy} set).
    @return: a Deferred that fires with the peers found, after C{timeout}
        seconds or as soon as C{wanted} are known; the sockets are closed by then.
        It fails with L{ConfigurationError} for bad options and with the
        reactor's error if a socket cannot be opened.
    """
    service = DiscoveryService(
        product,
        network,
        reactor,
        interfaces,
        exclude=exclude,
        mx=mx,
        search_interval=None,
        listen_notify=False,
        ttl=ttl,
        rng=rng,
        ssdp_port=ssdp_port,
        legacy=legacy,
    )

    async def run() -> list[Peer]:
        done: Deferred[None] = Deferred()
        service.observe(_Collector(wanted, done))
        service.startService()
        try:
            await race([done, deferLater(reactor, timeout, lambda: None)])
            return service.peers()
        finally:
            await service.stopService()

    return Deferred.fromCoroutine(run())
