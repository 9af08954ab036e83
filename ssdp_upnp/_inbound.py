"""
The inbound path of SSDP datagrams, shared by the advertiser and discovery:
only senders on a subnet of one of our interfaces, only well-formed messages,
and rate-limited logging of what is dropped.

A hostile or broken LAN can send thousands of bad datagrams a second; each is
dropped, but only a few a minute per reason are logged, and the next logged
event says how many were suppressed meanwhile.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection
from typing import Any

from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger

from ._ratelimit import RateLimiter
from .errors import LegacyMessageError, MessageError
from .lan import Interface, interface_for
from .legacy import LegacyResponse, decode_legacy
from .message import Message, decode


class LimitedLog:
    """
    Info lines of each kind at most C{per_minute} a minute (a burst of
    C{burst}); the next line logged of a kind says how many were not.
    """

    def __init__(
        self, log: Logger, clock: IReactorTime, per_minute: float, burst: float, kinds: int = 64
    ) -> None:
        self._log = log
        self._clock = clock
        self._limiter = RateLimiter(rate=per_minute / 60.0, burst=burst, max_keys=kinds)
        self.suppressed: Counter[str] = Counter()

    def info(self, kind: str, format: str, **fields: Any) -> None:
        """Log C{format} with C{fields} unless lines of C{kind} are over their limit."""
        if not self._limiter.allow(kind, self._clock.seconds()):
            self.suppressed[kind] += 1
            return
        suppressed = self.suppressed.pop(kind, 0)
        if suppressed:
            format += " ({suppressed} more like it not logged)"
        self._log.info(format, suppressed=suppressed, **fields)


class DropLog:
    def __init__(
        self,
        log: Logger,
        clock: IReactorTime,
        per_minute: float = 6,
        burst: float = 3,
        what: str = "datagram",
    ) -> None:
        self._what = what
        self._lines = LimitedLog(log, clock, per_minute, burst)
        #: every drop, logged or not, by reason (for tests, metrics and benchmarks)
        self.counts: Counter[str] = Counter()

    @property
    def suppressed(self) -> Counter[str]:
        return self._lines.suppressed

    def drop(self, reason: str, host: str, port: int, **fields: Any) -> None:
        """Count a dropped datagram from C{host}:C{port} and log it unless over the limit."""
        self.counts[reason] += 1
        self._lines.info(
            reason,
            "dropped {what} from {host}:{port}: {reason} {detail}",
            what=self._what,
            host=host,
            port=port,
            reason=reason,
            detail=fields.pop("detail", ""),
            **fields,
        )


#: What the inbound path hands on: an SSDP message, or a 0.1.0 node's answer.
Inbound = Message | LegacyResponse


MessageHandler = Callable[[Inbound, str, int, Interface], None]


class SSDPReceiver(DatagramProtocol):
    """
    The one inbound path: decode datagrams from senders on the subnet of one
    of C{interfaces} (read at each datagram: a live view follows changes) and
    pass them to C{handler}; drop the rest. One per port (a protocol has one
    transport); ports of one service share their L{DropLog}. The advertiser's
    protocol is one too.
    """

    log = Logger()
    noisy = False

    def __init__(
        self,
        interfaces: Collection[Interface],
        drops: DropLog,
        handler: MessageHandler,
        legacy: bool = False,
    ) -> None:
        self.on_link = interfaces
        self.handler = handler
        self.drops = drops
        #: also take 0.1.0 nodes' answers (see L{ssdp_upnp.legacy})
        self.legacy = legacy

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        """
        Hand on the message in C{datagram} with the interface whose subnet
        holds its sender C{addr}; drop (count, maybe log) it from an off-link
        sender or malformed. With C{legacy}, a datagram that is not
        well-formed SSDP may still be a 0.1.0 node's answer.
        """
        host, port = addr[0], addr[1]
        interface = interface_for(self.on_link, host)
        if interface is None:
            self.drops.drop("off-link sender", host, port)
            return
        message: Inbound | None
        try:
            message = decode(datagram)
        except MessageError as e:
            message = None
            if self.legacy:
                try:
                    message = decode_legacy(datagram)
                except LegacyMessageError:
                    pass
            if message is None:
                self.drops.drop("malformed", host, port, detail=str(e))
                return
        try:
            self.handler(message, host, port, interface)
        except Exception:
            self.log.failure("handling a message from {host}:{port}", host=host, port=port)
