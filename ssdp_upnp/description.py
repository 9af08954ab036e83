"""
The UPnP device description a node serves at its LOCATION, built and read.

Pure code. L{build_device_description} renders the description of a
L{NodeInfo}; L{build_scpd} the (action-less) service description that goes
with it; L{read_node_description} reads one back through the hardened parser,
as a peer or a test does.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from xml.sax.saxutils import escape

from ._bounded import bounded_int
from .errors import InvalidDescription
from .message import MAX_CONFIG_ID
from .node import DOMAIN, NodeInfo

DEVICE_NS = "urn:schemas-upnp-org:device-1-0"
SERVICE_NS = "urn:schemas-upnp-org:service-1-0"
NODE_NS = f"urn:{DOMAIN}:node-1-0"

DESCRIPTION_PATH = "/description.xml"
SCPD_PATH = "/scpd.xml"
CONTROL_PATH = "/control"


def config_id(node: NodeInfo) -> int:
    """CONFIGID.UPNP.ORG: changes whenever what the description says changes."""
    text = "\0".join([node.uuid, node.product, node.network, str(node.port), node.node_id or ""])
    return zlib.crc32(text.encode("utf-8")) & MAX_CONFIG_ID


def _element(tag: str, text: str) -> str:
    return f"<{tag}>{escape(text)}</{tag}>"


_SPEC_VERSION = "<specVersion><major>1</major><minor>1</minor></specVersion>"


def build_device_description(node: NodeInfo, server: str = "ssdp_upnp") -> bytes:
    """
    The device description document of C{node}: a root device of the
    product's device type, one service of the product's service type, and a
    vendor element (namespace L{NODE_NS}) naming product, network, port and
    node id. (Written as text, so that a node loads no XML library to serve it.)
    """
    node_id = _element("n:nodeId", node.node_id) if node.node_id is not None else ""
    service = "".join([
        _element("serviceType", node.service_type),
        _element("serviceId", f"urn:{DOMAIN}:serviceId:{node.product}"),
        _element("SCPDURL", SCPD_PATH),
        _element("controlURL", CONTROL_PATH),
        # no evented state variables: eventSubURL is empty (UDA 1.1 §2.3), SUBSCRIBE is refused
        "<eventSubURL></eventSubURL>",
    ])  # fmt: skip
    device = "".join([
        _element("deviceType", node.device_type),
        _element("friendlyName", f"{node.product} node ({node.network})"),
        _element("manufacturer", "ssdp_upnp"),
        _element("modelName", server),
        _element("UDN", node.udn),
        f"<serviceList><service>{service}</service></serviceList>",
        f'<n:node xmlns:n="{NODE_NS}">',
        _element("n:product", node.product),
        _element("n:network", node.network),
        _element("n:port", str(node.port)),
        node_id,
        "</n:node>",
    ])  # fmt: skip
    text = (
        "<?xml version='1.0' encoding='utf-8'?>\n"
        f'<root xmlns="{DEVICE_NS}" configId="{config_id(node)}">'
        f"{_SPEC_VERSION}<device>{device}</device></root>"
    )
    return text.encode("utf-8")


def build_scpd() -> bytes:
    """The service description: no actions, one state variable (the service port)."""
    return (
        "<?xml version='1.0' encoding='utf-8'?>\n"
        f'<scpd xmlns="{SERVICE_NS}">{_SPEC_VERSION}<actionList></actionList>'
        '<serviceStateTable><stateVariable sendEvents="no"><name>ServicePort</name>'
        "<dataType>ui2</dataType></stateVariable></serviceStateTable></scpd>"
    ).encode()


@dataclass(frozen=True)
class NodeDescription:
    """What a node's description document says."""

    device_type: str
    udn: str
    service_types: tuple[str, ...]
    product: str
    network: str
    port: int
    node_id: str | None


def read_node_description(data: bytes) -> NodeDescription:
    """
    Read a node's description document.

    @raise ssdp_upnp._xmlsafe.UnsafeXML: not well-formed, too large, or with a DOCTYPE.
    @raise InvalidDescription: well-formed but not a node's description.
    """
    from ._xmlsafe import child_text, local_name, parse_xml  # lxml only for readers

    root = parse_xml(data)
    if local_name(root) != "root":
        raise InvalidDescription(f"root element is {local_name(root)!r}")
    device = next((c for c in root if local_name(c) == "device"), None)
    if device is None:
        raise InvalidDescription("no device element")
    device_type = child_text(device, "deviceType")
    udn = child_text(device, "UDN")
    if not device_type or not udn:
        raise InvalidDescription("device without deviceType or UDN")
    service_types = []
    services = next((c for c in device if local_name(c) == "serviceList"), None)
    for service in services if services is not None else ():
        service_type = child_text(service, "serviceType")
        if service_type:
            service_types.append(service_type)
    info = device.find(f"{{{NODE_NS}}}node")
    if info is None:
        raise InvalidDescription("no node element")
    product = child_text(info, "product")
    network = child_text(info, "network")
    port = child_text(info, "port")
    if not product or not network or not port:
        raise InvalidDescription("node element without product, network or port")
    try:
        port_number = bounded_int(port, 1, 65535)
    except ValueError:
        raise InvalidDescription(f"node port {port[:20]!r} is not a port") from None
    return NodeDescription(
        device_type=device_type,
        udn=udn,
        service_types=tuple(service_types),
        product=product,
        network=network,
        port=port_number,
        node_id=child_text(info, "nodeId"),
    )
