"""
A PCP (RFC 6887) client: L{PCPMapper} forwards ports on the default gateway
with MAP requests over UDP and provides L{IPortMapper}.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import cast

from twisted.internet.defer import Deferred
from zope.interface import implementer

from ._announcements import AnnouncementListener
from ._port_control import RETRANSMIT, ControlChannel, UDPMapper
from ._types import ISSDPReactor
from .errors import GatewayError, InvalidGatewayResponse
from .forward import check_protocol
from .mapping import ExternalAddress, IPortMapper, PortMapping, external_address
from .natpmp_client import NATPMPMapper
from .pcp import (
    ANNOUNCE,
    MAP,
    NONCE_BYTES,
    MapRequest,
    Response,
    check_result,
    decode_response,
    encode_announce,
    encode_map,
)

__all__ = ["PCPMapper"]


@implementer(IPortMapper)
class PCPMapper(UDPMapper):
    """
    Mappings on the PCP server C{gateway}, for our address C{local_address}.

    Each mapping has its own random nonce, repeated by its renewals and its
    deletion. A renewal suggests the port the server gave. PCP cannot list:
    L{get_mapping} gives the mappings this mapper made, checked against the
    server's epoch (one ANNOUNCE); an unsolicited ANNOUNCE on
    224.0.0.1:5350 (L{listen}) tells of a restart at once. PCP tells the
    external address only in a MAP answer: until one is made,
    L{get_external_ip} asks NAT-PMP, which PCP servers also speak (RFC 6887
    appendix A; miniupnpd switches both together).

    @ivar server_version: the version a refusing server said it speaks.
    """

    method = "pcp"

    def __init__(
        self,
        reactor: ISSDPReactor,
        gateway: str,
        local_address: str,
        *,
        schedule: tuple[float, ...] = RETRANSMIT,
        nonce: Callable[[int], bytes] = os.urandom,
    ) -> None:
        super().__init__(reactor, gateway, local_address)
        self.schedule = schedule
        self._nonce = nonce
        self.channel: ControlChannel[Response] = ControlChannel(
            reactor, local_address, gateway, decode_response, "PCP", schedule=schedule,
            unsolicited=self._unsolicited,
        )  # fmt: skip
        self.server_version: int | None = None
        self._natpmp: NATPMPMapper | None = None

    def _listener_for(self) -> AnnouncementListener:
        return AnnouncementListener(self.reactor, self.gateway, self.local_address,
                                    pcp=self._unsolicited)  # fmt: skip

    async def _check_epoch(self) -> None:
        await self.announce()

    def _unsolicited(self, answer: Response) -> bool:
        if answer.opcode != ANNOUNCE or answer.result != 0:
            return False
        self.log.info("the PCP server announces itself (epoch {epoch})", epoch=answer.epoch)
        self.epoch.announced(answer.epoch)
        return True

    def announce(self) -> Deferred[Response]:
        """
        One ANNOUNCE: fires with the answer when the server speaks PCP, or
        fails with its typed refusal (L{ssdp_upnp.errors.PCPUnsupportedVersion}
        from a NAT-PMP-only gateway) or L{ssdp_upnp.errors.NoResponse}.
        """

        async def run() -> Response:
            answer = await self.channel.request(
                encode_announce(self.local_address), lambda a: a.opcode == ANNOUNCE
            )
            return self._checked(answer)

        return Deferred.fromCoroutine(run())

    def _checked(self, answer: Response) -> Response:
        if answer.version != 2:
            self.server_version = answer.version
        else:
            self.epoch.saw(answer.epoch)
        return check_result(answer)

    async def _map(self, request: MapRequest) -> Response:
        def ours(answer: Response) -> bool:
            if answer.opcode != MAP:
                return False
            if answer.map is None:  # a refusal too short to carry the nonce (version 0)
                return answer.version != 2
            return (
                answer.map.nonce == request.nonce
                and answer.map.protocol == request.protocol
                and answer.map.internal_port == request.internal_port
            )

        answer = self._checked(await self.channel.request(encode_map(request), ours))
        assert answer.map is not None  # a success has its MAP body (decode_response)
        if request.lifetime and not (1 <= answer.map.external_port <= 65535 and answer.lifetime):
            raise InvalidGatewayResponse(
                f"PCP mapped {request.protocol} {request.internal_port} to port"
                f" {answer.map.external_port} for {answer.lifetime}s"
            )
        return answer

    def get_external_ip(self) -> Deferred[ExternalAddress]:
        """
        Fires with the external address of the last mapping made or, before
        any, the one NAT-PMP gives (over IPv6: our own address, as a pinhole
        translates nothing).
        """

        async def run() -> ExternalAddress:
            if self.external_ip is not None:
                return external_address(self.external_ip)
            if ":" in self.local_address:  # a pinhole: nothing is translated
                return external_address(self.local_address)
            if self._natpmp is None:
                self._natpmp = NATPMPMapper(self.reactor, self.gateway, self.local_address,
                                            schedule=self.schedule)  # fmt: skip
            try:
                return await self._natpmp.get_external_ip()
            except GatewayError as e:
                raise GatewayError(
                    f"PCP tells the external address only with a mapping, and NAT-PMP: {e}"
                ) from e

        return Deferred.fromCoroutine(run())

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
        MAP C{external_port} (a suggestion: the server gives another when it
        is taken) to C{internal_port} for C{lease} seconds; fires with what it
        assigned (its lifetime may be shorter than asked). A mapping of the
        same internal port is renewed with its nonce and its port.
        """
        proto = check_protocol(protocol)

        async def run() -> PortMapping:
            previous = self.held.of_internal(proto, internal_port)
            if previous is not None:
                nonce = cast(bytes, previous.token)
                suggested = previous.mapping.external_port
            else:
                nonce, suggested = self._nonce(NONCE_BYTES), external_port
            answer = await self._map(
                MapRequest(nonce, proto, internal_port, suggested, lease, self.local_address)
            )
            assert answer.map is not None
            self.external_ip = answer.map.external_address
            mapping = PortMapping(answer.map.external_port, proto, internal_port,
                                  self.local_address, description, answer.lifetime)  # fmt: skip
            self.held.keep(mapping, nonce)
            return mapping

        return Deferred.fromCoroutine(run())

    add_any_mapping = add_mapping

    def delete_mapping(self, external_port: int, protocol: str = "TCP") -> Deferred[None]:
        """Delete a mapping this mapper made (lifetime 0 with its nonce)."""
        key = (check_protocol(protocol), external_port)

        async def run() -> None:
            held = self.held.get(key)
            if held is None:
                raise self._not_held(*key, " (a PCP mapping is deleted only with its nonce;"
                                     " its lifetime ends it)")  # fmt: skip
            mapping = held.mapping
            await self._map(MapRequest(cast(bytes, held.token), key[0], mapping.internal_port,
                                       external_port, 0, self.local_address))  # fmt: skip
            self.held.pop(key, None)

        return Deferred.fromCoroutine(run())

    def close(self) -> Deferred[None]:
        self._close_listener()
        if self._natpmp is not None:
            self._natpmp.close()
            self._natpmp = None
        return self.channel.close()
