"""
The seams ssdp_upnp is driven through, typed (as treq's C{_types.py} does).

The reactor is a parameter everywhere. What SSDP needs of it is one combined
interface, L{ISSDPReactor}: multicast and UDP ports, TCP listening (the
description server, the HTTP client) and time. Parts that only wait take a
bare C{IReactorTime}. The HTTP client is the C{request} subset that treq's
C{HTTPClient} and our L{ssdp_upnp.testing.StubHTTPClient} share.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Protocol, cast

from twisted.internet.interfaces import IReactorMulticast, IReactorTCP, IReactorTime, IReactorUDP
from zope.interface import Interface

if TYPE_CHECKING:  # twisted.web loads only with the HTTP client
    from twisted.web.http_headers import Headers
    from twisted.web.iweb import IResponse

#: How long a gateway has for each HTTP exchange, in seconds.
DEFAULT_TIMEOUT = 5.0


class ISSDPReactor(IReactorMulticast, IReactorUDP, IReactorTCP, IReactorTime, Interface):
    """
    What an SSDP node needs of its reactor: multicast and UDP ports, TCP
    (the description server and the HTTP client to the gateway), and time.
    Twisted's own reactors provide all of it.
    """


class HTTPClient(Protocol):
    """
    The part of treq's C{HTTPClient} that talking to a gateway uses (treq's
    C{StubTreq} is untyped: L{ssdp_upnp.testing.StubHTTPClient} wraps it).
    """

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Headers | None = None,
        data: bytes | None = None,
        allow_redirects: bool = True,
    ) -> Awaitable[IResponse]:
        """Send one request; the result is the response once its headers are in."""


def without_tls() -> None:
    """
    Run this process's Twisted without pyOpenSSL, for a process that is ours alone
    (C{ssdp-upnp}, C{twistd ssdp}) and never speaks TLS (a gateway's URLs are
    http://). Twisted otherwise loads pyOpenSSL, cryptography and
    service_identity with its reactor: 0.1-0.25 s of a start here, ~4 MiB.
    Call it before the reactor is imported; if pyOpenSSL is already loaded,
    nothing changes.
    """
    import sys

    sys.modules.setdefault("OpenSSL", None)  # type: ignore[arg-type]


def global_reactor() -> ISSDPReactor:
    """Twisted's global reactor, typed as what we use of it (it provides every part)."""
    from twisted.internet import reactor

    return cast(ISSDPReactor, reactor)
