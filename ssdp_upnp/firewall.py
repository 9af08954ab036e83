"""
IPv6 pinholes through a UPnP IGD2's WANIPv6FirewallControl service.

L{FirewallControl} calls its actions (every call a Deferred) and, as an
L{IPortMapper}, keeps pinholes like mappings: the "mapping" of a port is a
pinhole to our own global address and port (nothing is translated; the
external address is ours). L{find_firewall} finds the service over IPv6: a
unicast M-SEARCH to the IPv6 default gateway, whose answer's LOCATION is
its IPv6 description (miniupnpd checks that AddPinhole comes from the
InternalClient it names, so the SOAP must travel over IPv6 too).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast
from urllib.parse import urlsplit

from twisted.internet.defer import Deferred, succeed
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger
from zope.interface import implementer

from ._http import http_request
from ._port_control import HeldMappings
from ._types import DEFAULT_TIMEOUT, HTTPClient, ISSDPReactor
from .errors import (
    GatewayError,
    MappingNotHeld,
    MessageError,
    NoGatewayFound,
    NoSuchPinhole,
)
from .forward import check_protocol
from .gateway import Gateway
from .igd import IGD_2, parse_gateway_description
from .mapping import ExternalAddress, IPortMapper, PortMapping
from .message import SearchRequest, SearchResponse, decode, encode
from .pinhole import (
    MAX_PINHOLE_LEASE,
    FirewallStatus,
    add_pinhole_arguments,
    check_pinhole_arguments,
    delete_pinhole_arguments,
    firewall_service,
    outbound_timeout_arguments,
    read_firewall_status,
    read_is_working,
    read_outbound_timeout,
    read_unique_id,
    update_pinhole_arguments,
)

__all__ = ["FirewallControl", "find_firewall"]


@implementer(IPortMapper)
class FirewallControl:
    """
    The WANIPv6FirewallControl service of the IGD2 whose SOAP C{soap}
    carries, for our global address C{soap.local_address}.
    """

    method = "igd2-pinhole"
    log = Logger()

    def __init__(self, soap: Gateway) -> None:
        self.soap = soap
        self.reactor = soap.reactor
        self.local_address = soap.local_address
        self.held = HeldMappings(self.reactor)  # the token: the pinhole's UniqueID

    def __repr__(self) -> str:
        return f"<FirewallControl at {self.soap.service.control_url} for {self.local_address}>"

    @property
    def where(self) -> str:
        return self.soap.where

    # -- the actions

    def get_firewall_status(self) -> Deferred[FirewallStatus]:
        d = self.soap.call("GetFirewallStatus")
        return d.addCallback(read_firewall_status)

    def add_pinhole(self, internal_port: int, protocol: str, lease: int) -> Deferred[int]:
        """Open a pinhole to our address and C{internal_port}; fires with its UniqueID."""
        args = add_pinhole_arguments(self.local_address, internal_port, protocol, lease)
        return self.soap.call("AddPinhole", args).addCallback(read_unique_id)

    def update_pinhole(self, unique_id: int, lease: int) -> Deferred[None]:
        d = self.soap.call("UpdatePinhole", update_pinhole_arguments(unique_id, lease))
        return d.addCallback(lambda _: None)

    def delete_pinhole(self, unique_id: int) -> Deferred[None]:
        d = self.soap.call("DeletePinhole", delete_pinhole_arguments(unique_id))
        return d.addCallback(lambda _: None)

    def check_pinhole_working(self, unique_id: int) -> Deferred[bool]:
        d = self.soap.call("CheckPinholeWorking", check_pinhole_arguments(unique_id))
        return d.addCallback(read_is_working)

    def get_outbound_pinhole_timeout(self, internal_port: int, protocol: str) -> Deferred[int]:
        args = outbound_timeout_arguments(self.local_address, internal_port, protocol)
        d = self.soap.call("GetOutboundPinholeTimeout", args)
        return d.addCallback(read_outbound_timeout)

    # -- IPortMapper

    def get_external_ip(self) -> Deferred[ExternalAddress]:
        """Our own address: a pinhole translates nothing."""
        return succeed(ExternalAddress(self.local_address, False))

    def add_mapping(
        self,
        external_port: int,
        internal_port: int,
        protocol: str = "TCP",
        *,
        lease: int = 3600,
        description: str = "ssdp_upnp",
    ) -> Deferred[PortMapping]:
        """
        Open (or renew: UpdatePinhole) a pinhole to C{internal_port}; the
        external port is the internal one. The lease is cut to 86400 s.
        """
        proto = check_protocol(protocol)
        lease = min(max(lease, 1), MAX_PINHOLE_LEASE)
        key = (proto, internal_port)

        async def run() -> PortMapping:
            held = self.held.get(key)
            unique_id = None
            if held is not None:
                try:
                    await self.update_pinhole(cast(int, held.token), lease)
                    unique_id = cast(int, held.token)
                except NoSuchPinhole:
                    self.held.pop(key, None)  # the router forgot it: open it again
            if unique_id is None:
                unique_id = await self.add_pinhole(internal_port, proto, lease)
            mapping = PortMapping(internal_port, proto, internal_port, self.local_address,
                                  description, lease)  # fmt: skip
            self.held.keep(mapping, unique_id)
            return mapping

        return Deferred.fromCoroutine(run())

    add_any_mapping = add_mapping

    def get_mapping(
        self, external_port: int, protocol: str = "TCP"
    ) -> Deferred[PortMapping | None]:
        """The pinhole this mapper opened to C{external_port}, if its lease still runs."""
        held = self.held.live(check_protocol(protocol), external_port)
        return succeed(held.mapping if held is not None else None)

    def delete_mapping(self, external_port: int, protocol: str = "TCP") -> Deferred[None]:
        key = (check_protocol(protocol), external_port)

        async def run() -> None:
            held = self.held.get(key)
            if held is None:
                raise MappingNotHeld(f"no pinhole of ours to {key[0]} {external_port}")
            try:
                await self.delete_pinhole(cast(int, held.token))
            except NoSuchPinhole:
                pass  # gone already
            self.held.pop(key, None)

        return Deferred.fromCoroutine(run())

    def observe_reset(self, callback: Callable[[], None]) -> None:
        """UPnP announces nothing we use: a lost pinhole is found at its renewal."""

    def listen(self) -> None:
        """Nothing to follow."""

    def close(self) -> Deferred[None]:
        return succeed(None)


class _UnicastSearch(DatagramProtocol):
    def __init__(self, gateway: str, result: Deferred[str]) -> None:
        self.gateway = gateway.split("%", 1)[0]
        self.result = result

    def datagramReceived(self, data: bytes, addr: Any) -> None:
        if self.result.called or str(addr[0]).split("%", 1)[0] != self.gateway:
            return
        try:
            message = decode(data)
        except MessageError:
            return
        if isinstance(message, SearchResponse) and urlsplit(message.location).hostname == (
            self.gateway
        ):
            self.result.callback(message.location)


def find_firewall(
    reactor: ISSDPReactor,
    http: HTTPClient,
    gateway: str,
    local_address: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    tries: Sequence[float] = (0.0, 0.5, 1.0),
) -> Deferred[FirewallControl]:
    """
    Find the IGD2 firewall service of the IPv6 gateway C{gateway} for our
    address C{local_address}: a unicast M-SEARCH for InternetGatewayDevice:2
    (sent at each of C{tries} seconds), then its description.

    @return: a Deferred that fires with a L{FirewallControl}, or fails with
        L{NoGatewayFound} (no answer, no firewall service) or another
        L{GatewayError}.
    """
    located: Deferred[str] = Deferred()
    protocol = _UnicastSearch(gateway, located)

    async def run() -> FirewallControl:
        port = reactor.listenUDP(0, protocol, interface=local_address, maxPacketSize=2048)
        search = encode(SearchRequest(st=IGD_2, mx=None, host=f"[{gateway}]:1900"))
        calls = [reactor.callLater(t, _send, protocol, search, gateway) for t in tries]
        located.addTimeout(timeout, reactor)
        try:
            location = await located
        except Exception as e:
            raise NoGatewayFound(
                f"no IGD2 answered a search sent to [{gateway}]:1900 in {timeout}s"
            ) from e
        finally:
            for call in calls:
                if call.active():
                    call.cancel()
            port.stopListening()
        code, body = await http_request(reactor, http, "GET", location, timeout=timeout)
        if code != 200:
            raise GatewayError(f"{location}: HTTP status {code}")
        description = parse_gateway_description(body, location)
        service = firewall_service(description)
        if service is None:
            raise NoGatewayFound(f"{location} has no WANIPv6FirewallControl service")
        return FirewallControl(Gateway(reactor, http, description, service, local_address, timeout))

    return Deferred.fromCoroutine(run())


def _send(protocol: DatagramProtocol, data: bytes, gateway: str) -> None:
    if protocol.transport is not None:
        try:
            protocol.transport.write(data, (gateway, 1900))
        except OSError as e:
            FirewallControl.log.info("IPv6 gateway search to {gateway}: {error}", gateway=gateway,
                                     error=e)  # fmt: skip
