"""
The gateway HTTP client: http:// URLs with an IP literal are one request on
one TCP connection read by our own response reader; anything else goes
through treq.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionDone, ConnectionLost, ConnectionRefusedError
from twisted.internet.testing import StringTransport
from twisted.python.failure import Failure

from helpers import failure_of, result_of
from ssdp_upnp._http import default_http_client, http_request, literal_target
from ssdp_upnp.errors import GatewayHTTPError
from ssdp_upnp.testing import MemoryMulticastReactor

ROOT = Path(__file__).resolve().parent.parent
URL = "http://192.0.2.1:5000/ctl/IPConn"


def _connect(reactor: MemoryMulticastReactor) -> tuple[Any, StringTransport]:
    host, port, factory, _, _ = reactor.tcpClients[-1]
    protocol = factory.buildProtocol(IPv4Address("TCP", host, port))
    assert protocol is not None
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


def _post(reactor: MemoryMulticastReactor, url: str = URL, **kwargs: Any) -> Deferred[Any]:
    return http_request(reactor, default_http_client(reactor), "POST", url, data=b"<x/>",
                        headers={"SOAPAction": '"urn:x#Y"'}, **kwargs)  # fmt: skip


def test_an_ipv4_literal_is_one_request_written_whole() -> None:
    reactor = MemoryMulticastReactor()
    d = _post(reactor)
    host, port = reactor.tcpClients[-1][:2]
    assert (host, port) == ("192.0.2.1", 5000)
    protocol, transport = _connect(reactor)
    assert transport.value() == (
        b"POST /ctl/IPConn HTTP/1.1\r\nHost: 192.0.2.1:5000\r\nConnection: close\r\n"
        b'Content-Length: 4\r\nSOAPAction: "urn:x#Y"\r\n\r\n<x/>'
    )
    protocol.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    # the answer is complete at its length: it fires, and we close, before the router does
    assert result_of(d) == (200, b"ok")
    assert transport.disconnecting
    protocol.connectionLost(Failure(ConnectionDone()))
    assert reactor.getDelayedCalls() == []


def test_an_ipv6_literal_with_a_zone() -> None:
    reactor = MemoryMulticastReactor()
    http_request(reactor, default_http_client(reactor), "GET", "http://[fe80::1%25eth0]:5000/d.xml")
    host, port = reactor.tcpClients[-1][:2]
    assert (host, port) == ("fe80::1%eth0", 5000)
    _, transport = _connect(reactor)
    # the Host header carries no zone (RFC 6874), and a GET has no body
    assert transport.value() == (
        b"GET /d.xml HTTP/1.1\r\nHost: [fe80::1]:5000\r\nConnection: close\r\n\r\n"
    )


def test_what_is_a_literal_target() -> None:
    target = literal_target("http://[2001:db8::1]/ctl?x=1")
    assert target is not None
    assert (target.host, target.port, target.netloc, target.path) == (
        "2001:db8::1", 80, "[2001:db8::1]", "/ctl?x=1")  # fmt: skip
    assert literal_target("http://192.0.2.1:5000") is not None
    for url in ("https://192.0.2.1/ctl", "http://router.lan:5000/", "http://192.0.2.1:99999/",
                "ftp://192.0.2.1/", "http:///x", "not a url"):  # fmt: skip
        assert literal_target(url) is None, url


def test_a_body_that_runs_to_the_close() -> None:
    reactor = MemoryMulticastReactor()
    d = _post(reactor)
    protocol, _ = _connect(reactor)
    protocol.dataReceived(b"HTTP/1.0 200 OK\r\n\r\n<a>")
    protocol.dataReceived(b"</a>")
    assert not d.called
    protocol.connectionLost(Failure(ConnectionDone()))
    assert result_of(d) == (200, b"<a></a>")


def test_a_chunked_body_in_pieces() -> None:
    reactor = MemoryMulticastReactor()
    d = _post(reactor)
    protocol, transport = _connect(reactor)
    for piece in (b"HTTP/1.1 500 Internal", b" Server Error\r\nTransfer-Encoding: chunked\r\n",
                  b"\r\n3\r\n<a>\r", b"\n4\r\n</a>\r\n0\r\n", b"\r\n"):  # fmt: skip
        protocol.dataReceived(piece)
    assert result_of(d) == (500, b"<a></a>")
    assert transport.disconnecting


def test_a_body_cut_short() -> None:
    reactor = MemoryMulticastReactor()
    d = _post(reactor)
    protocol, _ = _connect(reactor)
    protocol.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    protocol.connectionLost(Failure(ConnectionLost("reset by peer")))
    error = failure_of(d).value
    assert isinstance(error, GatewayHTTPError)
    assert str(error).startswith(f"POST {URL}: body cut short after 3 bytes")


def test_nothing_before_the_close() -> None:
    reactor = MemoryMulticastReactor()
    d = _post(reactor)
    protocol, _ = _connect(reactor)
    protocol.connectionLost(Failure(ConnectionDone()))
    assert "connection closed before any response" in str(failure_of(d).value)


def test_a_refused_connection() -> None:
    reactor = MemoryMulticastReactor()
    d = _post(reactor)
    factory = reactor.tcpClients[-1][2]
    factory.clientConnectionFailed(reactor.connectors[-1], Failure(ConnectionRefusedError()))
    error = failure_of(d).value
    assert isinstance(error, GatewayHTTPError)
    assert f"POST {URL}: no connection: ConnectionRefusedError: " in str(error)
    assert reactor.getDelayedCalls() == []


def test_a_body_over_the_limit_is_refused_at_once() -> None:
    reactor = MemoryMulticastReactor()
    d = _post(reactor, limit=1000)
    protocol, transport = _connect(reactor)
    protocol.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\nxx")
    assert "body of 300000 bytes over 1000" in str(failure_of(d).value)
    assert transport.disconnecting  # aborted: the rest is not read


def test_an_endless_body_is_cut_at_the_limit() -> None:
    reactor = MemoryMulticastReactor()
    d = _post(reactor, limit=1000)
    protocol, transport = _connect(reactor)
    protocol.dataReceived(b"HTTP/1.1 200 OK\r\n\r\n")
    for _ in range(3):
        protocol.dataReceived(b"x" * 400)
    assert "body over 1000 bytes" in str(failure_of(d).value)
    assert transport.disconnecting
    protocol.dataReceived(b"x" * 400)  # what was in flight is ignored


def test_a_redirect_is_refused() -> None:
    reactor = MemoryMulticastReactor()
    d = _post(reactor)
    protocol, _ = _connect(reactor)
    protocol.dataReceived(b"HTTP/1.1 302 Found\r\nLocation: http://x/\r\nContent-Length: 0\r\n\r\n")
    assert "redirect (302) refused" in str(failure_of(d).value)
    assert reactor.getDelayedCalls() == []  # the deadline went with the answer


def test_the_deadline_while_connecting_and_while_reading() -> None:
    reactor = MemoryMulticastReactor()
    d = _post(reactor, timeout=5)
    reactor.advance(5)
    assert "no complete answer in 5" in str(failure_of(d).value)
    assert reactor.connectors[-1].stoppedConnecting
    d = _post(reactor, timeout=5)
    protocol, transport = _connect(reactor)
    protocol.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n<")
    reactor.advance(5)
    assert "no complete answer in 5" in str(failure_of(d).value)
    assert transport.disconnecting
    protocol.connectionLost(Failure(ConnectionDone()))  # after the abort: nothing more fires
    assert reactor.getDelayedCalls() == []


def test_a_header_that_would_inject_a_line_is_refused_before_connecting() -> None:
    reactor = MemoryMulticastReactor()
    client = default_http_client(reactor)
    d = http_request(reactor, client, "POST", URL, data=b"x",
                     headers={"SOAPAction": '"urn:x#Y"\r\nX-Evil: 1'})  # fmt: skip
    assert isinstance(failure_of(d).value, GatewayHTTPError)
    assert reactor.tcpClients == []


def test_a_host_name_or_https_goes_through_treq() -> None:
    calls: list[tuple[Any, ...]] = []

    class Treq:
        def request(self, method: str, url: str, **kwargs: Any) -> Deferred[Any]:
            calls.append((method, url, kwargs["allow_redirects"]))
            return Deferred()

    reactor = MemoryMulticastReactor()
    client = default_http_client(reactor)
    client._treq = Treq()
    http_request(reactor, client, "GET", "http://router.lan:5000/rootDesc.xml")
    http_request(reactor, client, "GET", "https://192.0.2.1:5000/rootDesc.xml")
    assert calls == [("GET", "http://router.lan:5000/rootDesc.xml", False),
                     ("GET", "https://192.0.2.1:5000/rootDesc.xml", False)]  # fmt: skip
    assert reactor.tcpClients == []


LITERAL_RUN = """
import json, sys
from twisted.internet.testing import MemoryReactorClock
from ssdp_upnp._http import default_http_client, http_request
reactor = MemoryReactorClock()
client = default_http_client(reactor)
http_request(reactor, client, "POST", "http://192.0.2.1:5000/ctl", data=b"x")
before = ["treq" in sys.modules, "twisted.web.client" in sys.modules]
http_request(reactor, client, "GET", "http://router.lan:5000/d.xml")
print(json.dumps(before + ["treq" in sys.modules]))
"""


def test_treq_and_twisted_web_are_loaded_only_for_a_host_name() -> None:
    done = subprocess.run([sys.executable, "-c", LITERAL_RUN], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [False, False, True]
