"""
In-memory fakes for testing code that uses ssdp_upnp, or ssdp_upnp itself.

Twisted's C{MemoryReactorClock} has no C{listenUDP} or C{listenMulticast};
L{MemoryMulticastReactor} adds them, handing out L{MemoryDatagramPort}s that
record what is written, joined and set, and into which a test delivers
datagrams; L{MemoryLAN} carries datagrams between several such hosts. No
socket is ever opened.

L{FakeRouter} and L{igd_site} are a UPnP IGD in memory: a twisted.web
resource for treq's C{StubTreq}, wrapped as the typed L{StubHTTPClient}
(or served for real by twisted.web on loopback). Every fake is checked
against the interfaces it claims by the test suite (C{verifyClass}).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from ipaddress import ip_address
from typing import Any

from lxml import etree
from treq.testing import StubTreq
from twisted.internet import error
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.interfaces import (
    IListeningPort,
    IMulticastTransport,
    IReactorMulticast,
    IReactorUDP,
)
from twisted.internet.protocol import AbstractDatagramProtocol
from twisted.internet.testing import MemoryReactorClock
from twisted.web.iweb import IResponse
from twisted.web.resource import IResource, Resource
from twisted.web.server import NOT_DONE_YET
from zope.interface import implementer

from ._types import HTTPClient, ISSDPReactor
from .soap import SOAP_ENV


@dataclass(frozen=True)
class Sent:
    """One datagram written to a L{MemoryDatagramPort}."""

    data: bytes
    addr: tuple[str, int]
    interface: str


@implementer(IMulticastTransport, IListeningPort)
class MemoryDatagramPort:
    """A UDP/multicast port in memory."""

    def __init__(
        self,
        reactor: MemoryMulticastReactor,
        port: int,
        protocol: AbstractDatagramProtocol,
        interface: str,
        listen_multiple: bool,
    ) -> None:
        self.reactor = reactor
        self.port = port
        self.protocol = protocol
        self.interface = interface
        self.listen_multiple = listen_multiple
        self.sent: list[Sent] = []
        self.groups: set[tuple[str, str]] = set()
        self.ttl = 1
        self.loopback = True
        self.outgoing_interface = "0.0.0.0"
        self.listening = True
        self.connected_to: tuple[str, int] | None = None
        self.broadcast = False

    # IListeningPort
    def startListening(self) -> None:
        self.protocol.makeConnection(self)

    def stopListening(self) -> Deferred[None]:
        if self.listening:
            self.listening = False
            self.reactor.closed_ports.append(self)
            self.protocol.doStop()
        return succeed(None)

    def getHost(self) -> IPv4Address:
        return IPv4Address("UDP", self.interface or "0.0.0.0", self.port)

    # IUDPTransport
    def write(self, packet: bytes, addr: Any = None) -> None:
        if not self.listening:
            raise error.CannotListenError(self.interface, self.port, "port is closed")
        if addr is None:
            if self.connected_to is None:
                raise ValueError("write without an address on an unconnected port")
            addr = self.connected_to
        if not isinstance(packet, bytes):
            raise TypeError("datagrams are bytes")
        self.sent.append(Sent(packet, (str(addr[0]), int(addr[1])), self.outgoing_interface))

    def connect(self, host: str, port: int) -> None:
        self.connected_to = (host, port)

    def setBroadcastAllowed(self, enabled: bool) -> None:
        self.broadcast = enabled

    def getBroadcastAllowed(self) -> bool:
        return self.broadcast

    # IMulticastTransport
    def getOutgoingInterface(self) -> str:
        return self.outgoing_interface

    def setOutgoingInterface(self, addr: str | int) -> Deferred[int]:
        self.outgoing_interface = str(addr)
        return succeed(1)

    def getLoopbackMode(self) -> bool:
        return self.loopback

    def setLoopbackMode(self, mode: bool) -> None:
        self.loopback = bool(mode)

    def getTTL(self) -> int:
        return self.ttl

    def setTTL(self, ttl: int) -> None:
        self.ttl = ttl

    def joinGroup(self, addr: str, interface: str = "") -> Deferred[None]:
        if interface in self.reactor.failing_interfaces:
            return fail(error.MulticastJoinError(addr, interface, 19, "No such device"))
        self.groups.add((addr, interface))
        return succeed(None)

    def leaveGroup(self, addr: str, interface: str = "") -> Deferred[None]:
        self.groups.discard((addr, interface))
        return succeed(None)

    # for tests
    def deliver(self, data: bytes, addr: tuple[str, int]) -> None:
        """Hand C{data} from C{addr} to the protocol, as the reactor would."""
        self.protocol.datagramReceived(data, addr)

    def take(self) -> list[Sent]:
        """The datagrams sent since the last call."""
        sent, self.sent = self.sent, []
        return sent


@implementer(ISSDPReactor, IReactorUDP, IReactorMulticast)
class MemoryMulticastReactor(MemoryReactorClock):
    """
    A C{MemoryReactorClock} (TCP, time) with in-memory UDP and multicast.

    C{failing_interfaces} holds interface addresses whose C{joinGroup} fails
    with ENODEV; C{busy_ports} holds ports C{listen*} refuses as in use
    (unless C{listenMultiple}).
    """

    def __init__(self) -> None:
        super().__init__()
        self.datagram_ports: list[MemoryDatagramPort] = []
        self.closed_ports: list[MemoryDatagramPort] = []
        self.failing_interfaces: set[str] = set()
        self.busy_ports: set[int] = set()
        self.tcp_ports: list[MemoryTCPPort] = []
        self._next_port = 40000

    def _listen(
        self,
        port: int,
        protocol: AbstractDatagramProtocol,
        interface: str,
        listen_multiple: bool,
    ) -> MemoryDatagramPort:
        if port in self.busy_ports and not listen_multiple:
            raise error.CannotListenError(interface, port, OSError(98, "Address already in use"))
        if port == 0:
            self._next_port += 1
            port = self._next_port
        udp = MemoryDatagramPort(self, port, protocol, interface, listen_multiple)
        self.datagram_ports.append(udp)
        udp.startListening()
        return udp

    def listenUDP(
        self,
        port: int,
        protocol: AbstractDatagramProtocol,
        interface: str = "",
        maxPacketSize: int = 8192,
    ) -> MemoryDatagramPort:
        return self._listen(port, protocol, interface, False)

    def listenMulticast(
        self,
        port: int,
        protocol: AbstractDatagramProtocol,
        interface: str = "",
        maxPacketSize: int = 8192,
        listenMultiple: bool = False,
    ) -> MemoryDatagramPort:
        return self._listen(port, protocol, interface, listenMultiple)

    def listenTCP(
        self, port: int, factory: Any, backlog: int = 50, interface: str = ""
    ) -> MemoryTCPPort:
        if port in self.busy_ports:
            raise error.CannotListenError(interface, port, OSError(98, "Address already in use"))
        if port == 0:
            self._next_port += 1
            port = self._next_port
        self.tcpServers.append((port, factory, backlog, interface))
        tcp = MemoryTCPPort(self, IPv4Address("TCP", interface or "0.0.0.0", port), factory)
        self.tcp_ports.append(tcp)
        return tcp

    def open_ports(self) -> list[MemoryDatagramPort]:
        return [p for p in self.datagram_ports if p.listening]


@implementer(IListeningPort)
class MemoryTCPPort:
    """A listening TCP port in memory, with its real port number and a record of closing."""

    def __init__(self, reactor: MemoryMulticastReactor, address: IPv4Address, factory: Any) -> None:
        self.reactor = reactor
        self.address = address
        self.factory = factory
        self.listening = True

    def startListening(self) -> None:
        pass

    def stopListening(self) -> Deferred[None]:
        self.listening = False
        return succeed(None)

    def getHost(self) -> IPv4Address:
        return self.address


class MemoryLAN:
    """
    Several hosts, each with its own L{MemoryMulticastReactor}, on one segment.

    L{flush} carries every datagram written since the last call: one sent to a
    multicast group reaches every open port of that number that joined the
    group (the sender's own host too, while its loopback mode is on); one sent
    to an address reaches one port of that number on that host, as
    SO_REUSEPORT does. L{advance} moves every clock together, flushing as it goes.
    """

    def __init__(self) -> None:
        self.hosts: dict[str, MemoryMulticastReactor] = {}
        self.delivered = 0

    def add_host(self, ip: str) -> MemoryMulticastReactor:
        reactor = MemoryMulticastReactor()
        self.hosts[ip] = reactor
        return reactor

    def _targets(
        self, sender: str, source: MemoryDatagramPort, sent: Sent
    ) -> list[MemoryDatagramPort]:
        group, port = sent.addr
        if ip_address(group).is_multicast:
            return [
                p
                for ip, reactor in self.hosts.items()
                if ip != sender or source.loopback
                for p in reactor.open_ports()
                if p.port == port and any(g == group for g, _ in p.groups)
            ]
        reactor = self.hosts.get(group)
        ports = [p for p in reactor.open_ports() if p.port == port] if reactor else []
        return ports[:1]

    def flush(self) -> int:
        """Deliver until nothing is left to deliver; return how many deliveries were made."""
        count = 0
        while True:
            moved = False
            for ip, reactor in list(self.hosts.items()):
                for source in reactor.datagram_ports:
                    for sent in source.take():
                        moved = True
                        for target in self._targets(ip, source, sent):
                            target.deliver(sent.data, (ip, source.port))
                            count += 1
            if not moved:
                self.delivered += count
                return count

    def advance(self, seconds: float, step: float = 0.05) -> None:
        """Advance every host's clock by C{seconds}, in steps of C{step}, flushing after each."""
        self.flush()
        remaining = seconds
        while remaining > 1e-9:
            tick = min(step, remaining)
            for reactor in self.hosts.values():
                reactor.advance(tick)
            self.flush()
            remaining -= tick


class StubHTTPClient:
    """
    treq's C{StubTreq} as a typed L{HTTPClient}: requests go to C{resource}
    in memory, with no socket. Call L{flush} when the resource answers late.
    """

    #: treq's C{request} (C{StubTreq} makes its methods at run time)
    request: Callable[..., Deferred[IResponse]]

    def __init__(self, resource: IResource) -> None:
        stub: Any = StubTreq(resource)
        self.request = stub.request
        self.flush: Callable[[], None] = stub.flush


_CHECK_HTTP_CLIENT: type[HTTPClient] = StubHTTPClient  # the Protocol, checked by mypy

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
FIREWALL_CONTROL = "urn:schemas-upnp-org:service:WANIPv6FirewallControl:1"
_FIREWALL_ACTIONS = {"GetFirewallStatus", "AddPinhole", "UpdatePinhole", "DeletePinhole",
                     "CheckPinholeWorking", "GetOutboundPinholeTimeout"}  # fmt: skip
WAN_IP_1 = "urn:schemas-upnp-org:service:WANIPConnection:1"
WAN_PPP_1 = "urn:schemas-upnp-org:service:WANPPPConnection:1"


@dataclass
class FakeRouter:
    """
    The fake router's state and quirks: its port-mapping table, the calls it
    was sent, and switches for the behaviours of PROTOCOL.md (only permanent
    leases, equal ports only, secure mode with C{requester} as the only
    allowed internal client, IGD1 or IGD2, a dead control port, a fixed
    SOAP answer).
    """

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
    #: external ports it refuses to map, with the UPnP error code it answers
    refused: dict[int, int] = field(default_factory=dict)
    #: an add is made, but its answer never comes (the connection is dropped)
    add_then_hang: bool = False
    #: WANIPv6FirewallControl: the IPv6 requester, the switches and the pinholes by UniqueID
    requester6: str = "2001:db8:5100::11"
    firewall_enabled: bool = True
    inbound_pinhole_allowed: bool = True
    pinholes: dict[int, dict[str, str]] = field(default_factory=dict)

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
        if action in _FIREWALL_ACTIONS:
            return self._firewall(action, args)
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

    def _firewall(self, action: str, args: dict[str, str]) -> tuple[int, dict[str, str]]:
        if action == "GetFirewallStatus":
            return 0, {"FirewallEnabled": str(int(self.firewall_enabled)),
                       "InboundPinholeAllowed": str(int(self.inbound_pinhole_allowed))}  # fmt: skip
        if action == "GetOutboundPinholeTimeout":
            return 0, {"OutboundPinholeTimeout": "300"}
        if not self.firewall_enabled:
            return 702, {}
        if action == "AddPinhole":
            if not self.inbound_pinhole_allowed:
                return 703, {}
            if args["InternalClient"] != self.requester6:
                return 606, {}
            unique_id = max(self.pinholes, default=0) + 1
            self.pinholes[unique_id] = dict(args)
            return 0, {"UniqueID": str(unique_id)}
        unique_id = int(args["UniqueID"])
        if unique_id not in self.pinholes:
            return 704, {}
        if action == "UpdatePinhole":
            self.pinholes[unique_id]["LeaseTime"] = args["NewLeaseTime"]
            return 0, {}
        if action == "DeletePinhole":
            del self.pinholes[unique_id]
            return 0, {}
        return 0, {"IsWorking": "0"}  # CheckPinholeWorking: no traffic seen in memory

    def _add(self, action: str, args: dict[str, str]) -> tuple[int, dict[str, str]]:
        if args["NewInternalClient"] != self.requester:
            return self.secure_error, {}
        if int(args["NewExternalPort"]) in self.refused:
            return self.refused[int(args["NewExternalPort"])], {}
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


class _Control(Resource):
    """A WAN connection service's control URL: SOAP in, the router's answer out."""

    isLeaf = True

    def __init__(self, router: FakeRouter, service_type: str) -> None:
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
        if self.router.add_then_hang and action in ("AddPortMapping", "AddAnyPortMapping"):
            return NOT_DONE_YET  # made, but the answer never comes
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


class StaticDocument(Resource):
    """One fixed answer to GET: C{body}, with C{code} and C{headers}."""

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


class _Folder(Resource):
    """A folder of the fake router's site: a path it does not hold is a plain 404."""

    def getChild(self, path: bytes, request: object) -> IResource:
        from twisted.web import pages

        return pages.notFound()  # (Resource's own default is deprecated: it does not escape)


def igd_site(router: FakeRouter, description: bytes | None = None,
             services: dict[str, str] | None = None) -> Resource:  # fmt: skip
    """The router's web root: /rootDesc.xml and a control resource per service."""
    if services is None:
        services = {"/ctl/IPConn": WAN_IP_2 if router.igd2 else WAN_IP_1}
    if description is None:
        description = igd_description(
            "".join(service_xml(t, path) for path, t in services.items()),
            version=2 if router.igd2 else 1,
        )
    root = _Folder()
    root.putChild(b"rootDesc.xml", StaticDocument(description))
    ctl = _Folder()
    root.putChild(b"ctl", ctl)
    for path, service_type in services.items():
        ctl.putChild(path.rsplit("/", 1)[-1].encode(), _Control(router, service_type))
    return root


@dataclass
class _ControlMapping:
    client: str
    protocol: int
    internal_port: int
    external_port: int
    expires: float
    nonce: bytes = b""  # PCP's; empty for a NAT-PMP mapping


@dataclass
class FakePortControlServer:
    """
    A PCP (version 2) and NAT-PMP (version 0) server in memory, written
    apart from our codecs (as miniupnpd behaves): mappings keyed by external
    port; a port another client holds gets the next free one (PCP with
    PREFER_FAILURE: CANNOT_PROVIDE_EXTERNAL); a PCP renewal or deletion needs
    the mapping's nonce (NOT_AUTHORIZED); a PCP client address that is not
    the datagram's source gets ADDRESS_MISMATCH; the epoch counts from the
    last L{restart}.

    L{answer} reads every datagram the reactor's open ports sent to
    C{address}:5351 and delivers the answers to them.

    @ivar pcp: answer PCP (else a NAT-PMP-style UNSUPP_VERSION, or silence
        when C{natpmp} is off too).
    @ivar result: answer every request with this result code instead.
    @ivar silent: answer nothing (a gateway with both turned off).
    @ivar max_lifetime: lifetimes are cut to this.
    """

    reactor: MemoryMulticastReactor
    address: str = "198.51.100.1"
    external_ip: str = "203.0.113.2"
    pcp: bool = True
    natpmp: bool = True
    silent: bool = False
    result: int | None = None
    max_lifetime: int = 86400
    mappings: dict[tuple[int, int], _ControlMapping] = field(default_factory=dict)
    requests: list[tuple[str, bytes]] = field(default_factory=list)
    origin: float = 0.0

    def restart(self, keep_epoch: bool = False) -> None:
        """
        Lose every mapping; the epoch starts again from 0 (unless
        C{keep_epoch}: miniupnpd with C{system_uptime} counts from the host's boot).
        """
        self.mappings.clear()
        if not keep_epoch:
            self.origin = self.reactor.seconds()

    def epoch(self) -> int:
        return int(self.reactor.seconds() - self.origin)

    def answer(self) -> int:
        """Answer what was sent to us since the last call; returns how many requests."""
        count = 0
        for port in self.reactor.open_ports():
            kept = []
            for sent in port.sent:
                if sent.addr != (self.address, 5351):
                    kept.append(sent)
                    continue
                count += 1
                self.requests.append((port.interface, sent.data))
                reply = self.handle(sent.data, port.interface)
                if reply is not None and port.listening:
                    port.deliver(reply, (self.address, 5351))
            port.sent = kept
        return count

    def announce(self) -> None:
        """Multicast an unsolicited PCP ANNOUNCE to every port listening on 5350."""
        data = struct.pack("!BBBBII12s", 2, 0x80, 0, 0, 0, self.epoch(), b"")
        for port in self.reactor.open_ports():
            if port.port == 5350:
                port.deliver(data, (self.address, 5351))

    def handle(self, data: bytes, source: str) -> bytes | None:
        if self.silent or len(data) < 2:
            return None
        if data[0] == 0 and self.natpmp:
            return self._natpmp(data, source)
        if data[0] == 2 and self.pcp:
            return self._pcp(data, source)
        if self.natpmp:  # miniupnpd without PCP: a NAT-PMP "unsupported version"
            return struct.pack("!BBHI", 0, 128 + data[1], 1, self.epoch())
        return None

    def _free_port(self, wanted: int, client: str, protocol: int, internal: int) -> int:
        now = self.reactor.seconds()
        candidates: list[int] = [wanted or 1024, *range(max(wanted, 1024) + 1, 65536)]
        for port in candidates:
            held = self.mappings.get((protocol, port))
            if held is None or held.expires <= now:
                return port
            if (held.client, held.internal_port) == (client, internal):
                return port
        return 0

    def _mapping_of(self, client: str, protocol: int, internal: int) -> _ControlMapping | None:
        for mapping in self.mappings.values():
            if (mapping.client, mapping.protocol, mapping.internal_port) == (
                client, protocol, internal,
            ):  # fmt: skip
                return mapping
        return None

    def _natpmp(self, data: bytes, source: str) -> bytes | None:
        opcode = data[1]
        if opcode == 0:
            if self.result is not None:
                return struct.pack("!BBHI", 0, 128, self.result, self.epoch())
            return struct.pack("!BBHI4s", 0, 128, 0, self.epoch(),
                               ip_address(self.external_ip).packed)  # fmt: skip
        if opcode not in (1, 2) or len(data) < 12:
            return struct.pack("!BBHI", 0, 128 + opcode, 5, self.epoch())
        _v, _op, _r, internal, suggested, lifetime = struct.unpack("!BBHHHI", data[:12])
        protocol = 17 if opcode == 1 else 6
        if self.result is not None:
            return struct.pack("!BBHIHHI", 0, 128 + opcode, self.result, self.epoch(), internal,
                               0, 0)  # fmt: skip
        existing = self._mapping_of(source, protocol, internal)
        if lifetime == 0:
            if existing is not None:
                del self.mappings[(protocol, existing.external_port)]
            return struct.pack("!BBHIHHI", 0, 128 + opcode, 0, self.epoch(), internal, 0, 0)
        lifetime = min(lifetime, self.max_lifetime)
        port = existing.external_port if existing else self._free_port(
            suggested, source, protocol, internal)  # fmt: skip
        self.mappings[(protocol, port)] = _ControlMapping(
            source, protocol, internal, port, self.reactor.seconds() + lifetime
        )
        return struct.pack("!BBHIHHI", 0, 128 + opcode, 0, self.epoch(), internal, port, lifetime)

    def _pcp(self, data: bytes, source: str) -> bytes | None:
        if len(data) < 24 or len(data) % 4 or data[1] & 0x80:
            return None
        opcode = data[1]
        lifetime = struct.unpack("!I", data[4:8])[0]
        client = data[8:24]
        head = struct.pack("!BB", 2, 0x80 | opcode)

        def reply(result: int, life: int, body: bytes = b"") -> bytes:
            return head + struct.pack("!BBII12s", 0, result, life, self.epoch(), b"") + body

        source_ip = ip_address(source)
        packed = source_ip.packed if source_ip.version == 6 else (
            b"\0" * 10 + b"\xff\xff" + source_ip.packed)  # fmt: skip
        if client != packed:
            return reply(12, 0, data[24:60])
        if self.result is not None:
            return reply(self.result, 0, data[24:60])
        if opcode == 0:
            return reply(0, 0)
        if opcode != 1:
            return reply(4, 0)
        if len(data) < 60:
            return reply(3, 0)
        nonce, protocol, internal, suggested = data[24:36], data[36], *struct.unpack(
            "!HH", data[40:44])  # fmt: skip
        prefer_failure = any(data[i] == 2 for i in range(60, len(data), 4))
        existing = self._mapping_of(source, protocol, internal)
        if existing is not None and existing.nonce != nonce:
            return reply(2, 0, data[24:60])
        if lifetime == 0:
            if existing is not None:
                del self.mappings[(protocol, existing.external_port)]
            return reply(0, 0, data[24:60])
        if source_ip.version == 6:  # a pinhole: nothing is translated
            port = internal
        else:
            port = existing.external_port if existing else self._free_port(
                suggested, source, protocol, internal)  # fmt: skip
        if prefer_failure and suggested and port != suggested:
            return reply(11, 0, data[24:60])
        life = min(lifetime, self.max_lifetime)
        self.mappings[(protocol, port)] = _ControlMapping(
            source, protocol, internal, port, self.reactor.seconds() + life, nonce
        )
        external = packed if source_ip.version == 6 else (
            b"\0" * 10 + b"\xff\xff" + ip_address(self.external_ip).packed)  # fmt: skip
        body = data[24:42] + struct.pack("!H", port) + external
        return reply(0, life, body)
