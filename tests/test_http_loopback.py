"""
The gateway HTTP client on the real reactor, over 127.0.0.1 (pytest-twisted):
our own non-blocking connect, the request sent before the reactor adopts the
socket (at once if the connect is done, else when the socket is writable),
and the answer read through the adopted connection.
"""

from __future__ import annotations

import errno
import select
import socket
from typing import Any

import pytest
from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.error import CannotListenError
from twisted.internet.protocol import Protocol, ServerFactory
from twisted.python.failure import Failure

from ssdp_upnp._http import _Connecting, default_http_client, http_request
from ssdp_upnp._types import global_reactor
from ssdp_upnp.errors import GatewayHTTPError
from test_loopback import on_the_reactor, serve, stop

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"


class Router(Protocol):
    """Reads a request (head and a Content-Length body), answers C{answer}, closes."""

    def __init__(self, factory: RouterFactory) -> None:
        self.factory = factory
        self.data = b""

    def dataReceived(self, data: bytes) -> None:
        self.data += data
        head, _, body = self.data.partition(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)  # fmt: skip
        if b"\r\n\r\n" not in self.data or len(body) < length:
            return
        self.factory.requests.append(self.data)
        if not self.factory.received.called:
            self.factory.received.callback(None)
        if self.factory.answer is not None:
            assert self.transport is not None
            self.transport.write(self.factory.answer)
            self.transport.loseConnection()

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.factory.lost.callback(self.data)


class RouterFactory(ServerFactory):
    def __init__(self, answer: bytes | None = ANSWER) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self.received: Deferred[None] = Deferred()
        self.lost: Deferred[bytes] = Deferred()

    def buildProtocol(self, addr: Any) -> Router:
        return Router(self)


@on_the_reactor
async def test_a_request_and_its_answer() -> None:
    router = RouterFactory()
    port, number = serve(router)
    try:
        reactor = global_reactor()
        url = f"http://127.0.0.1:{number}/ctl"
        client = default_http_client(reactor)
        assert client._adopts  # a reactor of real descriptors: our own connect
        answer = await http_request(reactor, client, "POST", url, data=b"<x/>",
                                    headers={"SOAPAction": '"urn:x#Y"'})  # fmt: skip
        assert answer == (200, b"hello")
        assert router.requests == [
            b"POST /ctl HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
            b'Content-Length: 4\r\nSOAPAction: "urn:x#Y"\r\n\r\n<x/>' % number
        ]
        await router.lost
    finally:
        await stop(port)


@on_the_reactor
async def test_a_request_larger_than_the_socket_takes_at_once() -> None:
    # the first send takes what the socket buffer holds; the transport writes the rest
    router = RouterFactory()
    port, number = serve(router)
    try:
        reactor = global_reactor()
        data = b"x" * (8 * 1024 * 1024)
        answer = await http_request(reactor, default_http_client(reactor), "POST",
                                    f"http://127.0.0.1:{number}/ctl", data=data)  # fmt: skip
        assert answer == (200, b"hello")
        assert router.requests[0].endswith(b"\r\n\r\n" + data)
    finally:
        await stop(port)


@on_the_reactor
async def test_an_ipv6_literal() -> None:
    router = RouterFactory()
    try:
        port = global_reactor().listenTCP(0, router, interface="::1")
    except CannotListenError as e:
        pytest.skip(f"no IPv6 loopback here: {e}")
    try:
        reactor = global_reactor()
        number = port.getHost().port  # type: ignore[attr-defined]
        url = f"http://[::1]:{number}/d.xml"  # (one with a zone: test_lab_ipv6)
        assert await http_request(reactor, default_http_client(reactor), "GET", url) == (
            200, b"hello")  # fmt: skip
        assert router.requests[0].startswith(b"GET /d.xml HTTP/1.1\r\nHost: [::1]:%d\r\n" % number)
    finally:
        await stop(port)


@on_the_reactor
async def test_a_refused_connection() -> None:
    port, number = serve(RouterFactory())
    await stop(port)  # nothing listens there now
    reactor = global_reactor()
    d = http_request(reactor, default_http_client(reactor), "GET", f"http://127.0.0.1:{number}/")
    try:
        await d
    except GatewayHTTPError as e:
        assert "no connection: ConnectionRefusedError: " in str(e), e
    else:
        raise AssertionError("no error")


@on_the_reactor
async def test_a_cancelled_request_drops_its_connection() -> None:
    router = RouterFactory(answer=None)  # reads, never answers
    port, number = serve(router)
    try:
        reactor = global_reactor()
        d = http_request(reactor, default_http_client(reactor), "GET",
                         f"http://127.0.0.1:{number}/d.xml")  # fmt: skip
        cancelled: list[Failure] = []
        d.addErrback(cancelled.append)
        await router.received
        d.cancel()
        assert cancelled and cancelled[0].check(CancelledError)
        # the router sees our side close, having read the whole request
        assert (await router.lost).startswith(b"GET /d.xml HTTP/1.1\r\n")
    finally:
        await stop(port)


class _HandshakeDone(socket.socket):
    """A socket whose first send waits (a bounded select) for its connect to complete."""

    def send(self, data: Any, flags: int = 0) -> int:
        select.select([], [self], [], 5)
        return super().send(data, flags)


class _HandshakeUnderWay(socket.socket):
    """A socket whose first send finds its connect still under way (EAGAIN)."""

    refused = 0

    def send(self, data: Any, flags: int = 0) -> int:
        if not type(self).refused:
            type(self).refused += 1
            raise BlockingIOError(errno.EAGAIN, "still connecting")
        return super().send(data, flags)


def _count_connect_watches(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    reactor = global_reactor()
    watched: list[object] = []
    add_writer = reactor.addWriter  # type: ignore[attr-defined]

    def counting(descriptor: Any) -> None:
        if isinstance(descriptor, _Connecting):
            watched.append(descriptor)
        add_writer(descriptor)

    monkeypatch.setattr(reactor, "addWriter", counting)
    return watched


@on_the_reactor
async def test_a_connect_done_at_once_sends_without_the_reactor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_Connecting, "socket_type", _HandshakeDone)
    watched = _count_connect_watches(monkeypatch)
    router = RouterFactory()
    port, number = serve(router)
    try:
        reactor = global_reactor()
        url = f"http://127.0.0.1:{number}/ctl"
        assert await http_request(reactor, default_http_client(reactor), "POST", url,
                                  data=b"<x/>") == (200, b"hello")  # fmt: skip
        assert router.requests[0].endswith(b"\r\n\r\n<x/>")
        assert watched == []  # sent right after the connect: no writability turn
    finally:
        await stop(port)


@on_the_reactor
async def test_a_connect_under_way_sends_when_writable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_Connecting, "socket_type", _HandshakeUnderWay)
    _HandshakeUnderWay.refused = 0
    watched = _count_connect_watches(monkeypatch)
    router = RouterFactory()
    port, number = serve(router)
    try:
        reactor = global_reactor()
        url = f"http://127.0.0.1:{number}/ctl"
        assert await http_request(reactor, default_http_client(reactor), "POST", url,
                                  data=b"<x/>") == (200, b"hello")  # fmt: skip
        assert router.requests[0].endswith(b"\r\n\r\n<x/>")
        assert _HandshakeUnderWay.refused == 1 and len(watched) == 1
    finally:
        await stop(port)
