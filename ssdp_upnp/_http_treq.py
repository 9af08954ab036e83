"""
One bounded HTTP exchange with a gateway over treq: for a URL that is not
http:// to an IP literal, or a client that is not ours (L{ssdp_upnp._http}).

treq's C{timeout} stops at the headers and it reads bodies of any size, so
this module reads the body itself: a size cap (counted as bytes arrive, and
refused at once when Content-Length says too much), one deadline for the
whole exchange, and no redirects.
"""

from __future__ import annotations

from twisted.internet.defer import CancelledError, Deferred, fail
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from twisted.web.client import (
    Agent,
    HTTPConnectionPool,
    ResponseDone,
    ResponseNeverReceived,
    _HTTP11ClientFactory,
)
from twisted.web.http import PotentialDataLoss
from twisted.web.http_headers import Headers
from twisted.web.iweb import UNKNOWN_LENGTH, IResponse

from ._http import MAX_BODY
from ._types import DEFAULT_TIMEOUT, HTTPClient, ISSDPReactor
from .errors import GatewayHTTPError


class _QuietFactory(_HTTP11ClientFactory):
    noisy = False  # no "Starting factory" / "Stopping factory" lines at every request


def treq_client(reactor: ISSDPReactor, connect_timeout: float = DEFAULT_TIMEOUT) -> HTTPClient:
    """A treq C{HTTPClient} on its own Agent (no proxy, no persistent connections)."""
    from treq.client import HTTPClient as TreqClient

    pool = HTTPConnectionPool(reactor, persistent=False)
    pool._factory = _QuietFactory  # the pool's own hook for its connections' factory
    client: HTTPClient = TreqClient(Agent(reactor, connectTimeout=connect_timeout, pool=pool))
    return client


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


async def treq_exchange(
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
