"""
One bounded HTTP exchange with a gateway, over treq.

treq's C{timeout} stops at the headers and it reads bodies of any size, so
this module reads the body itself: a size cap (counted as bytes arrive, and
refused at once when Content-Length says too much), one deadline for the
whole exchange, and no redirects.
"""

from __future__ import annotations

from collections.abc import Awaitable

from twisted.internet.abstract import isIPAddress, isIPv6Address
from twisted.internet.defer import CancelledError, Deferred, TimeoutError, fail, succeed
from twisted.internet.endpoints import HostnameEndpoint, TCP4ClientEndpoint, TCP6ClientEndpoint
from twisted.internet.interfaces import IConsumer, IReactorTime, IStreamClientEndpoint
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.web.client import (
    URI,
    Agent,
    HTTPConnectionPool,
    ResponseDone,
    ResponseNeverReceived,
    _HTTP11ClientFactory,
)
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers
from twisted.web.iweb import UNKNOWN_LENGTH, IAgentEndpointFactory, IBodyProducer, IResponse
from zope.interface import implementer

from ._types import DEFAULT_TIMEOUT, HTTPClient, ISSDPReactor
from .errors import GatewayHTTPError

#: Largest body read from a gateway (descriptions are a few KiB; GetListOfPortMappings more).
MAX_BODY = 256 * 1024


class _QuietFactory(_HTTP11ClientFactory):
    noisy = False  # no "Starting factory" / "Stopping factory" lines at every request


@implementer(IAgentEndpointFactory)
class _LiteralEndpoints:
    """
    Connect straight to an IP literal (a gateway's URLs always carry one: its
    LOCATION must name the host that answered): Agent's HostnameEndpoint
    would resolve it in the thread pool (0.64 against 0.26 ms a connect) and
    rejects an IPv6 literal outright (IDNA). Names still go through it.
    """

    def __init__(self, reactor: ISSDPReactor, timeout: float) -> None:
        self.reactor = reactor
        self.timeout = timeout

    def endpointForURI(self, uri: URI) -> IStreamClientEndpoint:
        host = uri.host.decode("ascii", "replace").strip("[]")
        family = _literal_family(host)
        if family == 6:
            return TCP6ClientEndpoint(self.reactor, host, uri.port, self.timeout)
        if family == 4:
            return TCP4ClientEndpoint(self.reactor, host, uri.port, self.timeout)
        return HostnameEndpoint(self.reactor, uri.host, uri.port, self.timeout)


def _literal_family(host: str) -> int | None:
    """4 or 6 if C{host} (no brackets, no port) is an IP literal of that family, else None."""
    if isIPv6Address(host):
        return 6
    if isIPAddress(host):
        return 4
    return None


def default_http_client(
    reactor: ISSDPReactor, connect_timeout: float = DEFAULT_TIMEOUT
) -> HTTPClient:
    """A treq C{HTTPClient} on its own Agent (no proxy, no redirects unless asked)."""
    pool = HTTPConnectionPool(reactor, persistent=False)
    pool._factory = _QuietFactory  # the pool's own hook for its connections' factory
    endpoints = _LiteralEndpoints(reactor, connect_timeout)
    agent = Agent.usingEndpointFactory(reactor, endpoints, pool=pool)
    return _IPLiterals(agent)


class _IPLiterals:
    """
    treq, except for URLs whose host is an IP literal (every gateway URL: a
    LOCATION must name the host that answered), which go to the same Agent
    directly. treq passes each URL through hyperlink's C{to_uri}, which
    IDNA-checks the host (about 0.3 ms a request here) and rejects an IPv6
    literal such as C{[2001:db8::1]} (U+003A); Twisted's own URI parsing
    takes both as they are. Redirects are not followed on that path (no
    gateway call asks for them). Host names still go through treq, which is
    imported (about 20 ms here) only when one comes.
    """

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self._treq: HTTPClient | None = None

    @property
    def treq(self) -> HTTPClient:
        if self._treq is None:
            from treq.client import HTTPClient as TreqClient

            self._treq = TreqClient(self.agent)
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
        netloc = url.split("://", 1)[-1].split("/", 1)[0]
        bracketed = netloc.startswith("[")
        host = netloc[1:].partition("]")[0] if bracketed else netloc.partition(":")[0]
        literal = _literal_family(host) is not None
        if not literal or (allow_redirects and not bracketed):
            return self.treq.request(
                method, url, headers=headers, data=data, allow_redirects=allow_redirects
            )
        if allow_redirects:  # (treq cannot take an IPv6 literal at all)
            raise ValueError("IPv6 gateway URLs are fetched without following redirects")
        body = None if data is None else _BytesBody(data)
        return self.agent.request(method.encode("ascii"), url.encode("ascii"), headers, body)


@implementer(IBodyProducer)
class _BytesBody:
    """A request body already in memory, written at once (FileBodyProducer waits a turn)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.length = len(data)

    def startProducing(self, consumer: IConsumer) -> Deferred[None]:
        consumer.write(self.data)
        return succeed(None)

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass


_DONE = Failure(ResponseDone())


class _Body(Protocol):
    def __init__(self, url: str, limit: int) -> None:
        self.url = url
        self.limit = limit
        self.finished: Deferred[bytes] | None = None
        self.parts: list[bytes] = []
        self.size = 0

    def dataReceived(self, data: bytes) -> None:
        if self.finished is None:
            return
        self.size += len(data)
        if self.size > self.limit:
            finished, self.finished = self.finished, None
            if self.transport is not None:
                self.transport.stopProducing()  # type: ignore[attr-defined]
            finished.errback(GatewayHTTPError(f"{self.url}: body over {self.limit} bytes"))
            return
        self.parts.append(data)

    def connectionLost(self, reason: Failure = _DONE) -> None:
        finished, self.finished = self.finished, None
        if finished is None:
            return
        if reason.check(ResponseDone, PotentialDataLoss):
            finished.callback(b"".join(self.parts))
        else:
            finished.errback(
                GatewayHTTPError(f"{self.url}: body cut short: {reason.getErrorMessage()}")
            )

    def stop(self, d: Deferred[bytes]) -> None:
        """Canceller: drop the connection (the deadline passed)."""
        self.finished = None
        if self.transport is not None:
            self.transport.stopProducing()  # type: ignore[attr-defined]


def read_body(response: IResponse, url: str, limit: int = MAX_BODY) -> Deferred[bytes]:
    """
    The body of C{response}, at most C{limit} bytes.

    @return: a Deferred that fires with the bytes, or fails with
        L{GatewayHTTPError} past the limit or on a cut connection; cancelling
        it closes the connection.
    """
    if response.length is not UNKNOWN_LENGTH and response.length > limit:
        response.deliverBody(_Discard())
        return fail(GatewayHTTPError(f"{url}: body of {response.length} bytes over {limit}"))
    protocol = _Body(url, limit)
    finished: Deferred[bytes] = Deferred(protocol.stop)
    protocol.finished = finished
    response.deliverBody(protocol)
    return finished


class _Discard(Protocol):
    def connectionMade(self) -> None:
        if self.transport is not None:
            self.transport.stopProducing()  # type: ignore[attr-defined]


async def _exchange(
    http: HTTPClient,
    method: str,
    url: str,
    headers: dict[str, str],
    data: bytes | None,
    limit: int,
) -> tuple[int, bytes]:
    try:
        response: IResponse = await http.request(
            method,
            url,
            headers=Headers({name: [value] for name, value in headers.items()}),
            data=data,
            allow_redirects=False,
        )
    except CancelledError:
        raise
    except ResponseNeverReceived as e:
        if any(reason.check(CancelledError) for reason in e.reasons):
            raise CancelledError() from None  # our deadline, reported as such
        raise GatewayHTTPError(f"{method} {url}: no response: {e}") from e
    except Exception as e:
        raise GatewayHTTPError(f"{method} {url}: {e.__class__.__name__}: {e}") from e
    if 300 <= response.code < 400:
        response.deliverBody(_Discard())
        raise GatewayHTTPError(f"{method} {url}: redirect ({response.code}) refused")
    body = await read_body(response, url, limit)
    return response.code, body


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

    @param http: a treq C{HTTPClient} (or C{treq.testing.StubTreq}).
    @return: a Deferred that fires with C{(status, body)} within C{timeout}
        seconds, or fails with L{GatewayHTTPError} (connection refused or cut,
        redirect, body over C{limit}, deadline passed).
    """
    d = Deferred.fromCoroutine(_exchange(http, method, url, headers or {}, data, limit))
    d.addTimeout(timeout, reactor)

    def timed_out(failure: Failure) -> Failure:
        if failure.check(TimeoutError):
            return Failure(GatewayHTTPError(f"{method} {url}: no complete answer in {timeout}s"))
        return failure

    return d.addErrback(timed_out)
