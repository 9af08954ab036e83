"""
What a node advertises: its identity as UPnP types and vendor headers.

Pure code. A node is a UPnP root device whose device type and service type
carry the product (C{urn:ssdp-upnp-org:device:blockchain:1}) and whose SSDP
messages carry vendor headers naming the product, the network, the service
port and an optional node id, so that a peer learns C{host:port} from the SSDP
message alone.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from ._bounded import bounded_int
from ._node_names import check_network as check_network
from ._node_names import check_node_id as check_node_id
from ._node_names import check_port as check_port
from ._node_names import check_product as check_product
from ._node_names import check_uuid as check_uuid
from .errors import ConfigurationError
from .message import Headers
from .search_target import ROOT_DEVICE

#: The vendor domain of our types (UDA: the domain name with "." replaced by "-").
DOMAIN = "ssdp-upnp-org"
#: Vendor headers (UDA 1.1 §1.1.2: NAME.DOMAIN, the domain in its dotted form).
PRODUCT_HEADER = "PRODUCT.SSDP-UPNP.ORG"
NETWORK_HEADER = "NETWORK.SSDP-UPNP.ORG"
PORT_HEADER = "PORT.SSDP-UPNP.ORG"
NODE_ID_HEADER = "NODEID.SSDP-UPNP.ORG"
#: The node's public address on the gateway (ip:port), once a port mapping is made.
EXTERNAL_HEADER = "EXTERNAL.SSDP-UPNP.ORG"
#: The node's public IPv6 addresses (pinholes): C{[addr]:port}, comma-separated, at most 4.
EXTERNAL6_HEADER = "EXTERNAL6.SSDP-UPNP.ORG"
MAX_EXTERNAL6 = 4
_PRODUCT, _NETWORK, _PORT, _NODE_ID, _EXTERNAL, _EXTERNAL6 = (
    name.lower() for name in (PRODUCT_HEADER, NETWORK_HEADER, PORT_HEADER, NODE_ID_HEADER,
                              EXTERNAL_HEADER, EXTERNAL6_HEADER)
)  # fmt: skip


def device_type(product: str) -> str:
    return f"urn:{DOMAIN}:device:{product}:1"


def service_type(product: str) -> str:
    return f"urn:{DOMAIN}:service:{product}:1"


@dataclass(frozen=True)
class NodeInfo:
    """The identity a node advertises. Construct with L{NodeInfo.create} to validate."""

    uuid: str
    product: str
    network: str
    port: int
    node_id: str | None = None

    @classmethod
    def create(
        cls, uuid: str, product: str, network: str, port: int, node_id: str | None = None
    ) -> NodeInfo:
        """
        @raise ConfigurationError: if any field is unusable.
        """
        return cls(
            uuid=check_uuid(uuid),
            product=check_product(product),
            network=check_network(network),
            port=check_port(port),
            node_id=None if node_id is None else check_node_id(node_id),
        )

    @property
    def udn(self) -> str:
        return f"uuid:{self.uuid}"

    @property
    def device_type(self) -> str:
        return device_type(self.product)

    @property
    def service_type(self) -> str:
        return service_type(self.product)

    def notification_types(self) -> tuple[str, ...]:
        """Every NT the node advertises, root device first (UDA: 3 + 0 + 1 for one service)."""
        return (ROOT_DEVICE, self.udn, self.device_type, self.service_type)

    def usn(self, nt: str) -> str:
        """The USN that goes with C{nt}."""
        if nt == self.udn:
            return self.udn
        return f"{self.udn}::{nt}"

    def headers(self) -> Headers:
        """The vendor headers every message of the node carries."""
        headers = [
            (PRODUCT_HEADER, self.product),
            (NETWORK_HEADER, self.network),
            (PORT_HEADER, str(self.port)),
        ]
        if self.node_id is not None:
            headers.append((NODE_ID_HEADER, self.node_id))
        return tuple(headers)


@dataclass(frozen=True)
class Advertised:
    """What a received message says about the node behind it (see L{read_advertisement})."""

    product: str
    network: str
    port: int
    node_id: str | None
    external: tuple[str, int] | None = None
    external6: tuple[tuple[str, int], ...] = ()


def external_header(ip: str, port: int) -> tuple[str, str]:
    """The vendor header that advertises the node's public C{ip}:C{port}."""
    return (EXTERNAL_HEADER, f"{ipaddress.IPv4Address(ip)}:{check_port(port)}")


def read_external(value: str | None) -> tuple[str, int] | None:
    """C{("203.0.113.2", 8048)} from C{"203.0.113.2:8048"}; None if absent or not that form."""
    if value is None:
        return None
    ip, _, port = value.strip().rpartition(":")
    try:
        address = ipaddress.IPv4Address(ip)
    except ValueError:
        return None
    try:
        return (str(address), bounded_int(port, 1, 65535))
    except ValueError:
        return None


def external6_header(addresses: Sequence[tuple[str, int]]) -> tuple[str, str]:
    """The vendor header that advertises the node's public IPv6 addresses and ports."""
    if not 1 <= len(addresses) <= MAX_EXTERNAL6:
        raise ConfigurationError(f"1..{MAX_EXTERNAL6} public IPv6 addresses, not {len(addresses)}")
    return (EXTERNAL6_HEADER, ", ".join(
        f"[{ipaddress.IPv6Address(ip)}]:{check_port(port)}" for ip, port in addresses))  # fmt: skip


def read_external6(value: str | None) -> tuple[tuple[str, int], ...]:
    """
    C{(("2001:db8::11", 8048),)} from C{"[2001:db8::11]:8048"}; the entries
    that are not that form (or past the fourth) are left out.
    """
    if value is None:
        return ()
    found = []
    for entry in value.split(",", MAX_EXTERNAL6)[:MAX_EXTERNAL6]:
        address, _, port = entry.strip().rpartition("]:")
        if not address.startswith("["):
            continue
        try:
            ip = ipaddress.IPv6Address(address[1:])
            found.append((str(ip), bounded_int(port, 1, 65535)))
        except ValueError:
            continue
    return tuple(found)


def read_advertisement(extra: Headers) -> Advertised | None:
    """
    Read our vendor headers from a message's extra headers.

    @return: None if the message is not from an ssdp_upnp node or its headers
        are not valid (another UPnP device, a router, a malicious peer).
    """
    found: dict[str, str] = {}  # lower-cased names: the first of each, as header() takes
    for name, value in extra:
        found.setdefault(name.lower(), value)
    product = found.get(_PRODUCT)
    network = found.get(_NETWORK)
    port = found.get(_PORT)
    node_id = found.get(_NODE_ID)
    if product is None or network is None or port is None:
        return None
    try:
        return Advertised(
            product=check_product(product),
            network=check_network(network),
            port=bounded_int(port, 1, 65535),
            node_id=None if node_id is None else check_node_id(node_id),
            external=read_external(found.get(_EXTERNAL)),
            external6=read_external6(found.get(_EXTERNAL6)),
        )
    except (ConfigurationError, ValueError):
        return None
