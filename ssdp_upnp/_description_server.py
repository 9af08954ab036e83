"""
The description server: the HTTP side of a node's advertisement.

It serves two static documents, the node's device description and SCPD
(built by L{ssdp_upnp.description}), and nothing else, so it is a small
purpose-built responder rather than twisted.web, with the limits a hostile LAN
calls for:

  - only senders on the subnet of an interface the node serves (the rule SSDP
    follows) get an answer; a connection from anywhere else is closed at once;
  - connections are bounded in total and per source;
  - one deadline for the whole request (not an idle timer that each byte
    resets), a cap on the request head, one request per connection;
  - no request body is read or stored: a request that announces one gets 413
    (405 for a method other than GET and HEAD) as soon as its head is in.

Any path but the two documents is 404; any method but GET and HEAD is 405
with C{Allow} (no GENA eventing, so no CallStranger; no control).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from email.utils import formatdate

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IAddress, IDelayedCall, IReactorTime
from twisted.internet.protocol import Protocol, ServerFactory
from twisted.logger import Logger

from ._inbound import DropLog
from ._version import SERVER
from .description import DESCRIPTION_PATH, SCPD_PATH, build_device_description, build_scpd
from .lan import Interface, interface_for
from .node import NodeInfo

_REASONS = {
    200: b"OK",
    400: b"Bad Request",
    404: b"Not Found",
    405: b"Method Not Allowed",
    408: b"Request Timeout",
    413: b"Content Too Large",
    431: b"Request Header Fields Too Large",
}


@dataclass(frozen=True)
class DescriptionLimits:
    """What one description server gives the LAN at most."""

    #: connections open at once, in all and per source address
    max_connections: int = 64
    per_source: int = 8
    #: seconds from the connection to a complete request head
    request_deadline: float = 5.0
    #: bytes of request head read at most
    max_head: int = 4096


class DescriptionServer(ServerFactory):
    """
    The factory of the description server of C{node}.

    @param on_link: the interfaces whose subnets may ask (read at each
        connection: a live view follows changes).
    """

    log = Logger()
    noisy = False

    def __init__(
        self,
        node: NodeInfo,
        clock: IReactorTime,
        on_link: Collection[Interface],
        server: str = SERVER,
        limits: DescriptionLimits = DescriptionLimits(),
    ) -> None:
        self.clock = clock
        self.on_link = on_link
        self.server = server
        self.limits = limits
        self.documents = {
            DESCRIPTION_PATH.encode(): build_device_description(node, server),
            SCPD_PATH.encode(): build_scpd(),
        }
        self.open: Counter[str] = Counter()
        self.drops = DropLog(self.log, clock, what="HTTP connection")

    @property
    def connections(self) -> int:
        return sum(self.open.values())

    def buildProtocol(self, addr: IAddress | None) -> Protocol | None:
        if not isinstance(addr, IPv4Address | IPv6Address):
            return None
        host = addr.host
        if interface_for(self.on_link, host) is None:
            self.drops.drop("off-link HTTP client", host, addr.port)
            return None
        if self.connections >= self.limits.max_connections:
            self.drops.drop("too many HTTP connections", host, addr.port)
            return None
        if self.open[host] >= self.limits.per_source:
            self.drops.drop("too many HTTP connections from one source", host, addr.port)
            return None
        self.open[host] += 1
        return _Request(self, host)

    def released(self, host: str) -> None:
        self.open[host] -= 1
        if self.open[host] <= 0:
            del self.open[host]

    def answer(self, head: bytes) -> tuple[int, dict[str, str], bytes]:
        """The status, headers and body that answer the request C{head} (pure)."""
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            return 400, {}, b"400 bad request\n"
        method, target, _ = parts
        headers = {}
        for line in lines[1:]:
            name, colon, value = line.partition(b":")
            if not colon:
                return 400, {}, b"400 bad request\n"
            headers[name.strip().lower()] = value.strip()
        body_announced = headers.get(b"content-length", b"0") not in (b"0", b"") or (
            b"transfer-encoding" in headers
        )
        allow = {"Allow": "GET, HEAD"}
        if method == b"OPTIONS":
            return 405, allow, b"405 method not allowed\n"
        document = self.documents.get(target.split(b"?", 1)[0])
        if document is None:
            return 404, {}, b"404 not found\n"
        if method not in (b"GET", b"HEAD"):
            return 405, allow, b"405 method not allowed\n"
        if body_announced:
            return 413, {}, b"413 no request body is accepted\n"
        return 200, {"Content-Type": 'text/xml; charset="utf-8"'}, document


class _Request(Protocol):
    """One connection: one request head, one answer, closed."""

    def __init__(self, server: DescriptionServer, host: str) -> None:
        self.server = server
        self.host = host
        self.buffer = b""
        self.done = False
        self.deadline: IDelayedCall | None = None

    def connectionMade(self) -> None:
        self.deadline = self.server.clock.callLater(
            self.server.limits.request_deadline, self._too_slow
        )

    def dataReceived(self, data: bytes) -> None:
        if self.done:
            return  # a body or a pipelined request: neither read nor kept
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > self.server.limits.max_head:
                self._send(431, {}, b"431 request head too large\n", head=False)
            return
        head = self.buffer[:end]
        self.buffer = b""
        if len(head) > self.server.limits.max_head:
            self._send(431, {}, b"431 request head too large\n", head=False)
            return
        code, headers, body = self.server.answer(head)
        self._send(code, headers, body, head=head.startswith(b"HEAD "))

    def _too_slow(self) -> None:
        self.deadline = None
        self._send(408, {}, b"408 request not complete in time\n", head=False)

    def _send(self, code: int, headers: dict[str, str], body: bytes, head: bool) -> None:
        if self.done or self.transport is None:
            return
        self.done = True
        lines = [
            b"HTTP/1.1 %d %s" % (code, _REASONS[code]),
            f"Server: {self.server.server}".encode(),
            f"Date: {formatdate(self.server.clock.seconds(), usegmt=True)}".encode(),
            b"Content-Length: %d" % len(body),
            b"Connection: close",
            *(f"{name}: {value}".encode() for name, value in headers.items()),
        ]
        if "Content-Type" not in headers:
            lines.append(b"Content-Type: text/plain")
        self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n" + (b"" if head else body))
        self.transport.loseConnection()

    def connectionLost(self, reason: object = None) -> None:
        if self.deadline is not None and self.deadline.active():
            self.deadline.cancel()
        self.deadline = None
        self.done = True
        self.server.released(self.host)
