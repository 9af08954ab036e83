"""
A UPnP Internet gateway device's WAN connection service, driven by SOAP.

Every call returns a Deferred. The router quirks of PROTOCOL.md are handled
here: 725 (only permanent leases) retries with lease 0, 724 (same port values
required) retries with the internal port, 718 (conflict) is a typed error or,
when the caller allows, a move to the next port; IGD2 leases are clamped to
604800 s; GetListOfPortMappings is used on IGD2, GetGenericPortMappingEntry
(until 713) elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from zope.interface import implementer

from ._bounded import MAX_DIGITS, bounded_int
from ._http import http_request
from ._types import DEFAULT_TIMEOUT, HTTPClient
from .errors import (
    ConfigurationError,
    ConflictInMappingEntry,
    GatewayHTTPError,
    InvalidGatewayResponse,
    NoSuchEntryInArray,
    NoSuchEntryInPortMappingList,
    OnlyPermanentLeasesSupported,
    SamePortValuesRequired,
    SpecifiedArrayIndexInvalid,
    UPnPError,
)
from .forward import PROTOCOLS, check_protocol
from .igd import (
    IGD2_MAX_LEASE,
    ConnectionService,
    GatewayDescription,
    PortMapping,
    is_double_nat,
    mapping_from_arguments,
    parse_port_mapping_list,
)
from .mapping import ExternalAddress, IPortMapper
from .soap import CONTENT_TYPE, build_request, parse_response, soap_action

#: GetGenericPortMappingEntry is asked at most this many times by list_mappings.
MAX_GENERIC_ENTRIES = 1024
#: How many further ports add_mapping(..., next_free=True) tries after a conflict.
NEXT_PORT_TRIES = 16


@dataclass(frozen=True)
class ConnectionStatus:
    status: str
    last_error: str
    uptime: int

    @property
    def connected(self) -> bool:
        return self.status == "Connected"


def _check_port(port: int, what: str) -> int:
    if not 1 <= port <= 65535:
        raise ConfigurationError(f"{what} {port} is not in 1..65535")
    return port


@implementer(IPortMapper)
class Gateway:
    """
    One WAN connection service of a gateway.

    @ivar local_address: our address on the LAN toward the gateway, the
        default internal client of a mapping.
    """

    log = Logger()

    def __init__(
        self,
        reactor: IReactorTime,
        http: HTTPClient,
        description: GatewayDescription,
        service: ConnectionService,
        local_address: str,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.reactor = reactor
        self.http = http
        self.description = description
        self.service = service
        self.local_address = local_address
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"<Gateway {self.service.service_type} at {self.service.control_url}>"

    @property
    def is_igd2(self) -> bool:
        return self.service.version >= 2

    @property
    def where(self) -> str:
        """The connection service and the description it is in."""
        return f"{self.service.service_type} at {self.description.url}"

    @property
    def method(self) -> str:
        """C{'igd2'} or C{'igd1'} (L{IPortMapper})."""
        return "igd2" if self.is_igd2 else "igd1"

    def observe_reset(self, callback: Callable[[], None]) -> None:
        """UPnP IGD announces no loss of mappings: they are found gone at the next check."""

    def listen(self) -> None:
        """UPnP IGD makes no announcements we use (no GENA eventing)."""

    def close(self) -> Deferred[None]:
        """Nothing to release: every call is its own HTTP exchange."""
        return succeed(None)

    # -- the SOAP call

    async def _call(self, action: str, arguments: Sequence[tuple[str, str]]) -> dict[str, str]:
        body = build_request(self.service.service_type, action, arguments)
        headers = {
            "Content-Type": CONTENT_TYPE,
            "SOAPAction": soap_action(self.service.service_type, action),
        }
        code, data = await http_request(
            self.reactor,
            self.http,
            "POST",
            self.service.control_url,
            headers=headers,
            data=body,
            timeout=self.timeout,
        )
        if code not in (200, 500):
            raise GatewayHTTPError(f"{action}: HTTP status {code} from {self.service.control_url}")
        try:
            return parse_response(data, action)
        except InvalidGatewayResponse:
            if code == 500:
                raise GatewayHTTPError(f"{action}: HTTP 500 without a SOAP fault") from None
            raise

    def call(
        self, action: str, arguments: Sequence[tuple[str, str]] = ()
    ) -> Deferred[dict[str, str]]:
        """
        Call any action of the service.

        @return: a Deferred that fires with the output arguments by name, or
            fails with a L{UPnPError} subclass (a SOAP fault), L{GatewayHTTPError}
            or L{InvalidGatewayResponse}.
        """
        return Deferred.fromCoroutine(self._call(action, arguments))

    # -- status

    def get_external_ip(self) -> Deferred[ExternalAddress]:
        """Fires with the external address (and whether it means double NAT)."""

        async def run() -> ExternalAddress:
            args = await self._call("GetExternalIPAddress", ())
            ip = args.get("NewExternalIPAddress", "")
            if not ip:
                raise InvalidGatewayResponse("GetExternalIPAddress without an address")
            return ExternalAddress(ip, is_double_nat(ip))

        return Deferred.fromCoroutine(run())

    def get_status(self) -> Deferred[ConnectionStatus]:
        """Fires with GetStatusInfo's connection status."""

        async def run() -> ConnectionStatus:
            args = await self._call("GetStatusInfo", ())
            try:
                uptime = bounded_int(args.get("NewUptime", "0"), 0, 10**MAX_DIGITS - 1)
            except ValueError:
                uptime = 0  # an odd uptime does not make the service unusable
            return ConnectionStatus(
                status=args.get("NewConnectionStatus", ""),
                last_error=args.get("NewLastConnectionError", ""),
                uptime=uptime,
            )

        return Deferred.fromCoroutine(run())

    # -- mappings

    def _lease(self, lease: int) -> int:
        if lease < 0:
            raise ConfigurationError(f"lease {lease} is negative")
        if self.is_igd2:
            # IGD2: 1..604800, and 0 means 604800 there
            return IGD2_MAX_LEASE if lease == 0 else min(lease, IGD2_MAX_LEASE)
        return lease

    def _mapping(
        self,
        external_port: int,
        internal_port: int,
        protocol: str,
        internal_client: str | None,
        lease: int,
        description: str,
    ) -> PortMapping:
        """The mapping asked for, checked (L{ConfigurationError}) and with the lease clamped."""
        return PortMapping(
            external_port=_check_port(external_port, "external port"),
            protocol=check_protocol(protocol),
            internal_port=_check_port(internal_port, "internal port"),
            internal_client=internal_client or self.local_address,
            description=description[:256],
            lease=self._lease(lease),
        )

    @staticmethod
    def _add_arguments(mapping: PortMapping) -> list[tuple[str, str]]:
        """AddPortMapping's and AddAnyPortMapping's arguments, in the SCPD's order."""
        return [
            ("NewRemoteHost", mapping.remote_host),
            ("NewExternalPort", str(mapping.external_port)),
            ("NewProtocol", mapping.protocol),
            ("NewInternalPort", str(mapping.internal_port)),
            ("NewInternalClient", mapping.internal_client),
            ("NewEnabled", "1"),
            ("NewPortMappingDescription", mapping.description),
            ("NewLeaseDuration", str(mapping.lease)),
        ]

    async def _add(self, mapping: PortMapping) -> PortMapping:
        await self._call("AddPortMapping", self._add_arguments(mapping))
        return mapping

    async def _add_with_quirks(self, mapping: PortMapping) -> PortMapping:
        try:
            return await self._add(mapping)
        except OnlyPermanentLeasesSupported:
            self.log.info("gateway takes only permanent leases: mapping with lease 0")
            return await self._add(replace(mapping, lease=0))
        except SamePortValuesRequired:
            if mapping.external_port == mapping.internal_port:
                raise
            self.log.info(
                "gateway needs equal ports: mapping {port} instead of {asked}",
                port=mapping.internal_port,
                asked=mapping.external_port,
            )
            return await self._add(replace(mapping, external_port=mapping.internal_port))

    def add_mapping(
        self,
        external_port: int,
        internal_port: int,
        protocol: str = "TCP",
        internal_client: str | None = None,
        lease: int = 3600,
        description: str = "ssdp_upnp",
        next_free: bool = False,
    ) -> Deferred[PortMapping]:
        """
        Map C{external_port} on the gateway to C{internal_client}:C{internal_port}.
        Adding a mapping that exists for the same client renews it.

        @param internal_client: default: our own address toward the gateway.
        @param lease: seconds; 0 asks for a permanent mapping (IGD2: 604800).
        @param next_free: on a conflict (718) try the following ports.
        @return: a Deferred that fires with the L{PortMapping} made (its
            external port and lease may differ from those asked: quirks 724,
            725, C{next_free}); fails with L{ConflictInMappingEntry},
            L{ssdp_upnp.errors.NotAuthorized} (another client, secure mode),
            another L{UPnPError}, or an HTTP error.
        """

        async def run() -> PortMapping:
            candidate = self._mapping(
                external_port, internal_port, protocol, internal_client, lease, description
            )
            tries = NEXT_PORT_TRIES if next_free else 0
            while True:
                try:
                    return await self._add_with_quirks(candidate)
                except ConflictInMappingEntry:
                    if tries == 0 or candidate.external_port >= 65535:
                        raise
                    tries -= 1
                    candidate = replace(candidate, external_port=candidate.external_port + 1)

        return Deferred.fromCoroutine(run())

    def add_any_mapping(
        self,
        external_port: int,
        internal_port: int,
        protocol: str = "TCP",
        internal_client: str | None = None,
        lease: int = 3600,
        description: str = "ssdp_upnp",
    ) -> Deferred[PortMapping]:
        """
        Map some external port, C{external_port} if free: IGD2's
        AddAnyPortMapping (the gateway chooses), or on IGD1 L{add_mapping}
        with C{next_free}.

        @return: a Deferred that fires with the L{PortMapping} made.
        """
        if not self.is_igd2:
            return self.add_mapping(
                external_port, internal_port, protocol, internal_client, lease, description,
                next_free=True,
            )  # fmt: skip

        async def run() -> PortMapping:
            mapping = self._mapping(
                external_port, internal_port, protocol, internal_client, lease, description
            )
            args = await self._call("AddAnyPortMapping", self._add_arguments(mapping))
            reserved = args.get("NewReservedPort", "")
            try:
                port = bounded_int(reserved, 1, 65535)
            except ValueError:
                raise InvalidGatewayResponse(
                    f"AddAnyPortMapping reserved port {reserved[:20]!r}"
                ) from None
            return replace(mapping, external_port=port)

        return Deferred.fromCoroutine(run())

    def delete_mapping(self, external_port: int, protocol: str = "TCP") -> Deferred[None]:
        """
        Delete a mapping.

        @return: a Deferred that fires with None once deleted, or fails with
            L{NoSuchEntryInArray} (714) if there was none, or another error.
        """

        async def run() -> None:
            await self._call(
                "DeletePortMapping",
                [
                    ("NewRemoteHost", ""),
                    ("NewExternalPort", str(_check_port(external_port, "external port"))),
                    ("NewProtocol", check_protocol(protocol)),
                ],
            )

        return Deferred.fromCoroutine(run())

    def get_mapping(
        self, external_port: int, protocol: str = "TCP"
    ) -> Deferred[PortMapping | None]:
        """Fires with the mapping of C{external_port}, or None if there is none (714)."""

        async def run() -> PortMapping | None:
            proto = check_protocol(protocol)
            try:
                args = await self._call(
                    "GetSpecificPortMappingEntry",
                    [
                        ("NewRemoteHost", ""),
                        ("NewExternalPort", str(_check_port(external_port, "external port"))),
                        ("NewProtocol", proto),
                    ],
                )
            except NoSuchEntryInArray:
                return None
            return mapping_from_arguments(args, external_port, proto)

        return Deferred.fromCoroutine(run())

    def list_mappings(self) -> Deferred[list[PortMapping]]:
        """
        Fires with every mapping of the gateway: GetListOfPortMappings on IGD2
        (its embedded document parsed with the hardened parser), else
        GetGenericPortMappingEntry from index 0 until 713 (at most
        L{MAX_GENERIC_ENTRIES}).
        """

        async def run() -> list[PortMapping]:
            if self.is_igd2:
                try:
                    return await self._list_igd2()
                except UPnPError as e:
                    self.log.info("GetListOfPortMappings failed ({error}); listing by index",
                                  error=e)  # fmt: skip
            return await self._list_generic()

        return Deferred.fromCoroutine(run())

    async def _list_igd2(self) -> list[PortMapping]:
        mappings: list[PortMapping] = []
        for protocol in PROTOCOLS:
            try:
                args = await self._call(
                    "GetListOfPortMappings",
                    [
                        ("NewStartPort", "1"),
                        ("NewEndPort", "65535"),
                        ("NewProtocol", protocol),
                        ("NewManage", "1"),
                        ("NewNumberOfPorts", "1000"),
                    ],
                )
            except (NoSuchEntryInArray, NoSuchEntryInPortMappingList, SpecifiedArrayIndexInvalid):
                continue  # 713/714/730: nothing of this protocol
            mappings.extend(parse_port_mapping_list(args.get("NewPortListing", "")))
        return mappings

    async def _list_generic(self) -> list[PortMapping]:
        mappings = []
        for index in range(MAX_GENERIC_ENTRIES):
            try:
                args = await self._call(
                    "GetGenericPortMappingEntry", [("NewPortMappingIndex", str(index))]
                )
            except (SpecifiedArrayIndexInvalid, NoSuchEntryInArray):
                break
            mappings.append(mapping_from_arguments(args))
        return mappings
