"""
A NAT-PMP (RFC 6886) client: L{NATPMPMapper} forwards ports on the default
gateway over UDP and provides L{IPortMapper}.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from zope.interface import implementer

from ._announcements import AnnouncementListener
from ._port_control import RETRANSMIT, ControlChannel, Epoch
from ._types import ISSDPReactor
from .errors import InvalidGatewayResponse, MappingNotHeld
from .forward import check_protocol
from .mapping import ExternalAddress, IPortMapper, PortMapping, external_address
from .natpmp import (
    AddressResponse,
    MapResponse,
    check_result,
    decode_response,
    encode_address_request,
    encode_map_request,
)

Answer = AddressResponse | MapResponse


@implementer(IPortMapper)
class NATPMPMapper:
    """
    Mappings on the NAT-PMP gateway C{gateway}, for our address C{local_address}.

    NAT-PMP cannot list mappings: L{get_mapping} gives the ones this mapper
    made, checked against the gateway's epoch (one address request), and
    forgets them all when the epoch shows the gateway lost its table; an
    address announcement on 224.0.0.1:5350 (L{listen}) shows it at once.
    """

    method = "natpmp"
    log = Logger()

    def __init__(
        self,
        reactor: ISSDPReactor,
        gateway: str,
        local_address: str,
        *,
        schedule: tuple[float, ...] = RETRANSMIT,
    ) -> None:
        self.reactor = reactor
        self.gateway = gateway
        self.local_address = local_address
        self.channel: ControlChannel[Answer] = ControlChannel(
            reactor, local_address, gateway, decode_response, "NAT-PMP", schedule=schedule
        )
        self.epoch = Epoch(reactor)
        self.epoch.observe(self._lost)
        self.external_ip: str | None = None
        self.held: dict[tuple[str, int], tuple[PortMapping, float]] = {}
        self._listener: AnnouncementListener | None = None

    def __repr__(self) -> str:
        return f"<NATPMPMapper gateway {self.gateway} for {self.local_address}>"

    def _lost(self) -> None:
        self.held.clear()

    def observe_reset(self, callback: Callable[[], None]) -> None:
        self.epoch.observe(callback)

    def listen(self) -> None:
        """Follow the gateway's address announcements (224.0.0.1:5350)."""
        if self._listener is None:
            self._listener = AnnouncementListener(self.reactor, self.gateway, self.local_address,
                                                  natpmp=self._announced)  # fmt: skip
            self._listener.start()

    def _announced(self, answer: AddressResponse) -> None:
        if answer.result == 0 and answer.external_ip:
            if self.external_ip is not None and answer.external_ip != self.external_ip:
                self.log.info("the gateway announces a new external address {ip}",
                              ip=answer.external_ip)  # fmt: skip
            self.external_ip = answer.external_ip
        self.epoch.announced(answer.epoch)

    async def _address(self) -> AddressResponse:
        answer = await self.channel.request(
            encode_address_request(), lambda a: isinstance(a, AddressResponse)
        )
        assert isinstance(answer, AddressResponse)
        self.epoch.saw(answer.epoch)
        check_result(answer)
        return answer

    def get_external_ip(self) -> Deferred[ExternalAddress]:
        """Fires with the gateway's external address (opcode 0)."""

        async def run() -> ExternalAddress:
            answer = await self._address()
            self.external_ip = answer.external_ip
            return external_address(answer.external_ip)

        return Deferred.fromCoroutine(run())

    def probe(self) -> Deferred[AddressResponse]:
        """One address request: fires with the answer if the gateway speaks NAT-PMP."""
        return Deferred.fromCoroutine(self._address())

    async def _map(
        self, protocol: str, internal: int, suggested: int, lifetime: int
    ) -> MapResponse:
        def ours(answer: Answer) -> bool:
            return (
                isinstance(answer, MapResponse)
                and answer.protocol == protocol
                and (answer.internal_port in (internal, 0))  # a short refusal has none
            )

        answer = await self.channel.request(
            encode_map_request(protocol, internal, suggested, lifetime), ours
        )
        assert isinstance(answer, MapResponse)
        self.epoch.saw(answer.epoch)
        check_result(answer)
        if lifetime and not (1 <= answer.external_port <= 65535 and answer.lifetime):
            raise InvalidGatewayResponse(
                f"NAT-PMP mapped {protocol} {internal} to port {answer.external_port}"
                f" for {answer.lifetime}s"
            )
        return answer

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
        Map C{external_port} (a suggestion: the gateway may give another) to
        C{internal_port} for C{lease} seconds; fires with what it assigned
        (its lifetime may be shorter than asked).
        """
        proto = check_protocol(protocol)

        async def run() -> PortMapping:
            answer = await self._map(proto, internal_port, external_port, lease)
            mapping = PortMapping(answer.external_port, proto, internal_port, self.local_address,
                                  description, answer.lifetime)  # fmt: skip
            for key, (held, _) in list(self.held.items()):
                if key[0] == proto and held.internal_port == internal_port:
                    del self.held[key]  # the gateway keys mappings by internal port
            self.held[(proto, answer.external_port)] = (
                mapping, self.reactor.seconds() + answer.lifetime
            )  # fmt: skip
            return mapping

        return Deferred.fromCoroutine(run())

    add_any_mapping = add_mapping

    def get_mapping(
        self, external_port: int, protocol: str = "TCP"
    ) -> Deferred[PortMapping | None]:
        """The mapping this mapper made of C{external_port}, if the gateway still has it."""
        key = (check_protocol(protocol), external_port)

        async def run() -> PortMapping | None:
            if key not in self.held:
                return None
            await self._address()  # the epoch tells whether the gateway lost it
            mapping, until = self.held.get(key, (None, 0.0))
            if mapping is None or until <= self.reactor.seconds():
                self.held.pop(key, None)
                return None
            return mapping

        return Deferred.fromCoroutine(run())

    def delete_mapping(self, external_port: int, protocol: str = "TCP") -> Deferred[None]:
        """
        Delete the mapping this mapper made of C{external_port} (NAT-PMP
        deletes by internal port: another client's mapping cannot be named).
        """
        key = (check_protocol(protocol), external_port)

        async def run() -> None:
            held = self.held.get(key)
            if held is None:
                raise MappingNotHeld(
                    f"NAT-PMP: {key[0]} {external_port} was not mapped by this client"
                )
            await self._map(key[0], held[0].internal_port, 0, 0)
            self.held.pop(key, None)

        return Deferred.fromCoroutine(run())

    def close(self) -> Deferred[None]:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        return self.channel.close()


__all__ = ["NATPMPMapper"]
