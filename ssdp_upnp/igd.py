"""
What an Internet Gateway Device describes: its devices, its WAN connection
services, and its port mappings.

Pure code. L{parse_gateway_description} walks nested deviceLists and resolves
URLs (URLBase, else the description's own URL); L{connection_services} picks
the WANIPConnection/WANPPPConnection services, IGD2 first;
L{parse_port_mapping_list} reads the document GetListOfPortMappings embeds.
All XML goes through the hardened parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from lxml import etree

from ._bounded import MAX_DIGITS, bounded_int
from ._xmlsafe import child_text, local_name, parse_xml
from .errors import InvalidGatewayResponse, UnsafeXML
from .igd_types import GATEWAY_SEARCH_TARGETS, IGD_1, IGD_2, WAN_IP_1, WAN_IP_2, WAN_PPP_1
from .mapping import PortMapping, is_double_nat

__all__ = [
    "GATEWAY_SEARCH_TARGETS",
    "IGD_1",
    "IGD_2",
    "WAN_IP_1",
    "WAN_IP_2",
    "WAN_PPP_1",
    "ConnectionService",
    "GatewayDescription",
    "PortMapping",
    "connection_services",
    "is_double_nat",
    "mapping_from_arguments",
    "parse_gateway_description",
    "parse_port_mapping_list",
]

_PREFERENCE = {WAN_IP_2: 0, WAN_IP_1: 1, WAN_PPP_1: 2}
#: Nesting deeper than this is refused (a real IGD nests three levels).
MAX_DEPTH = 8
#: IGD2's longest lease (WANIPConnection:2 §2.3.17); 0 means this much on IGD2.
IGD2_MAX_LEASE = 604800


@dataclass(frozen=True)
class ConnectionService:
    service_type: str
    service_id: str
    control_url: str
    scpd_url: str | None
    event_url: str | None

    @property
    def version(self) -> int:
        try:
            return bounded_int(self.service_type.rsplit(":", 1)[-1], 1, 999)
        except ValueError:
            return 1


@dataclass(frozen=True)
class Device:
    device_type: str
    udn: str
    friendly_name: str
    services: tuple[ConnectionService, ...]
    devices: tuple[Device, ...]

    def walk(self) -> list[Device]:
        """This device and every device nested in it, depth first."""
        found = [self]
        for device in self.devices:
            found.extend(device.walk())
        return found


@dataclass(frozen=True)
class GatewayDescription:
    url: str
    root: Device

    @property
    def is_igd2(self) -> bool:
        return self.root.device_type == IGD_2


def _same_host(url: str, host: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname == host


def _device(element: etree._Element, base: str, host: str, depth: int) -> Device:
    if depth > MAX_DEPTH:
        raise InvalidGatewayResponse(f"deviceList nested deeper than {MAX_DEPTH}")
    services = []
    devices: list[Device] = []
    for child in element:
        name = local_name(child)
        if name == "serviceList":
            for service in child:
                if local_name(service) != "service":
                    continue
                service_type = child_text(service, "serviceType")
                control = child_text(service, "controlURL")
                if not service_type or not control:
                    continue
                control_url = urljoin(base, control)
                # a description may not send our SOAP calls to a third host
                if not _same_host(control_url, host):
                    continue
                scpd = child_text(service, "SCPDURL")
                event = child_text(service, "eventSubURL")
                services.append(
                    ConnectionService(
                        service_type=service_type,
                        service_id=child_text(service, "serviceId") or "",
                        control_url=control_url,
                        scpd_url=urljoin(base, scpd) if scpd else None,
                        event_url=urljoin(base, event) if event else None,
                    )
                )
        elif name == "deviceList":
            devices.extend(
                _device(d, base, host, depth + 1) for d in child if local_name(d) == "device"
            )
    return Device(
        device_type=child_text(element, "deviceType") or "",
        udn=child_text(element, "UDN") or "",
        friendly_name=(child_text(element, "friendlyName") or "")[:128],
        services=tuple(services),
        devices=tuple(devices),
    )


def parse_gateway_description(data: bytes, url: str) -> GatewayDescription:
    """
    Read a root device description fetched from C{url}.

    Relative URLs resolve against URLBase if present, else C{url}; services
    whose control URL is not plain http on C{url}'s host are left out.

    @raise InvalidGatewayResponse: not XML we accept, or no root device.
    """
    host = urlsplit(url).hostname
    if not host:
        raise InvalidGatewayResponse(f"description URL {url!r} has no host")
    try:
        root = parse_xml(data)
    except UnsafeXML as e:
        raise InvalidGatewayResponse(f"description at {url}: {e}") from None
    if local_name(root) != "root":
        raise InvalidGatewayResponse(f"description root is {local_name(root)!r}, not root")
    base = child_text(root, "URLBase") or url
    device = next((c for c in root if local_name(c) == "device"), None)
    if device is None:
        raise InvalidGatewayResponse("description without a device")
    return GatewayDescription(url, _device(device, base, host, 0))


def connection_services(description: GatewayDescription) -> list[ConnectionService]:
    """Every WAN connection service, WANIPConnection:2 first, then :1, then WANPPPConnection:1."""
    found = [
        service
        for device in description.root.walk()
        for service in device.services
        if service.service_type in _PREFERENCE
    ]
    return sorted(found, key=lambda s: _PREFERENCE[s.service_type])


def _port(value: str | None, what: str) -> int:
    try:
        return bounded_int(value or "", 1, 65535)
    except ValueError:
        raise InvalidGatewayResponse(f"{what} {str(value)[:20]!r} is not a port") from None


def _lease(value: str | None) -> int:
    if value is None or value == "":
        return 0
    try:
        return bounded_int(value, 0, 10**MAX_DIGITS - 1)
    except ValueError:
        raise InvalidGatewayResponse(f"lease {value[:20]!r} is not a number") from None


def mapping_from_arguments(args: dict[str, str], external_port: int | None = None,
                           protocol: str | None = None) -> PortMapping:  # fmt: skip
    """
    A L{PortMapping} from the output arguments of GetGenericPortMappingEntry or
    (with the port and protocol asked for) GetSpecificPortMappingEntry.
    """
    return PortMapping(
        external_port=(
            external_port
            if external_port is not None
            else _port(args.get("NewExternalPort"), "external port")
        ),
        protocol=(protocol or args.get("NewProtocol", "")).upper(),
        internal_port=_port(args.get("NewInternalPort"), "internal port"),
        internal_client=args.get("NewInternalClient", ""),
        # GetListOfPortMappings' entries say NewDescription and NewLeaseTime
        description=args.get("NewPortMappingDescription", args.get("NewDescription", ""))[:256],
        lease=_lease(args.get("NewLeaseDuration", args.get("NewLeaseTime"))),
        enabled=args.get("NewEnabled", "1") in ("1", "true", "yes"),
        remote_host=args.get("NewRemoteHost", ""),
    )


#: The most entries read from one GetListOfPortMappings document.
MAX_LIST_ENTRIES = 1024


def parse_port_mapping_list(data: str) -> list[PortMapping]:
    """
    Read the C{NewPortListing} document of GetListOfPortMappings (IGD2): a
    C{p:PortMappingList} of C{p:PortMappingEntry}, through the hardened parser.

    @raise InvalidGatewayResponse: not such a document, or too many entries.
    """
    try:
        root = parse_xml(data.encode("utf-8"))
    except UnsafeXML as e:
        raise InvalidGatewayResponse(f"port mapping list: {e}") from None
    if local_name(root) != "PortMappingList":
        raise InvalidGatewayResponse(f"port mapping list has root {local_name(root)!r}")
    mappings: list[PortMapping] = []
    for entry in root:
        if local_name(entry) != "PortMappingEntry":
            continue
        if len(mappings) >= MAX_LIST_ENTRIES:
            raise InvalidGatewayResponse(f"more than {MAX_LIST_ENTRIES} port mappings listed")
        args = {local_name(c): (c.text or "").strip() for c in entry}
        mappings.append(mapping_from_arguments(args))
    return mappings
