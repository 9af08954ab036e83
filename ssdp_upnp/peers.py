"""
Peers and the peer table: who is on the LAN, and until when.

Pure code: the table is fed L{Sighting}s (what one SSDP message said) and the
time, and answers with the L{PeerAdded} and L{PeerRemoved} events that follow.
The discovery service moves the bytes and the time; this module decides.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, replace

from .errors import MessageError
from .legacy import LegacyResponse
from .message import NTS, Message, Notify, SearchResponse, split_usn
from .node import read_advertisement


class RemovalReason(enum.Enum):
    BYEBYE = "byebye"
    EXPIRED = "expired"
    RESTARTED = "restarted"
    CHANGED = "changed"
    STOPPED = "stopped"


@dataclass(frozen=True)
class Peer:
    """
    A node found on the LAN.

    C{host} is the address its SSDP messages came from and C{port} the service
    port it advertises, so C{(host, port)} is where to connect. C{expires} is
    in the reactor's time (C{IReactorTime.seconds()}).

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
    legacy: bool = False

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def key(self) -> str:
        """What the peer table knows it by: its uuid, or a 0.1.0 node's address."""
        return f"legacy:{self.host}:{self.port}" if self.legacy else self.uuid


@dataclass(frozen=True)
class Sighting:
    """What one alive NOTIFY or search response says: this peer, for C{max_age} seconds."""

    peer: Peer  # its C{expires} is set by the table that takes it
    max_age: int


@dataclass(frozen=True)
class Departure:
    """A byebye: the node with this uuid is leaving."""

    uuid: str
    boot_id: int | None


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
        return Departure(uuid, message.boot_id)
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


PeerEvent = PeerAdded | PeerRemoved


class PeerTable:
    """
    The live peers of one product and network, keyed by uuid (a 0.1.0 node by
    its address: see L{Peer.key}).

    Repeated answers (one per NT, each M-SEARCH sent several times, routers
    that answer twice) only push the expiry further; a new address, port or
    node id is a L{RemovalReason.CHANGED}, a new boot id a
    L{RemovalReason.RESTARTED}: the old peer is removed, the new one added.
    """

    def __init__(
        self,
        product: str,
        network: str,
        exclude: Iterable[str] = (),
        max_peers: int = 1024,
        max_age_cap: int = 86400,
    ) -> None:
        self.product = product
        self.network = network
        self.exclude = frozenset(u.lower() for u in exclude)
        self.max_peers = max_peers
        self.max_age_cap = max_age_cap
        self._peers: dict[str, Peer] = {}

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
        peer = replace(sighting.peer, expires=expires)
        old = self._peers.get(peer.key)
        if old is None:
            if len(self._peers) >= self.max_peers:
                return []
            self._peers[peer.key] = peer
            return [PeerAdded(peer)]
        if old.boot_id is not None and peer.boot_id is not None and old.boot_id != peer.boot_id:
            reason = RemovalReason.RESTARTED
        elif (old.host, old.port, old.node_id, old.external) != (
            peer.host, peer.port, peer.node_id, peer.external,
        ):  # fmt: skip
            reason = RemovalReason.CHANGED
        else:
            self._peers[peer.key] = replace(old, expires=max(old.expires, expires))
            return []
        self._peers[peer.key] = peer
        return [PeerRemoved(old, reason), PeerAdded(peer)]

    def depart(self, departure: Departure) -> list[PeerEvent]:
        """Take a byebye."""
        peer = self._peers.pop(departure.uuid, None)
        if peer is None:
            return []
        return [PeerRemoved(peer, RemovalReason.BYEBYE)]

    def expire(self, now: float) -> list[PeerEvent]:
        """Remove every peer whose advertisement ran out by C{now}."""
        gone = [p for p in self._peers.values() if p.expires <= now]
        for peer in gone:
            del self._peers[peer.key]
        return [PeerRemoved(p, RemovalReason.EXPIRED) for p in gone]

    def next_expiry(self) -> float | None:
        """The earliest time at which L{expire} will remove something, or None."""
        return min((p.expires for p in self._peers.values()), default=None)

    def clear(self) -> list[PeerEvent]:
        """Forget every peer (the discovery service stops)."""
        gone = list(self._peers.values())
        self._peers.clear()
        return [PeerRemoved(p, RemovalReason.STOPPED) for p in gone]
