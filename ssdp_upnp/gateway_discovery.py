"""
Find the LAN's Internet gateway device: SSDP search, description, service.

L{find_gateway} searches from an ephemeral port on each interface for
InternetGatewayDevice:2 and :1, WANIPConnection:2 and :1 and WANPPPConnection:1
(each M-SEARCH sent three times), and probes every distinct LOCATION as soon
as it is answered: the description is fetched (bounded, no redirects, and only
from the host that sent the SSDP answer), its connection services are asked
GetStatusInfo, and the first usable one wins: Connected first, IGD2 first.
With C{description_url} the search is skipped.

The description side (the HTTP client, lxml, SOAP) loads once the searches
are sent, while the gateways wait before they answer (miniupnpd 50 ms at
least, UDA up to MX seconds): a command pays for its import in that time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from twisted.internet.defer import CancelledError, Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python.failure import Failure

from ._inbound import DropLog, Inbound
from ._searcher import Searcher
from ._types import DEFAULT_TIMEOUT, HTTPClient, ISSDPReactor
from .errors import GatewayError, NoGatewayFound
from .igd_types import GATEWAY_SEARCH_TARGETS
from .lan import Interface, default_gateways, interface_for, route_source
from .message import SearchResponse

if TYPE_CHECKING:
    from .gateway import Gateway

log = Logger()
SEARCH_REPEATS = 3
SEARCH_SPACING = 0.5


def _http_client(reactor: ISSDPReactor, timeout: float) -> HTTPClient:
    """A new HTTP client for the gateway (this loads the description side)."""
    from ._http import default_http_client

    return default_http_client(reactor, timeout)


async def probe_gateway(
    reactor: IReactorTime,
    http: HTTPClient,
    location: str,
    local_address: str,
    timeout: float = DEFAULT_TIMEOUT,
) -> Gateway:
    """
    Read the description at C{location} and pick its best connection service.

    @return: a L{Gateway} on a Connected WAN connection service, IGD2 first
        (or, if none says Connected, the first that answers GetStatusInfo).
    @raise GatewayError: nothing usable there.
    """
    from ._http import http_request
    from .gateway import Gateway
    from .igd import connection_services, parse_gateway_description

    code, body = await http_request(reactor, http, "GET", location, timeout=timeout)
    if code != 200:
        raise NoGatewayFound(f"{location}: HTTP status {code}")
    description = parse_gateway_description(body, location)
    services = connection_services(description)
    if not services:
        raise NoGatewayFound(f"{location}: no WANIPConnection or WANPPPConnection service")
    answered = []
    errors = []
    for service in services:
        gateway = Gateway(reactor, http, description, service, local_address, timeout)
        try:
            status = await gateway.get_status()
        except GatewayError as e:
            errors.append(f"{service.service_type}: {e}")
            continue
        if status.connected:
            return gateway
        answered.append(gateway)
    if answered:
        log.warn(
            "no connection service of {location} says Connected; using {service}",
            location=location,
            service=answered[0].service.service_type,
        )
        return answered[0]
    raise NoGatewayFound(f"{location}: no connection service answered: {'; '.join(errors)}")


class _Search:
    """One gateway search: ports, timers, probes, and the Deferred of the first success."""

    def __init__(
        self,
        reactor: ISSDPReactor,
        http: HTTPClient | None,
        interfaces: Sequence[Interface],
        mx: int,
        timeout: float,
        unicast_to: Sequence[str] = (),
    ) -> None:
        self.unicast_to = list(unicast_to)
        self.reactor = reactor
        self.http = http
        self.interfaces = list(interfaces)
        self.mx = mx
        self.timeout = timeout
        self.result: Deferred[Gateway] = Deferred(self._cancelled)
        self.seen: set[str] = set()
        self.failures: list[str] = []
        self.probes: dict[str, Deferred[Gateway]] = {}
        self.answers_over = False
        self.drops = DropLog(log, reactor)
        self.searcher = Searcher(reactor, self.interfaces, self._message, self.drops,
                                 routable=True)  # fmt: skip

    def start(self) -> Deferred[Gateway]:
        self.searcher.open()
        self.searcher.search(GATEWAY_SEARCH_TARGETS, self.mx, SEARCH_REPEATS, SEARCH_SPACING)
        # some gateways answer only a search sent to them (PROTOCOL.md): the default route's too
        self.searcher.search_unicast(
            self.unicast_to, GATEWAY_SEARCH_TARGETS, SEARCH_REPEATS, SEARCH_SPACING
        )
        self.searcher.later(self.timeout, self._give_up)
        # no answer is due later than MX after the last search: if every candidate has
        # failed by then, say so at once instead of waiting for the deadline
        last_search = (SEARCH_REPEATS - 1) * SEARCH_SPACING
        self.searcher.later(min(self.timeout, last_search + self.mx + 0.5), self._answers_over)
        # the gateways take longer to answer than the description side takes to load
        self.searcher.later(0, self._prepare)
        return self.result

    def _prepare(self) -> None:
        """Load what probing a gateway takes (the HTTP client, lxml, SOAP)."""
        from . import gateway  # noqa: F401

        self._client()

    def _client(self) -> HTTPClient:
        if self.http is None:
            self.http = _http_client(self.reactor, self.timeout)
        return self.http

    def _answers_over(self) -> None:
        self.answers_over = True
        if not self.probes:
            self._give_up()

    def _message(self, message: Inbound, host: str, port: int, interface: Interface) -> None:
        if self.result.called or not isinstance(message, SearchResponse):
            return
        if message.st not in GATEWAY_SEARCH_TARGETS:
            return
        location = message.location
        parts = urlsplit(location)
        if parts.scheme != "http" or parts.hostname != host.split("%")[0]:
            self.drops.drop("LOCATION not on the answering host", host, port, detail=location)
            return
        if "%" in host:
            # a zone names one of our interfaces: no URL can carry it to the HTTP client
            self.drops.drop("link-local LOCATION", host, port, detail=location)
            return
        if location in self.seen:
            return
        self.seen.add(location)
        local = interface_for(self.interfaces, host) or interface
        if local.family == 6:
            # port mappings are IPv4: InternalClient is our IPv4 address on that link, if any
            local = next((i for i in self.interfaces if i.family == 4 and i.name == local.name),
                         local)  # fmt: skip
        probe = Deferred.fromCoroutine(
            probe_gateway(self.reactor, self._client(), location, local.ip, self.timeout)
        )
        self.probes[location] = probe
        probe.addCallbacks(self._found, self._failed, errbackArgs=(location,))

    def _found(self, gateway: Gateway) -> None:
        if not self.result.called:
            self._close()
            self.result.callback(gateway)

    def _failed(self, failure: Failure, location: str) -> None:
        self.probes.pop(location, None)
        if failure.check(CancelledError):
            return
        self.failures.append(f"{location}: {failure.getErrorMessage()}")
        if self.answers_over and not self.probes:
            self._give_up()
        log.info("gateway candidate {location} unusable: {error}", location=location,
                 error=failure.getErrorMessage())  # fmt: skip

    def _give_up(self) -> None:
        if self.result.called:
            return
        self._close()
        for location in self.probes:
            self.failures.append(f"{location}: no complete answer in {self.timeout}s")
        for probe in list(self.probes.values()):
            probe.cancel()
        why = "; ".join(self.failures) or "no answer to the IGD searches"
        self.result.errback(NoGatewayFound(f"no usable gateway found: {why}"))

    def _cancelled(self, result: Deferred[Gateway]) -> None:
        """The caller gave up (a node stopping): close the ports, cancel the probes."""
        self._close()
        for probe in list(self.probes.values()):
            probe.cancel()

    def _close(self) -> None:
        self.searcher.close()


def find_gateway(
    reactor: ISSDPReactor,
    interfaces: Sequence[Interface],
    *,
    http: HTTPClient | None = None,
    description_url: str | None = None,
    timeout: float = 5.0,
    mx: int = 2,
    unicast_to: Sequence[str] | None = None,
) -> Deferred[Gateway]:
    """
    Find the gateway.

    @param http: a treq C{HTTPClient} (default: a new one on C{reactor}).
    @param description_url: skip SSDP and use the description at this URL.
    @param unicast_to: also search these addresses directly (default: the
        host's default gateways on one of C{interfaces}).
    @return: a Deferred that fires with a L{Gateway} as soon as one is usable,
        or fails with L{NoGatewayFound} after C{timeout} seconds.
    """
    if description_url is not None:
        client = http if http is not None else _http_client(reactor, timeout)
        host = urlsplit(description_url).hostname or ""
        on_link = interface_for(interfaces, host)

        async def direct() -> Gateway:
            local = on_link.ip if on_link is not None else route_source(host)
            return await probe_gateway(reactor, client, description_url, local, timeout)

        return Deferred.fromCoroutine(direct())
    if unicast_to is None:
        unicast_to = default_gateways()
    return _Search(reactor, http, interfaces, mx, timeout, unicast_to).start()
