"""
The UDP exchange under the PCP and NAT-PMP clients: one socket bound to our
address toward the gateway, requests to the gateway's port 5351, each
retransmitted on a capped schedule, and answers taken only from that address
and port and only by the request they match.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.interfaces import IDelayedCall, IListeningPort, IReactorTime
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger

from ._announcements import AnnouncementListener
from ._inbound import DropLog
from ._types import ISSDPReactor
from .errors import InvalidPortControlMessage, MappingNotHeld, NoResponse
from .forward import check_protocol
from .mapping import PortMapping
from .pcp import epoch_valid

R = TypeVar("R")

SERVER_PORT = 5351
#: Seconds to wait after each send: RFC 6886's 250 ms doubling, cut at four
#: sends (3.75 s in all) where the RFCs allow a minute and more: a gateway on
#: the LAN answers in milliseconds, and the ladder must move on quickly.
#: (RFC 6887's initial 3 s would make a silent PCP gateway cost 3 s alone.)
RETRANSMIT = (0.25, 0.5, 1.0, 2.0)
#: Requests in flight at once on one channel (more fail at once).
MAX_PENDING = 64
#: Unsolicited announcements make every mapping renew at most this often (seconds).
ANNOUNCE_HOLDOFF = 5.0

log = Logger()


@dataclass(eq=False)
class _Pending(Generic[R]):
    data: bytes
    accept: Callable[[R], bool]
    result: Deferred[R]
    waits: list[float] = field(default_factory=list)
    timer: IDelayedCall | None = None


class ControlChannel(DatagramProtocol, Generic[R]):
    """
    Requests to C{gateway}:5351 from C{local}, answered by datagrams that
    C{decode} reads (an L{InvalidPortControlMessage} drops them).

    @param unsolicited: offered a decoded answer that matches no request (a
        server may unicast an ANNOUNCE to its clients); it says if it took it.
    @ivar drops: every dropped datagram, by reason.
    """

    def __init__(
        self,
        reactor: ISSDPReactor,
        local: str,
        gateway: str,
        decode: Callable[[bytes], R],
        what: str,
        *,
        schedule: Sequence[float] = RETRANSMIT,
        server_port: int = SERVER_PORT,
        unsolicited: Callable[[R], bool] | None = None,
    ) -> None:
        self.reactor = reactor
        self.local = local
        self.gateway = gateway
        self.server_port = server_port
        self.decode = decode
        self.what = what
        self.schedule = tuple(schedule)
        self.unsolicited = unsolicited
        self.drops = DropLog(log, reactor, what=f"{what} datagram")
        self._pending: list[_Pending[R]] = []
        self._port: IListeningPort | None = None

    def _open(self) -> None:
        if self._port is None:
            self._port = self.reactor.listenUDP(0, self, interface=self.local, maxPacketSize=2048)

    def request(self, data: bytes, accept: Callable[[R], bool]) -> Deferred[R]:
        """
        Send C{data} until an answer that C{accept} takes arrives.

        @return: a Deferred that fires with the decoded answer, or fails with
            L{NoResponse} once the schedule is over (or the socket refuses);
            cancelling it stops the retransmissions.
        """

        def cancel(_: Deferred[R]) -> None:
            self._finish(pending)

        pending: _Pending[R] = _Pending(data, accept, Deferred(cancel), list(self.schedule))
        if len(self._pending) >= MAX_PENDING:
            pending.result.errback(NoResponse(f"{self.what}: {MAX_PENDING} requests in flight"))
            return pending.result
        try:
            self._open()
        except OSError as e:
            pending.result.errback(NoResponse(f"{self.what}: cannot bind to {self.local}: {e}"))
            return pending.result
        self._pending.append(pending)
        self._send(pending)
        return pending.result

    def _send(self, pending: _Pending[R]) -> None:
        pending.timer = None
        if not pending.waits:
            self._finish(pending)
            tries = len(self.schedule)
            pending.result.errback(NoResponse(
                f"{self.what}: no answer from {self.gateway}:{self.server_port} after {tries}"
                f" tries in {sum(self.schedule):.2f}s"
            ))  # fmt: skip
            return
        assert self.transport is not None
        try:
            self.transport.write(pending.data, (self.gateway, self.server_port))
        except OSError as e:
            self._finish(pending)
            pending.result.errback(NoResponse(f"{self.what}: cannot send to {self.gateway}: {e}"))
            return
        pending.timer = self.reactor.callLater(pending.waits.pop(0), self._send, pending)

    def _finish(self, pending: _Pending[R]) -> None:
        if pending.timer is not None and pending.timer.active():
            pending.timer.cancel()
        pending.timer = None
        if pending in self._pending:
            self._pending.remove(pending)

    def datagramReceived(self, data: bytes, addr: Any) -> None:
        host, port = addr[0], addr[1]
        if (str(host).split("%", 1)[0], port) != (self.gateway.split("%", 1)[0], self.server_port):
            self.drops.drop("not from the gateway", host, port)
            return
        try:
            answer = self.decode(data)
        except InvalidPortControlMessage as e:
            self.drops.drop("malformed", host, port, detail=str(e))
            return
        for pending in self._pending:
            if pending.accept(answer):
                self._finish(pending)
                pending.result.callback(answer)
                return
        if self.unsolicited is None or not self.unsolicited(answer):
            self.drops.drop("answers no request of ours", host, port)

    def close(self) -> Deferred[None]:
        """Stop every request (they fail with L{NoResponse}) and close the socket."""
        for pending in list(self._pending):
            self._finish(pending)
            pending.result.errback(NoResponse(f"{self.what}: closed"))
        port, self._port = self._port, None
        if port is None:
            return succeed(None)
        return maybeDeferred(port.stopListening).addCallback(lambda _: None)


class Epoch:
    """
    The gateway's epoch as last seen, against our clock: whether it kept its
    mappings (RFC 6887 8.5, RFC 6886 3.6), and who to tell when it did not.
    """

    def __init__(self, clock: IReactorTime) -> None:
        self.clock = clock
        self.last: tuple[int, float] | None = None
        self._observers: list[Callable[[], None]] = []
        self._last_told: float | None = None

    def observe(self, callback: Callable[[], None]) -> None:
        self._observers.append(callback)

    def saw(self, epoch: int) -> bool:
        """
        Record C{epoch}; say whether the gateway still has what it had (False
        once it has lost its mappings: the observers are told first).
        """
        now = self.clock.seconds()
        previous, self.last = self.last, (epoch, now)
        if previous is None or epoch_valid(previous[0], previous[1], epoch, now):
            return True
        log.warn("the gateway's epoch went from {old} to {new}: it has lost its mappings",
                 old=previous[0], new=epoch)  # fmt: skip
        self._tell()
        return False

    def announced(self, epoch: int) -> None:
        """
        The gateway announced itself unasked (it restarted, or its address
        changed). Its epoch may not show it: miniupnpd with C{system_uptime}
        (OpenWrt's default) counts from the host's boot, not its own start.
        So the observers are told either way, at most once per
        L{ANNOUNCE_HOLDOFF} seconds (announcements are easily spoofed on a LAN).
        """
        if not self.saw(epoch):
            self._last_told = self.clock.seconds()
            return
        now = self.clock.seconds()
        if self._last_told is not None and now - self._last_told < ANNOUNCE_HOLDOFF:
            return
        log.info("the gateway announced itself: renewing every mapping")
        self._tell()

    def _tell(self) -> None:
        self._last_told = self.clock.seconds()
        for observer in list(self._observers):
            observer()


@dataclass(frozen=True)
class HeldMapping:
    """A mapping a client made, until when it lasts, and what names it (PCP's nonce, an
    IGD2 pinhole's UniqueID)."""

    mapping: PortMapping
    until: float
    token: bytes | int = b""


class HeldMappings(dict[tuple[str, int], HeldMapping]):
    """
    What one client has mapped, by (protocol, external port): PCP, NAT-PMP
    and IGD2 pinholes cannot list the gateway's table, and renew or delete
    only what this client names.
    """

    def __init__(self, clock: IReactorTime) -> None:
        super().__init__()
        self.clock = clock

    def of_internal(self, protocol: str, internal_port: int) -> HeldMapping | None:
        """The mapping of C{internal_port}, if one is held (a gateway keys them so)."""
        return next((held for (proto, _), held in self.items()
                     if proto == protocol and held.mapping.internal_port == internal_port),
                    None)  # fmt: skip

    def keep(self, mapping: PortMapping, token: bytes | int = b"") -> None:
        """Hold C{mapping} for its lease, in place of any other of its internal port."""
        old = self.of_internal(mapping.protocol, mapping.internal_port)
        if old is not None:
            self.pop((old.mapping.protocol, old.mapping.external_port), None)
        until = self.clock.seconds() + mapping.lease
        self[(mapping.protocol, mapping.external_port)] = HeldMapping(mapping, until, token)

    def live(self, protocol: str, external_port: int) -> HeldMapping | None:
        """The mapping of C{external_port} if its lease still runs (else it is let go)."""
        held = self.get((protocol, external_port))
        if held is not None and held.until <= self.clock.seconds():
            del self[(protocol, external_port)]
            return None
        return held


class UDPMapper:
    """
    What the PCP and NAT-PMP mappers share: the gateway's epoch, the
    mappings held, the announcements followed, and L{get_mapping}: a held
    mapping, once a cheap request shows the gateway's epoch (so its table)
    is intact.
    """

    method = "?"
    log = Logger()

    def __init__(self, reactor: ISSDPReactor, gateway: str, local_address: str) -> None:
        self.reactor = reactor
        self.gateway = gateway
        self.local_address = local_address
        self.epoch = Epoch(reactor)
        self.held = HeldMappings(reactor)
        self.epoch.observe(self.held.clear)
        self.external_ip: str | None = None
        self._listener: AnnouncementListener | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} gateway {self.gateway} for {self.local_address}>"

    @property
    def where(self) -> str:
        """The gateway's port, and its epoch once seen."""
        last = self.epoch.last
        return f"{self.gateway}:{SERVER_PORT}" + (f" (epoch {last[0]})" if last else "")

    def observe_reset(self, callback: Callable[[], None]) -> None:
        self.epoch.observe(callback)

    def _listener_for(self) -> AnnouncementListener:
        raise NotImplementedError

    def listen(self) -> None:
        """Follow the gateway's unsolicited announcements (224.0.0.1:5350, [ff02::1]:5350)."""
        if self._listener is None:
            self._listener = self._listener_for()
            self._listener.start()

    async def _check_epoch(self) -> None:
        raise NotImplementedError

    def get_mapping(
        self, external_port: int, protocol: str = "TCP"
    ) -> Deferred[PortMapping | None]:
        """The mapping this mapper made of C{external_port}, if the gateway still has it."""
        key = (check_protocol(protocol), external_port)

        async def run() -> PortMapping | None:
            if key not in self.held:
                return None
            await self._check_epoch()  # an epoch gone back lets every held mapping go
            held = self.held.live(*key)
            return held.mapping if held is not None else None

        return Deferred.fromCoroutine(run())

    def _not_held(self, protocol: str, external_port: int, why: str = "") -> MappingNotHeld:
        return MappingNotHeld(f"{self.method}: {protocol} {external_port} was not mapped by this"
                              f" client{why}")  # fmt: skip

    def close(self) -> Deferred[None]:
        raise NotImplementedError

    def _close_listener(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
