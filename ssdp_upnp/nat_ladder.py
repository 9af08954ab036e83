"""
Choosing how to forward a port: PCP, then NAT-PMP, then UPnP IGD (IGD2 before
IGD1, inside L{ssdp_upnp.gateway_discovery}).

In C{auto}, all three are asked at once: an ANNOUNCE and a NAT-PMP address
request go to the default gateway's port 5351, and the SSDP search starts
50 ms later (unless one of those answered by then: a PCP gateway costs no
HTTP client, TLS or XML import) and runs beside them.
The best method that answered wins as soon as every better one has failed,
or C{grace} seconds after the first answer (a silent PCP gateway costs its
whole retransmission schedule, 3.75 s, otherwise). L{NATLadder} remembers
the method that worked and asks it alone next time, falling back to the
whole ladder when it fails.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from twisted.internet.defer import CancelledError, Deferred, fail
from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger
from twisted.python.failure import Failure

from ._types import HTTPClient, ISSDPReactor
from .errors import GatewayError, NoGatewayFound
from .lan import Interface, default_gateways, default_gateways6, interface_for, route_source
from .mapping import METHODS, IPortMapper, check_method

if TYPE_CHECKING:  # each method's client loads when that method is asked
    from .natpmp_client import NATPMPMapper
    from .pcp_client import PCPMapper

__all__ = ["METHODS", "NATLadder", "PinholeLadder", "check_method", "find_mapper", "udp_gateway"]

log = Logger()
#: After the first method answers, how long a better one may still take.
GRACE = 0.3
#: UPnP starts this much after PCP and NAT-PMP (a LAN gateway answers those in
#: milliseconds): when one of them answers first, treq and lxml never load.
UPNP_HEAD_START = 0.05


def udp_gateway(interfaces: Sequence[Interface]) -> tuple[str, str]:
    """
    The default gateway PCP and NAT-PMP talk to, and our address toward it
    (which must be on one of C{interfaces}).

    @raise NoGatewayFound: without a default route through one of them.
    """
    reasons = []
    for gateway in default_gateways():
        try:
            local = route_source(gateway)
        except OSError as e:
            reasons.append(f"{gateway}: {e}")
            continue
        on = interface_for(interfaces, gateway)
        if on is not None or any(i.ip == local for i in interfaces):
            return gateway, local
        reasons.append(f"{gateway} is not on a LAN interface we use")
    why = "; ".join(reasons) or "no IPv4 default route"
    raise NoGatewayFound(f"no gateway for PCP/NAT-PMP: {why}")


def _probe(
    reactor: ISSDPReactor,
    method: str,
    interfaces: Sequence[Interface],
    http: HTTPClient | None,
    description_url: str | None,
    timeout: float,
) -> Deferred[IPortMapper]:
    """Ask one method; fires with its mapper once the gateway answered it."""
    if method == "upnp":
        from .gateway_discovery import find_gateway  # treq and lxml load only here

        found = find_gateway(
            reactor, interfaces, http=http, description_url=description_url, timeout=timeout
        )
        return cast("Deferred[IPortMapper]", found)
    try:
        gateway, local = udp_gateway(interfaces)
    except NoGatewayFound as e:
        return fail(e)
    if method == "pcp":
        from .pcp_client import PCPMapper

        pcp = PCPMapper(reactor, gateway, local)
        return _answered(pcp, pcp.announce())
    from .natpmp_client import NATPMPMapper

    natpmp = NATPMPMapper(reactor, gateway, local)
    return _answered(natpmp, natpmp.probe())


def _answered(mapper: PCPMapper | NATPMPMapper, asked: Deferred[Any]) -> Deferred[IPortMapper]:
    """Fires with C{mapper} once its gateway answered C{asked}, its probe (else closes it)."""

    def failed(failure: Failure) -> Failure:
        mapper.close()
        return failure

    return asked.addCallbacks(lambda _: cast(IPortMapper, mapper), failed)


class _Race:
    """Every method at once; the best answer wins (see the module's docstring)."""

    def __init__(self, reactor: ISSDPReactor, methods: Sequence[str], grace: float) -> None:
        self.reactor = reactor
        self.methods = list(methods)
        self.grace = grace
        self.probes: dict[str, Deferred[IPortMapper]] = {}
        self.waiting: dict[str, IDelayedCall] = {}
        self.answers: dict[str, IPortMapper] = {}
        self.failures: dict[str, str] = {}
        self.result: Deferred[IPortMapper] = Deferred(self._cancel)
        self._timer: IDelayedCall | None = None
        self._settled = False

    def run(
        self, probes: Mapping[str, Callable[[], Deferred[IPortMapper]]], delays: Mapping[str, float]
    ) -> Deferred[IPortMapper]:
        """Start each probe (after its delay, if any); fires with the winner."""
        for method, probe in probes.items():
            delay = delays.get(method, 0.0)
            if delay:
                self.waiting[method] = self.reactor.callLater(delay, self._start, method, probe)
            else:
                self._start(method, probe)
        return self.result

    def _start(self, method: str, probe: Callable[[], Deferred[IPortMapper]]) -> None:
        self.waiting.pop(method, None)
        if self._settled:
            return
        d = probe()
        self.probes[method] = d
        d.addCallbacks(self._answered, self._failed, (method,), errbackArgs=(method,))

    def _answered(self, mapper: IPortMapper, method: str) -> None:
        self.probes.pop(method, None)
        if self._settled:
            mapper.close()
            return
        self.answers[method] = mapper
        self._decide()
        if not self._settled and self._timer is None:
            self._timer = self.reactor.callLater(self.grace, self._decide, True)

    def _failed(self, failure: Failure, method: str) -> None:
        self.probes.pop(method, None)
        if not failure.check(CancelledError):
            self.failures[method] = failure.getErrorMessage()
            log.info("NAT method {method} unusable: {error}", method=method,
                     error=failure.getErrorMessage())  # fmt: skip
        self._decide()

    def _decide(self, grace_over: bool = False) -> None:
        if self._settled:
            return
        for method in self.methods:
            if method in self.answers:
                self._choose(method)
                return
            if (method in self.probes or method in self.waiting) and not grace_over:
                return  # a better one may still answer
        if not self.probes and not self.waiting:
            why = "; ".join(f"{m}: {e}" for m, e in self.failures.items())
            self._finish()
            self.result.errback(NoGatewayFound(f"no way to forward a port: {why}"))

    def _choose(self, method: str) -> None:
        chosen = self.answers.pop(method)
        self._finish()
        self.result.callback(chosen)

    def _finish(self) -> None:
        self._settled = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        for mapper in self.answers.values():
            mapper.close()
        self.answers.clear()
        for waiting in self.waiting.values():
            waiting.cancel()
        self.waiting.clear()
        for probe in list(self.probes.values()):
            probe.cancel()

    def _cancel(self, _: Deferred[IPortMapper]) -> None:
        self._finish()


def find_mapper(
    reactor: ISSDPReactor,
    interfaces: Sequence[Interface],
    *,
    method: str = "auto",
    http: HTTPClient | None = None,
    description_url: str | None = None,
    timeout: float = 5.0,
    grace: float = GRACE,
) -> Deferred[IPortMapper]:
    """
    Find a way to forward ports: C{method} C{'auto'} (the ladder), or one of
    C{'pcp'}, C{'natpmp'}, C{'upnp'} alone. With C{description_url} the
    gateway is the UPnP IGD there.

    @return: a Deferred that fires with an L{IPortMapper} (its
        C{method} says which), or fails with L{NoGatewayFound} saying why
        each method failed.
    """
    method = check_method(method)
    methods = list(METHODS) if method == "auto" else [method]
    if description_url is not None:
        methods = ["upnp"]
    race = _Race(reactor, methods, grace)
    probes = {m: partial(_probe, reactor, m, interfaces, http, description_url, timeout)
              for m in methods}  # fmt: skip
    delays = {"upnp": UPNP_HEAD_START} if len(methods) > 1 else {}
    return race.run(probes, delays)


class NATLadder:
    """
    A gateway finder for L{ssdp_upnp.portmapping.PortMappingService} and
    L{ssdp_upnp.portmapping.Nat}: L{find_mapper}, asking first the method
    that worked last time.

    @ivar last: the method that worked last, if any.
    """

    def __init__(
        self,
        reactor: ISSDPReactor,
        interfaces: Sequence[Interface],
        *,
        method: str = "auto",
        http: HTTPClient | None = None,
        description_url: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.reactor = reactor
        self.interfaces = list(interfaces)
        self.method = check_method(method)
        self.http = http
        self.description_url = description_url
        self.timeout = timeout
        self.last: str | None = None

    def _find(self, method: str) -> Deferred[IPortMapper]:
        return find_mapper(self.reactor, self.interfaces, method=method, http=self.http,
                           description_url=self.description_url, timeout=self.timeout)  # fmt: skip

    def __call__(self) -> Deferred[IPortMapper]:
        async def run() -> IPortMapper:
            if self.last is not None and self.method == "auto":
                try:
                    return self._remember(await self._find(self.last))
                except GatewayError as e:
                    log.info("NAT method {method} no longer answers ({error}); trying all",
                             method=self.last, error=e)  # fmt: skip
            return self._remember(await self._find(self.method))

        return Deferred.fromCoroutine(run())

    def _remember(self, mapper: IPortMapper) -> IPortMapper:
        method = str(mapper.method)
        self.last = "upnp" if method.startswith("igd") else method
        return mapper


def survey(
    reactor: ISSDPReactor,
    interfaces: Sequence[Interface],
    *,
    http: HTTPClient | None = None,
    description_url: str | None = None,
    timeout: float = 5.0,
) -> Deferred[dict[str, IPortMapper | GatewayError]]:
    """
    Ask every method and wait for each to answer or fail (for reports such
    as C{ssdp-upnp nat status}): fires with each method's mapper or error,
    best first. The caller closes the mappers.
    """
    methods = ["upnp"] if description_url is not None else list(METHODS)

    async def run() -> dict[str, IPortMapper | GatewayError]:
        probes = {m: _probe(reactor, m, interfaces, http, description_url, timeout)
                  for m in methods}  # fmt: skip
        found: dict[str, IPortMapper | GatewayError] = {}
        for method, probe in probes.items():
            try:
                found[method] = await probe
            except GatewayError as e:
                found[method] = e
        return found

    return Deferred.fromCoroutine(run())


#: The ways to open an IPv6 pinhole, best first (NAT-PMP has no IPv6).
PINHOLE_METHODS = ("pcp", "upnp")


class PinholeLadder:
    """
    A gateway finder for the pinholes of one global IPv6 address
    C{local_address} on interface C{interface}: PCP (a MAP for the address
    itself) to the IPv6 default gateway, else IGD2's WANIPv6FirewallControl,
    asked at once, best taken as in L{find_mapper}.
    """

    def __init__(
        self,
        reactor: ISSDPReactor,
        local_address: str,
        interface: str,
        *,
        method: str = "auto",
        http: HTTPClient | None = None,
        timeout: float = 5.0,
        grace: float = GRACE,
    ) -> None:
        self.reactor = reactor
        self.local_address = local_address
        self.interface = interface
        self.method = check_method(method)
        self.http = http
        self.timeout = timeout
        self.grace = grace

    def gateway(self) -> str:
        """The IPv6 default gateway on our interface (with its zone if link-local)."""
        for address, name in default_gateways6():
            if name == self.interface:
                return address
        raise NoGatewayFound(f"no IPv6 default route on {self.interface}")

    def _probe(self, method: str) -> Deferred[IPortMapper]:
        try:
            gateway = self.gateway()
        except NoGatewayFound as e:
            return fail(e)
        if method == "pcp":
            from .pcp_client import PCPMapper

            pcp = PCPMapper(self.reactor, gateway, self.local_address)
            return _answered(pcp, pcp.announce())
        from ._http import default_http_client
        from .firewall import find_firewall

        http = self.http if self.http is not None else default_http_client(
            self.reactor, self.timeout)  # fmt: skip
        found = find_firewall(self.reactor, http, gateway, self.local_address,
                              timeout=self.timeout)  # fmt: skip
        return cast("Deferred[IPortMapper]", found)

    def __call__(self) -> Deferred[IPortMapper]:
        if self.method == "natpmp":
            return fail(NoGatewayFound("NAT-PMP opens no IPv6 pinholes"))
        methods = list(PINHOLE_METHODS) if self.method == "auto" else [self.method]
        race = _Race(self.reactor, methods, self.grace)
        probes = {m: partial(self._probe, m) for m in methods}
        return race.run(probes, {"upnp": UPNP_HEAD_START} if len(methods) > 1 else {})
