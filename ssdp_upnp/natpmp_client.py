"""
A NAT-PMP (RFC 6886) client: L{NATPMPMapper} forwards ports on the default
gateway over UDP and provides L{IPortMapper}.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from zope.interface import implementer

from ._announcements import AnnouncementListener
from ._port_control import RETRANSMIT, ControlChannel, UDPMapper
from ._types import ISSDPReactor
from .errors import InvalidGatewayResponse
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
class NATPMPMapper(UDPMapper):
    """
    Mappings on the NAT-PMP gateway C{gateway}, for our address C{local_address}.

    NAT-PMP cannot list mappings: L{get_mapping} gives the ones this mapper
    made, checked against the gateway's epoch (one address request), and
    forgets them all when the epoch shows the gateway lost its table; an
    address announcement on 224.0.0.1:5350 (L{listen}) shows it at once.
    """

    method = "natpmp"

    def __init__(
        self,
        reactor: ISSDPReactor,
        gateway: str,
        local_address: str,
        *,
        schedule: tuple[float, ...] = RETRANSMIT,
    ) -> None:
        super().__init__(reactor, gateway, local_address)
        self.channel: ControlChannel[Answer] = ControlChannel(
            reactor, local_address, gateway, decode_response, "NAT-PMP", schedule=schedule
        )

    def _listener_for(self) -> AnnouncementListener:
        return AnnouncementListener(self.reactor, self.gateway, self.local_address,
                                    natpmp=self._announced)  # fmt: skip

    async def _check_epoch(self) -> None:
        await self._address()

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
            self.held.keep(mapping)
            return mapping

        return Deferred.fromCoroutine(run())

    add_any_mapping = add_mapping

    def delete_mapping(self, external_port: int, protocol: str = "TCP") -> Deferred[None]:
        """
        Delete the mapping this mapper made of C{external_port} (NAT-PMP
        deletes by internal port: another client's mapping cannot be named).
        """
        key = (check_protocol(protocol), external_port)

        async def run() -> None:
            held = self.held.get(key)
            if held is None:
                raise self._not_held(*key)
            await self._map(key[0], held.mapping.internal_port, 0, 0)
            self.held.pop(key, None)

        return Deferred.fromCoroutine(run())

    def close(self) -> Deferred[None]:
        self._close_listener()
        return self.channel.close()


__all__ = ["NATPMPMapper"]
