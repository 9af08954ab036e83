"""
An in-memory UPnP IGD for unit tests: a twisted.web resource served through
treq.testing.StubTreq. It keeps a port-mapping table, answers the WAN
connection actions, and can be told to behave like the routers of
PROTOCOL.md (only permanent leases, equal ports only, secure mode, reboot).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from ssdp_upnp.soap import SOAP_ENV

SOAP_FAULT = """<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"
 s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body><s:Fault>
<faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>
<UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>{code}</errorCode>
<errorDescription>{description}</errorDescription></UPnPError></detail></s:Fault>
</s:Body></s:Envelope>"""


def service_xml(service_type: str, control: str, sid: str = "WANIPConn1") -> str:
    return (
        f"<service><serviceType>{service_type}</serviceType>"
        f"<serviceId>urn:upnp-org:serviceId:{sid}</serviceId>"
        f"<controlURL>{control}</controlURL><eventSubURL>/evt/{sid}</eventSubURL>"
        f"<SCPDURL>/{sid}.xml</SCPDURL></service>"
    )


def igd_description(services: str, version: int = 2, url_base: str = "", prefix: str = "") -> bytes:
    """A miniupnpd-shaped root description: IGD → WANDevice → WANConnectionDevice → services."""
    p = f"{prefix}:" if prefix else ""
    ns = f' xmlns:{prefix}="urn:schemas-upnp-org:device-1-0"' if prefix else (
        ' xmlns="urn:schemas-upnp-org:device-1-0"'
    )  # fmt: skip
    base = f"<{p}URLBase>{url_base}</{p}URLBase>" if url_base else ""
    text = f"""<?xml version="1.0"?>
<{p}root{ns}><{p}specVersion><{p}major>1</{p}major><{p}minor>1</{p}minor></{p}specVersion>{base}
<{p}device><{p}deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:{version}</{p}deviceType>
<{p}friendlyName>fake router</{p}friendlyName><{p}UDN>uuid:fake-igd</{p}UDN>
<{p}serviceList>{service_xml("urn:schemas-upnp-org:service:Layer3Forwarding:1", "/ctl/L3F", "L3F")}</{p}serviceList>
<{p}deviceList><{p}device>
<{p}deviceType>urn:schemas-upnp-org:device:WANDevice:{version}</{p}deviceType><{p}UDN>uuid:fake-wan</{p}UDN>
<{p}deviceList><{p}device>
<{p}deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:{version}</{p}deviceType>
<{p}UDN>uuid:fake-wanconn</{p}UDN>
<{p}serviceList>{services}</{p}serviceList>
</{p}device></{p}deviceList></{p}device></{p}deviceList></{p}device></{p}root>"""  # noqa: E501
    if prefix:
        text = text.replace("<service>", f"<{p}service>").replace("</service>", f"</{p}service>")
        for tag in ("serviceType", "serviceId", "controlURL", "eventSubURL", "SCPDURL"):
            text = text.replace(f"<{tag}>", f"<{p}{tag}>").replace(f"</{tag}>", f"</{p}{tag}>")
    return text.encode()


WAN_IP_2 = "urn:schemas-upnp-org:service:WANIPConnection:2"
WAN_IP_1 = "urn:schemas-upnp-org:service:WANIPConnection:1"
WAN_PPP_1 = "urn:schemas-upnp-org:service:WANPPPConnection:1"


@dataclass
class Router:
    """The fake router's state and quirks."""

    external_ip: str = "203.0.113.2"
    requester: str = "198.51.100.11"
    status: str = "Connected"
    only_permanent: bool = False
    equal_ports_only: bool = False
    secure_error: int = 606
    igd2: bool = True
    table: dict[tuple[int, str], dict[str, str]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    down: bool = False
    soap_status: int | None = None
    soap_body: bytes | None = None

    def handle(self, action: str, args: dict[str, str]) -> tuple[int, dict[str, str]]:
        """Return (UPnP error code or 0, output arguments)."""
        self.calls.append((action, args))
        if action == "GetExternalIPAddress":
            return 0, {"NewExternalIPAddress": self.external_ip}
        if action == "GetStatusInfo":
            return 0, {"NewConnectionStatus": self.status, "NewLastConnectionError": "ERROR_NONE",
                       "NewUptime": "42"}  # fmt: skip
        if action in ("AddPortMapping", "AddAnyPortMapping"):
            return self._add(action, args)
        if action == "DeletePortMapping":
            key = (int(args["NewExternalPort"]), args["NewProtocol"])
            if key not in self.table:
                return 714, {}
            del self.table[key]
            return 0, {}
        if action == "GetSpecificPortMappingEntry":
            entry = self.table.get((int(args["NewExternalPort"]), args["NewProtocol"]))
            if entry is None:
                return 714, {}
            return 0, {k: v for k, v in entry.items()
                       if k not in ("NewExternalPort", "NewProtocol", "NewRemoteHost")}  # fmt: skip
        if action == "GetGenericPortMappingEntry":
            index = int(args["NewPortMappingIndex"])
            entries = list(self.table.values())
            if index >= len(entries):
                return 713, {}
            return 0, dict(entries[index])
        if action == "GetListOfPortMappings" and self.igd2:
            entries = [e for e in self.table.values() if e["NewProtocol"] == args["NewProtocol"]]
            if not entries:
                return 730, {}
            gw = "urn:schemas-upnp-org:gw:WANIPConnection"
            root = etree.Element(f"{{{gw}}}PortMappingList", nsmap={"p": gw})
            for entry in entries:
                e = etree.SubElement(
                    root, "{urn:schemas-upnp-org:gw:WANIPConnection}PortMappingEntry"
                )
                renamed = {"NewPortMappingDescription": "NewDescription",
                           "NewLeaseDuration": "NewLeaseTime"}  # fmt: skip
                for k, v in entry.items():
                    name = renamed.get(k, k)
                    etree.SubElement(
                        e, f"{{urn:schemas-upnp-org:gw:WANIPConnection}}{name}"
                    ).text = v
            return 0, {"NewPortListing": etree.tostring(root).decode()}
        return 401, {}

    def _add(self, action: str, args: dict[str, str]) -> tuple[int, dict[str, str]]:
        if args["NewInternalClient"] != self.requester:
            return self.secure_error, {}
        if self.only_permanent and args["NewLeaseDuration"] != "0":
            return 725, {}
        if self.equal_ports_only and args["NewExternalPort"] != args["NewInternalPort"]:
            return 724, {}
        port = int(args["NewExternalPort"])
        key = (port, args["NewProtocol"])
        while (
            key in self.table and self.table[key]["NewInternalClient"] != args["NewInternalClient"]
        ):
            if action == "AddPortMapping":
                return 718, {}
            port += 1
            key = (port, args["NewProtocol"])
        self.table[key] = {**args, "NewExternalPort": str(port)}
        return 0, ({"NewReservedPort": str(port)} if action == "AddAnyPortMapping" else {})


class Control(Resource):
    isLeaf = True

    def __init__(self, router: Router, service_type: str) -> None:
        super().__init__()
        self.router = router
        self.service_type = service_type

    def render_POST(self, request: Any) -> bytes | int:
        if self.router.down:
            request.transport.loseConnection()
            return NOT_DONE_YET
        if self.router.soap_status is not None:
            request.setResponseCode(self.router.soap_status)
            return self.router.soap_body or b""
        action_header = request.getHeader("soapaction") or ""
        assert action_header.startswith('"') and action_header.endswith('"'), action_header
        service_type, _, action = action_header.strip('"').partition("#")
        assert service_type == self.service_type, (service_type, self.service_type)
        root = etree.fromstring(request.content.read())
        body = root.find(f"{{{SOAP_ENV}}}Body")
        assert body is not None
        call = body[0]
        assert call.tag == f"{{{service_type}}}{action}"
        args = {child.tag: child.text or "" for child in call}
        code, out = self.router.handle(action, args)
        request.setHeader(b"content-type", b'text/xml; charset="utf-8"')
        if code:
            request.setResponseCode(500)
            return SOAP_FAULT.format(code=code, description=f"error {code}").encode()
        envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"s": SOAP_ENV})
        soap_body = etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")
        response = etree.SubElement(soap_body, f"{{{service_type}}}{action}Response",
                                    nsmap={"u": service_type})  # fmt: skip
        for k, v in out.items():
            etree.SubElement(response, k).text = v
        return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))


class Document(Resource):
    isLeaf = True

    def __init__(self, body: bytes, code: int = 200, headers: dict[bytes, bytes] | None = None):
        super().__init__()
        self.body = body
        self.code = code
        self.headers = headers or {}

    def render_GET(self, request: Any) -> bytes:
        request.setResponseCode(self.code)
        for k, v in self.headers.items():
            request.setHeader(k, v)
        return self.body


def igd_site(router: Router, description: bytes | None = None,
             services: dict[str, str] | None = None) -> Resource:  # fmt: skip
    """The router's web root: /rootDesc.xml and a control resource per service."""
    if services is None:
        services = {"/ctl/IPConn": WAN_IP_2 if router.igd2 else WAN_IP_1}
    if description is None:
        description = igd_description(
            "".join(service_xml(t, path) for path, t in services.items()),
            version=2 if router.igd2 else 1,
        )
    root = Resource()
    root.putChild(b"rootDesc.xml", Document(description))
    ctl = Resource()
    root.putChild(b"ctl", ctl)
    for path, service_type in services.items():
        ctl.putChild(path.rsplit("/", 1)[-1].encode(), Control(router, service_type))
    return root
