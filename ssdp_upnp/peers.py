"""
Peers and the peer table: who is on the LAN, and until when.

Pure code: the table is fed L{Sighting}s (what one SSDP message said) and the
time, and answers with the L{PeerAdded} and L{PeerRemoved} events that follow.
The discovery service moves the bytes and the time; this module decides.
"""

from __future__ import annotations

import enum
import heapq
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from .errors import MessageError
from .legacy import LegacyResponse
from .message import NTS, Message, Notify, SearchResponse, split_usn
from .node import read_advertisement

_new = object.__new__
_set = object.__setattr__


class RemovalReason(enum.Enum):
    BYEBYE = "byebye"
    EXPIRED = "expired"
    RESTARTED = "restarted"
    CHANGED = "changed"
    STOPPED = "stopped"
    #: made room for a peer from a less represented source (the table was full)
    EVICTED = "evicted"


@dataclass(frozen=True)
class Peer:
    """
    A node found on the LAN.

    C{host} is the address its SSDP messages came from and C{port} the service
    port it advertises, so C{(host, port)} is where to connect. C{expires} is
    in the reactor's time (C{IReactorTime.seconds()}).

    A node heard over IPv4 and IPv6 is one peer: C{addresses} lists every
    address its messages came from (at most one per family, IPv4 first), and
    C{host} is the first. An IPv6 link-local address carries its zone
    (C{fe80::1%eth0}), which connecting to it needs.

    A C{legacy} peer is an ssdp-upnp 0.1.0 node: it has no uuid (C{""}), no
    boot id and never says byebye; it is known by its address (L{key}).
    """

    uuid: str
    host: str
    port: int
    product: str
    network: str
    location: str | None
    expires: float
    boot_id: int | None = None
    node_id: str | None = None
    server: str | None = None
    interface: str | None = None
    #: the node's public address (its port mapping on the gateway), if it advertises one
    external: tuple[str, int] | None = None
    #: its public IPv6 addresses and ports (pinholes), if it advertises any
    external6: tuple[tuple[str, int], ...] = ()
    legacy: bool = False
    addresses: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.host not in self.addresses:  # made with a host alone (or replaced with another)
            object.__setattr__(self, "addresses", (self.host,))

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def until(self, expires: float) -> Peer:
        """
        This peer expiring at C{expires}: C{replace(self, expires=expires)}, made
        by copying its fields (every NOTIFY and response takes one or two, and
        C{replace}, which checks and sets each field anew, cost 6.5 us of them
        against 0.9; a test holds the two equal).
        """
        fields = self.__dict__.copy()  # (0.35 us against 0.7-0.9 for {**fields, ...})
        fields["expires"] = expires
        peer = _new(Peer)
        _set(peer, "__dict__", fields)
        return peer

    def with_address(self, host: str) -> Peer:
        """This peer with C{host} among its addresses, IPv4 first."""
        addresses = sorted((*self.addresses, host), key=family)
        return replace(self, host=addresses[0], addresses=tuple(addresses))

    def without_address(self, host: str) -> Peer:
        """This peer without C{host} (it keeps at least one address)."""
        addresses = tuple(a for a in self.addresses if a != host) or self.addresses
        return replace(self, host=addresses[0], addresses=addresses)

    @property
    def key(self) -> str:
        """What the peer table knows it by: its uuid, or a 0.1.0 node's address."""
        return f"legacy:{self.host}:{self.port}" if self.legacy else self.uuid


def family(host: str) -> int:
    """The address family of a host address: 4 or 6."""
    return 6 if ":" in host else 4


@dataclass(frozen=True)
class Sighting:
    """What one alive NOTIFY or search response says: this peer, for C{max_age} seconds."""

    peer: Peer  # its C{expires} is set by the table that takes it
    max_age: int


@dataclass(frozen=True)
class Departure:
    """A byebye: the node with this uuid is leaving (said by C{host}, if known)."""

    uuid: str
    boot_id: int | None
    host: str | None = field(default=None, compare=False)


def read_message(message: Message, host: str, interface: str | None) -> Sighting | Departure | None:
    """
    What C{message}, received from C{host}, says about an ssdp_upnp node.

    @return: a L{Sighting} for an alive NOTIFY or a response of a node, a
        L{Departure} for a byebye, None for anything else (other devices,
        M-SEARCH, messages without our headers).
    """
    if isinstance(message, Notify) and message.nts is NTS.BYEBYE:
        try:
            uuid, _ = split_usn(message.usn)
        except MessageError:
            return None
        return Departure(uuid, message.boot_id, host)
    if isinstance(message, Notify) and message.nts is NTS.ALIVE:
        max_age = message.max_age
    elif isinstance(message, SearchResponse):
        max_age = message.max_age
    else:
        return None
    advertised = read_advertisement(message.extra)
    if advertised is None or max_age is None:
        return None
    try:
        uuid, _ = split_usn(message.usn)
    except MessageError:
        return None
    peer = Peer(
        uuid=uuid,
        host=host,
        port=advertised.port,
        product=advertised.product,
        network=advertised.network,
        location=message.location,
        expires=0.0,
        boot_id=message.boot_id,
        node_id=advertised.node_id,
        server=message.server,
        interface=interface,
        external=advertised.external,
        external6=advertised.external6,
    )
    return Sighting(peer, max_age)


def legacy_sighting(
    response: LegacyResponse,
    host: str,
    interface: str | None,
    product: str,
    network: str,
    lifetime: int,
) -> Sighting | None:
    """
    What a 0.1.0 node's answer, received from C{host}, says: a legacy peer of
    C{product}/C{network} at C{host} (never the 127.x its LOCATION often
    names) for C{lifetime} seconds; None if it is of another product or network.
    """
    if not response.matches(product, network):
        return None
    peer = Peer(
        uuid="", host=host, port=response.port, product=product, network=network,
        location=None, expires=0.0, interface=interface, legacy=True,
    )  # fmt: skip
    return Sighting(peer, lifetime)


@dataclass(frozen=True)
class PeerAdded:
    peer: Peer


@dataclass(frozen=True)
class PeerRemoved:
    peer: Peer
    reason: RemovalReason


@dataclass(frozen=True)
class VerifyAddress:
    """
    Another host speaks for a known peer (an alive or a byebye with its uuid):
    ask the peer's own address (a unicast M-SEARCH for its uuid) before
    L{deadline}; if it answers, nothing changes, else the claim is taken.
    """

    peer: Peer
    deadline: float


@dataclass(frozen=True)
class PeerRefused:
    """A new peer the table did not take, and why (see L{PeerTable.take_refused})."""

    peer: Peer
    reason: str


PeerEvent = PeerAdded | PeerRemoved | VerifyAddress


class PeerTable:
    """
    The live peers of one product and network, keyed by uuid (a 0.1.0 node by
    its address: see L{Peer.key}).

    Repeated answers (one per NT, each M-SEARCH sent several times, routers
    that answer twice) only push the expiry further; a new port or node id is
    a L{RemovalReason.CHANGED}, a new boot id a L{RemovalReason.RESTARTED}:
    the old peer is removed, the new one added.

    One host cannot monopolise the table: it holds at most C{max_per_source}
    peers, a full table makes room for a less represented source by evicting
    from the most represented one, and an advertisement counts for at most
    C{max_age_cap} seconds. Nor can it mislead: an alive or byebye for a known
    uuid from another address is a L{VerifyAddress}, taken only if the peer's
    own address does not answer within C{verify_window} seconds (so a
    renumbered node is still followed).
    """

    def __init__(
        self,
        product: str,
        network: str,
        exclude: Iterable[str] = (),
        max_peers: int = 1024,
        max_age_cap: int = 3600,
        max_per_source: int = 16,
        verify_window: float = 2.0,
    ) -> None:
        self.product = product
        self.network = network
        self.exclude = frozenset(u.lower() for u in exclude)
        self.max_peers = max_peers
        self.max_age_cap = max_age_cap
        self.max_per_source = max_per_source
        self.verify_window = verify_window
        self._peers: dict[str, Peer] = {}
        self._by_source: Counter[str] = Counter()
        # claims by another address, by key: (the new sighting, or None for a byebye; deadline)
        self._contested: dict[str, tuple[Peer | None, float]] = {}
        self._refused: list[PeerRefused] = []
        # when each peer expires and each claim falls due, as heaps of (time, key). Each
        # live peer has an entry at or before its expiry: a refresh, which only ever puts
        # it later, pushes nothing, and the entry is moved on when it comes up (so most
        # sightings cost no heap work at all); an entry whose peer is gone, or whose claim
        # has changed, is dropped when it comes up
        self._expiries: list[tuple[float, str]] = []
        self._deadlines: list[tuple[float, str]] = []

    def _put(self, peer: Peer) -> None:
        self._peers[peer.key] = peer
        heapq.heappush(self._expiries, (peer.expires, peer.key))
        if len(self._expiries) > 2 * len(self._peers) + 64:  # refreshes left stale entries
            self._expiries = [(p.expires, p.key) for p in self._peers.values()]
            heapq.heapify(self._expiries)

    def _refresh(self, peer: Peer, expires: float) -> None:
        """C{peer}, already in the table, now expires later, at C{expires}."""
        self._peers[peer.key] = peer.until(expires)

    def _live_expiry(self) -> float | None:
        expiries = self._expiries
        while expiries:
            when, key = expiries[0]
            peer = self._peers.get(key)
            if peer is not None and peer.expires == when:
                return when
            if peer is not None and peer.expires > when:  # refreshed since: its entry moves on
                heapq.heapreplace(expiries, (peer.expires, key))
            else:
                heapq.heappop(expiries)
        return None

    def _live_deadline(self) -> float | None:
        while self._deadlines:
            when, key = self._deadlines[0]
            claim = self._contested.get(key)
            if claim is not None and claim[1] == when:
                return when
            heapq.heappop(self._deadlines)
        return None

    def take_refused(self) -> list[PeerRefused]:
        """The new peers refused since the last call (no events: a flood of them is not news)."""
        refused, self._refused = self._refused, []
        return refused

    def __len__(self) -> int:
        return len(self._peers)

    def __contains__(self, key: object) -> bool:
        return key in self._peers

    def peers(self) -> list[Peer]:
        return list(self._peers.values())

    def get(self, key: str) -> Peer | None:
        """The peer of this uuid (or L{Peer.key}), if live."""
        return self._peers.get(key)

    def wanted(self, sighting: Sighting) -> bool:
        """Whether C{sighting} is of a node this table tracks (product, network, not ourselves)."""
        peer = sighting.peer
        return (
            peer.product == self.product
            and peer.network == self.network
            and peer.uuid not in self.exclude
        )

    def see(self, sighting: Sighting, now: float) -> list[PeerEvent]:
        """Take a sighting at time C{now}; return what changed (nothing for a refresh)."""
        if not self.wanted(sighting):
            return []
        expires = now + min(sighting.max_age, self.max_age_cap)
        peer = sighting.peer.until(expires)
        old = self._peers.get(peer.key)
        if old is None:
            return self._admit(peer)
        if peer.host not in old.addresses:
            if peer.legacy or any(family(a) == family(peer.host) for a in old.addresses):
                return self._contest(old, peer, now)
            # the same node heard over its other address family: one peer, both addresses
            grown = old.with_address(peer.host)
            if grown.host == peer.host:  # its IPv4 address now leads: so do what it said
                grown = replace(grown, location=peer.location, interface=peer.interface)
            self._move_source(old, grown)
            self._put(grown)
            old = grown
        self._contested.pop(peer.key, None)  # its own address answered: any claim is void
        if old.boot_id is not None and peer.boot_id is not None and old.boot_id != peer.boot_id:
            reason = RemovalReason.RESTARTED
        elif (old.port, old.node_id, old.external, old.external6) != (
            peer.port, peer.node_id, peer.external, peer.external6,
        ):  # fmt: skip
            reason = RemovalReason.CHANGED
        else:
            if expires > old.expires:
                self._refresh(old, expires)
            return []
        if peer.host != old.host:  # heard over its other family: what its first address said
            peer = replace(peer, location=old.location, interface=old.interface)
        peer = replace(peer, host=old.host, addresses=old.addresses)
        self._put(peer)
        return [PeerRemoved(old, reason), PeerAdded(peer)]

    def _move_source(self, old: Peer, new: Peer) -> None:
        """Count C{new} against its own first address instead of C{old}'s."""
        if old.host != new.host:
            self._by_source[old.host] -= 1
            if self._by_source[old.host] <= 0:
                del self._by_source[old.host]
            self._by_source[new.host] += 1

    def _admit(self, peer: Peer) -> list[PeerEvent]:
        """A new peer: taken unless its source has its share or the table is full."""
        source = peer.host
        if self._by_source[source] >= self.max_per_source:
            self._refused.append(PeerRefused(peer, "too many peers from one source"))
            return []
        events: list[PeerEvent] = []
        if len(self._peers) >= self.max_peers:
            crowded, count = self._by_source.most_common(1)[0]
            if count <= self._by_source[source] + 1:
                self._refused.append(PeerRefused(peer, "peer table full"))
                return []
            # make room: the most represented source gives up its soonest-expiring peer
            victim = min((p for p in self._peers.values() if p.host == crowded),
                         key=lambda p: p.expires)  # fmt: skip
            self._remove(victim)
            events.append(PeerRemoved(victim, RemovalReason.EVICTED))
        self._put(peer)
        self._by_source[source] += 1
        events.append(PeerAdded(peer))
        return events

    def _remove(self, peer: Peer) -> None:
        del self._peers[peer.key]
        self._contested.pop(peer.key, None)
        self._by_source[peer.host] -= 1
        if self._by_source[peer.host] <= 0:
            del self._by_source[peer.host]

    def _contest(self, old: Peer, claim: Peer | None, now: float) -> list[PeerEvent]:
        if old.key in self._contested:
            deadline = self._contested[old.key][1]
            self._contested[old.key] = (claim, deadline)  # the latest claim stands
            return []
        deadline = now + self.verify_window
        self._contested[old.key] = (claim, deadline)
        heapq.heappush(self._deadlines, (deadline, old.key))
        return [VerifyAddress(old, deadline)]

    def depart(self, departure: Departure, now: float = 0.0) -> list[PeerEvent]:
        """Take a byebye (from another address than the peer's: a claim to verify)."""
        peer = self._peers.get(departure.uuid)
        if peer is None:
            return []
        if departure.host is not None and departure.host not in peer.addresses:
            return self._contest(peer, None, now)
        if departure.host is not None and len(peer.addresses) > 1:
            # a byebye over one family: the node stops (its other byebye follows), or only
            # that address went. Drop the address and ask the other: no answer within the
            # verify window removes the peer (once), an answer keeps it. A host that got its
            # address onto a peer cannot remove it with a byebye alone.
            shrunk = peer.without_address(departure.host)
            self._move_source(peer, shrunk)
            self._put(shrunk)
            return self._contest(shrunk, None, now)
        self._remove(peer)
        return [PeerRemoved(peer, RemovalReason.BYEBYE)]

    def expire(self, now: float) -> list[PeerEvent]:
        """
        Settle the claims whose peer did not answer in time, then remove every
        peer whose advertisement ran out by C{now}.
        """
        events: list[PeerEvent] = []
        while (deadline := self._live_deadline()) is not None and deadline <= now:
            _, key = heapq.heappop(self._deadlines)
            claim, _ = self._contested.pop(key)
            old = self._peers.get(key)
            if old is None:
                continue
            self._remove(old)
            if claim is None:
                events.append(PeerRemoved(old, RemovalReason.BYEBYE))
                continue
            events.append(PeerRemoved(old, RemovalReason.CHANGED))
            events.extend(self._admit(claim))
        while (when := self._live_expiry()) is not None and when <= now:
            _, key = heapq.heappop(self._expiries)
            peer = self._peers[key]
            self._remove(peer)
            events.append(PeerRemoved(peer, RemovalReason.EXPIRED))
        return events

    def next_expiry(self) -> float | None:
        """The earliest time at which L{expire} will change something, or None."""
        times = [t for t in (self._live_expiry(), self._live_deadline()) if t is not None]
        return min(times, default=None)

    def clear(self) -> list[PeerEvent]:
        """Forget every peer (the discovery service stops)."""
        gone = list(self._peers.values())
        self._peers.clear()
        self._by_source.clear()
        self._contested.clear()
        self._expiries.clear()
        self._deadlines.clear()
        return [PeerRemoved(p, RemovalReason.STOPPED) for p in gone]
