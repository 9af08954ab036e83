"""The gateway HTTP client: IP literals straight to Twisted's Agent, host names through treq."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransport
from twisted.web.http_headers import Headers

from ssdp_upnp._http import default_http_client
from ssdp_upnp.testing import MemoryMulticastReactor

ROOT = Path(__file__).resolve().parent.parent


def _connect(reactor: MemoryMulticastReactor) -> tuple[str, int, StringTransport]:
    host, port, factory, _, _ = reactor.tcpClients[-1]
    protocol = factory.buildProtocol(IPv4Address("TCP", host, port))
    assert protocol is not None
    transport = StringTransport()
    protocol.makeConnection(transport)
    return host, port, transport


def test_an_ipv4_literal_is_connected_to_directly_with_the_whole_body() -> None:
    reactor = MemoryMulticastReactor()
    client = default_http_client(reactor)
    client.request("POST", "http://192.0.2.1:5000/ctl/IPConn", data=b"<x/>", allow_redirects=False,
                   headers=Headers({"SOAPAction": ['"urn:x#Y"']}))  # fmt: skip
    host, port, transport = _connect(reactor)
    assert (host, port) == ("192.0.2.1", 5000)
    sent = transport.value()
    assert sent.startswith(b"POST /ctl/IPConn HTTP/1.1\r\n")
    assert b"Content-Length: 4\r\n" in sent and b'Soapaction: "urn:x#Y"' in sent
    assert sent.endswith(b"\r\n\r\n<x/>")
    assert client._treq is None  # type: ignore[attr-defined]


def test_an_ipv6_literal_is_connected_to_directly() -> None:
    reactor = MemoryMulticastReactor()
    client = default_http_client(reactor)
    client.request("GET", "http://[2001:db8::1]:5000/rootDesc.xml", allow_redirects=False)
    host, port, transport = _connect(reactor)
    assert (host, port) == ("2001:db8::1", 5000)
    assert transport.value().startswith(b"GET /rootDesc.xml HTTP/1.1\r\n")


def test_a_host_name_goes_through_treq() -> None:
    calls: list[tuple[Any, ...]] = []

    class Treq:
        def request(self, method: str, url: str, **kwargs: Any) -> object:
            calls.append((method, url, kwargs["allow_redirects"]))
            return object()

    client = default_http_client(MemoryMulticastReactor())
    client._treq = Treq()  # type: ignore[attr-defined]
    client.request("GET", "http://router.lan:5000/rootDesc.xml", allow_redirects=False)
    # a literal that asks to follow redirects goes through treq too (it follows them)
    client.request("GET", "http://192.0.2.1:5000/rootDesc.xml")
    assert calls == [("GET", "http://router.lan:5000/rootDesc.xml", False),
                     ("GET", "http://192.0.2.1:5000/rootDesc.xml", True)]  # fmt: skip


LITERAL_RUN = """
import json, sys
from twisted.internet.testing import MemoryReactorClock
from ssdp_upnp._http import default_http_client
client = default_http_client(MemoryReactorClock())
client.request("POST", "http://192.0.2.1:5000/ctl", data=b"x", allow_redirects=False)
before = "treq" in sys.modules
client.request("GET", "http://router.lan:5000/d.xml", allow_redirects=False)
print(json.dumps([before, "treq" in sys.modules]))
"""


def test_treq_is_loaded_only_for_a_host_name() -> None:
    done = subprocess.run([sys.executable, "-c", LITERAL_RUN], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [False, True]
