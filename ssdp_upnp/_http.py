"""
One bounded HTTP exchange with a gateway.

A gateway's URLs name it by an IP literal (a LOCATION must name the host
that answered), so the default client, L{GatewayHTTPClient}, sends each such
request on its own TCP connection, writes it whole, and reads the answer with
L{ssdp_upnp._http_response.ResponseReader}: one request, one connection, no
HTTP machinery beyond that (no pool, no redirects, no host name to resolve).
On this VM it takes a warm SOAP call from 0.72 to ~0.4 ms (bench/README.md).
Any other URL, and any other client (treq's C{HTTPClient},
L{ssdp_upnp.testing.StubHTTPClient}), goes through treq
(L{ssdp_upnp._http_treq}), loaded only then. Either way: a size cap, one
deadline for the whole exchange, no redirects.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast
from urllib.parse import unquote, urlsplit

from twisted.internet.abstract import isIPAddress, isIPv6Address
from twisted.internet.defer import Deferred, TimeoutError, fail
from twisted.internet.error import ConnectError, ConnectionDone, getConnectError
from twisted.internet.interfaces import (
    IConnector,
    IDelayedCall,
    IReactorSocket,
    IReactorTime,
    IWriteDescriptor,
)
from twisted.internet.protocol import ClientFactory, Protocol
from twisted.python.failure import Failure
from zope.interface import implementer

from ._http_response import ResponseReader, request_bytes
from ._types import DEFAULT_TIMEOUT, HTTPClient, ISSDPReactor
from .errors import GatewayHTTPError

if TYPE_CHECKING:
    from twisted.internet.interfaces import IAddress
    from twisted.internet.posixbase import PosixReactorBase
    from twisted.web.http_headers import Headers
    from twisted.web.iweb import IResponse

#: Largest body read from a gateway (descriptions are a few KiB; GetListOfPortMappings more).
MAX_BODY = 256 * 1024


@dataclass(frozen=True)
class Target:
    """Where an http:// URL with an IP literal for its host sends its request."""

    host: str  # the literal, without brackets (an IPv6 zone as C{%eth0})
    family: socket.AddressFamily
    port: int
    netloc: str  # for the Host header
    path: str  # with its query


def literal_target(url: str) -> Target | None:
    """The L{Target} of C{url}, or None if it is not http:// to an IP literal."""
    try:
        parts = urlsplit(url)
        port = parts.port or 80
    except ValueError:
        return None
    if parts.scheme.lower() != "http" or parts.hostname is None:
        return None
    host = unquote(parts.hostname)
    if isIPv6Address(host):  # the Host header has no zone (RFC 6874 sec. 4)
        family, netloc = socket.AF_INET6, f"[{host.partition('%')[0]}]"
    elif isIPAddress(host):
        family, netloc = socket.AF_INET, host
    else:
        return None
    if parts.port is not None:
        netloc += f":{port}"
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(host, family, port, netloc, path)


_CLOSED = Failure(ConnectionDone())


class _Exchange(Protocol):
    """
    Writes one request when connected; reads its one response, within a
    deadline. Its L{finished} fires with C{(status, body)}, or fails with
    L{GatewayHTTPError}: no connection, a malformed or cut answer, a body
    over the limit, a redirect, or the deadline passed.
    """

    def __init__(
        self, what: str, request: bytes, limit: int, clock: IReactorTime, timeout: float
    ) -> None:
        self.what = what
        self.unsent = request  # what of the request is still to be written
        self.reader = ResponseReader(limit)
        self.finished: Deferred[tuple[int, bytes]] = Deferred(self._cancel)
        #: gives up the connect under way (None once connected, or if it failed)
        self.stop_connecting: Callable[[], object] | None = None
        #: the whole exchange's deadline (None once it is settled)
        self.deadline: IDelayedCall | None = clock.callLater(timeout, self._expire, timeout)

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.stop_connecting = None
        if self.unsent:
            self.transport.write(self.unsent)
            self.unsent = b""

    def dataReceived(self, data: bytes) -> None:
        if self.finished.called:
            return
        try:
            complete = self.reader.feed(data)
        except GatewayHTTPError as e:
            self.transport.abortConnection()  # type: ignore[union-attr]
            self._fail(str(e))
            return
        if complete:
            # the answer first, then the close (its reactor calls are not the caller's wait)
            self._answer()
            self.transport.loseConnection()  # type: ignore[union-attr]

    def connectionLost(self, reason: Failure = _CLOSED) -> None:
        if self.finished.called:
            return
        try:
            self.reader.connection_closed()
        except GatewayHTTPError as e:
            self._fail(f"{e} ({reason.getErrorMessage()})")
            return
        self._answer()

    def _answer(self) -> None:
        status = self.reader.status
        if 300 <= status < 400:
            self._fail(f"redirect ({status}) refused")
            return
        self._stop_deadline()
        self.finished.callback((status, self.reader.body))

    def _fail(self, why: str) -> None:
        self._stop_deadline()
        self.finished.errback(GatewayHTTPError(f"{self.what}: {why}"))

    def _stop_deadline(self) -> None:
        if self.deadline is not None:
            if self.deadline.active():
                self.deadline.cancel()
            self.deadline = None

    def _expire(self, timeout: float) -> None:
        self.deadline = None
        self._fail(f"no complete answer in {timeout}s")
        self._drop()  # after the failure: a connector's stop reports back (connect_failed)

    def _cancel(self, d: Deferred[tuple[int, bytes]]) -> None:
        self._stop_deadline()
        self._drop()

    def _drop(self) -> None:
        if self.transport is not None:
            self.transport.abortConnection()  # type: ignore[attr-defined]
        elif self.stop_connecting is not None:
            self.stop_connecting()
            self.stop_connecting = None

    def connect_failed(self, error: BaseException | None) -> None:
        self.stop_connecting = None
        if not self.finished.called:
            self._fail(f"no connection: {type(error).__name__}: {error}")


class _ExchangeFactory(ClientFactory):
    noisy = False  # no "Starting factory" line at every request

    def __init__(self, exchange: _Exchange) -> None:
        self.exchange = exchange

    def buildProtocol(self, addr: IAddress | None) -> _Exchange:
        return self.exchange

    def clientConnectionFailed(self, connector: IConnector, reason: Failure) -> None:
        self.exchange.connect_failed(reason.value)


@implementer(IWriteDescriptor)
class _Connecting:
    """
    A non-blocking connect to an IP literal whose request is sent as soon as
    the socket takes it, after which the reactor adopts the connection
    (C{IReactorSocket.adoptStreamConnection}) to read the answer. The request
    is tried at once, right after the connect: a gateway on the same host or
    a veth peer has often completed the handshake by then (Linux runs it
    before C{connect} returns), and the reactor is then not asked to watch
    for writability at all; otherwise it is sent when the socket is writable.
    Against C{connectTCP} it saves two or three turns of the reactor (the
    C{callLater(0)} before connecting, a turn to write, and the writability
    turn): bench/README.md, C{soap_floors}.
    """

    socket_type = socket.socket  # (a seam for the tests of a connect still under way)

    def __init__(self, reactor: PosixReactorBase, target: Target, exchange: _Exchange) -> None:
        self.reactor = reactor
        self.exchange = exchange
        self.family = target.family
        address: tuple[object, ...] = (target.host, target.port)  # the socket reads a literal
        if "%" in target.host:  # a zone: its interface's index, which getaddrinfo looks up
            found = socket.getaddrinfo(
                target.host, target.port, self.family, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST
            )
            address = found[0][4]
        self.socket = self.socket_type(self.family, socket.SOCK_STREAM)
        self.socket.setblocking(False)
        code = self.socket.connect_ex(address)
        if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
            self.socket.close()
            raise getConnectError((code, os.strerror(code)))

    def start(self) -> None:
        """Send the request now if the socket takes it, else when it is writable."""
        if not self._send_and_adopt():
            self.reactor.addWriter(self)

    def fileno(self) -> int:
        return self.socket.fileno()

    def logPrefix(self) -> str:
        return "GatewayHTTP"

    def doWrite(self) -> None:
        self.reactor.removeWriter(self)
        code = self.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self._failed(getConnectError((code, os.strerror(code))))
        else:
            self._send_and_adopt(connected=True)

    def _send_and_adopt(self, connected: bool = False) -> bool:
        """
        Send what the socket takes of the request and hand the connection to
        the reactor (whose transport writes any rest). False, and nothing
        done, if the socket takes nothing and is not known to be C{connected}
        (its connect is still under way); a connect that failed is reported
        to the exchange.
        """
        exchange = self.exchange
        try:
            sent = self.socket.send(exchange.unsent)
        except BlockingIOError:  # EAGAIN: still connecting, or (connected) a full buffer
            if not connected:
                return False
            sent = 0
        except OSError as e:
            self._failed(getConnectError((e.errno, e.strerror)))
            return True
        exchange.unsent = exchange.unsent[sent:]
        self.reactor.adoptStreamConnection(self.socket.fileno(), self.family,
                                           _ExchangeFactory(exchange))  # fmt: skip
        self.socket.close()  # the reactor's connection holds its own descriptor
        return True

    def connectionLost(self, reason: Failure) -> None:
        """The reactor saw the socket fail (a refused connect ends here, as EPOLLHUP)."""
        try:
            code = self.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        except OSError:
            code = 0
        self._failed(getConnectError((code, os.strerror(code))) if code else reason.value)

    def _failed(self, error: BaseException | None) -> None:
        self.socket.close()
        self.exchange.connect_failed(error)

    def stop(self) -> None:
        """Give up connecting (the deadline passed)."""
        self.reactor.removeWriter(self)
        self.socket.close()


def _adopts_sockets(reactor: object) -> bool:
    """
    Whether C{reactor} is one of real descriptors (epoll, poll, select) that
    adopts a connected socket: then we connect ourselves (L{_Connecting});
    any other (IOCP, an in-memory reactor) gets C{connectTCP}. (posixbase is
    looked up, not imported: importing it loads TLS, and a reactor of its
    kind has loaded it already.)
    """
    posixbase = sys.modules.get("twisted.internet.posixbase")
    return (
        posixbase is not None
        and isinstance(reactor, posixbase.PosixReactorBase)
        and IReactorSocket.providedBy(reactor)
    )


class GatewayHTTPClient:
    """
    The default HTTP client to gateways: L{exchange} for http:// URLs with an
    IP literal, and treq's C{request} (on its own Agent, loaded at the first
    call) for anything else.
    """

    def __init__(self, reactor: ISSDPReactor, connect_timeout: float = DEFAULT_TIMEOUT) -> None:
        self.reactor = reactor
        self.connect_timeout = connect_timeout
        self._treq: HTTPClient | None = None
        self._targets: dict[str, Target | None] = {}  # a gateway's few URLs, asked again and again
        self._adopts = _adopts_sockets(reactor)

    def target(self, url: str) -> Target | None:
        """L{literal_target} of C{url}, remembered (for at most 64 URLs at a time)."""
        try:
            return self._targets[url]
        except KeyError:
            pass
        if len(self._targets) >= 64:
            self._targets.clear()
        target = self._targets[url] = literal_target(url)
        return target

    def exchange(
        self,
        method: str,
        url: str,
        target: Target,
        headers: Mapping[str, str],
        data: bytes | None,
        limit: int,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> Deferred[tuple[int, bytes]]:
        """
        One request to C{target} on a new connection, closed after its answer.

        @return: a Deferred that fires with C{(status, body)} within
            C{timeout} seconds, or fails with L{GatewayHTTPError} (no
            connection, a malformed or cut answer, a body over C{limit}, a
            redirect, the deadline passed); cancelling it drops the connection.
        """
        what = f"{method} {url}"
        try:
            request = request_bytes(method, target.netloc, target.path, headers, data)
        except ValueError as e:
            return fail(GatewayHTTPError(f"{what}: {e}"))
        exchange = _Exchange(what, request, limit, self.reactor, timeout)
        if self._adopts:
            try:
                connecting = _Connecting(cast("PosixReactorBase", self.reactor), target, exchange)
            except (OSError, ConnectError) as e:  # refused at once (a link-local without a zone)
                exchange.connect_failed(e)
            else:
                exchange.stop_connecting = connecting.stop
                connecting.start()
        else:
            connector = self.reactor.connectTCP(
                target.host, target.port, _ExchangeFactory(exchange), self.connect_timeout
            )
            exchange.stop_connecting = connector.stopConnecting
        return exchange.finished

    @property
    def treq(self) -> HTTPClient:
        if self._treq is None:
            from ._http_treq import treq_client

            self._treq = treq_client(self.reactor, self.connect_timeout)
        return self._treq

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Headers | None = None,
        data: bytes | None = None,
        allow_redirects: bool = True,
    ) -> Awaitable[IResponse]:
        """treq's C{HTTPClient.request} (the L{HTTPClient} seam)."""
        return self.treq.request(
            method, url, headers=headers, data=data, allow_redirects=allow_redirects
        )


def default_http_client(
    reactor: ISSDPReactor, connect_timeout: float = DEFAULT_TIMEOUT
) -> GatewayHTTPClient:
    """The HTTP client a gateway is talked to with when none is given."""
    return GatewayHTTPClient(reactor, connect_timeout)


def http_request(
    reactor: IReactorTime,
    http: HTTPClient,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    data: bytes | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    limit: int = MAX_BODY,
) -> Deferred[tuple[int, bytes]]:
    """
    One request to a gateway, bounded in time and size.

    @param reactor: what times a request made through treq; a
        L{GatewayHTTPClient} times its own exchanges on the reactor it was
        made with (the same one wherever this package makes both).
    @param http: L{GatewayHTTPClient}, or a treq C{HTTPClient} (or
        L{ssdp_upnp.testing.StubHTTPClient}).
    @return: a Deferred that fires with C{(status, body)} within C{timeout}
        seconds, or fails with L{GatewayHTTPError} (connection refused or cut,
        redirect, body over C{limit}, deadline passed).
    """
    if isinstance(http, GatewayHTTPClient) and (target := http.target(url)) is not None:
        # its own deadline and redirect check: nothing more in the answer's path
        return http.exchange(method, url, target, headers or {}, data, limit, timeout)
    from ._http_treq import treq_exchange

    d = Deferred.fromCoroutine(treq_exchange(http, method, url, headers or {}, data, limit))
    d.addTimeout(timeout, reactor)

    def timed_out(failure: Failure) -> Failure:
        if failure.check(TimeoutError):
            return Failure(GatewayHTTPError(f"{method} {url}: no complete answer in {timeout}s"))
        return failure

    return d.addErrback(timed_out)
