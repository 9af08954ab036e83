"""The IGD client without a network: SOAP, descriptions, the Gateway API and its quirks."""

from __future__ import annotations

from typing import Any

import pytest
from lxml import etree
from twisted.internet.task import Clock
from twisted.web.resource import Resource

from helpers import failure_of, result_of
from ssdp_upnp import errors
from ssdp_upnp._http import http_request
from ssdp_upnp.gateway import Gateway
from ssdp_upnp.gateway_discovery import probe_gateway
from ssdp_upnp.igd import (
    GatewayDescription,
    PortMapping,
    connection_services,
    is_double_nat,
    parse_gateway_description,
    parse_port_mapping_list,
)
from ssdp_upnp.soap import build_request, parse_response, soap_action
from ssdp_upnp.testing import (
    WAN_IP_1,
    WAN_IP_2,
    WAN_PPP_1,
    FakeRouter,
    StaticDocument,
    StubHTTPClient,
    igd_description,
    igd_site,
    service_xml,
)

URL = "http://198.51.100.1:5000/rootDesc.xml"
ME = "198.51.100.11"


# -- SOAP


def test_request_envelope_and_action_header() -> None:
    body = build_request(WAN_IP_1, "AddPortMapping", [("NewRemoteHost", ""), ("NewX", "a<b")])
    assert soap_action(WAN_IP_1, "AddPortMapping") == f'"{WAN_IP_1}#AddPortMapping"'
    assert b"<NewRemoteHost></NewRemoteHost>" in body
    assert b"<NewX>a&lt;b</NewX>" in body
    root = etree.fromstring(body)
    call = root[0][0]
    assert call.tag == f"{{{WAN_IP_1}}}AddPortMapping"
    assert [c.tag for c in call] == ["NewRemoteHost", "NewX"]


RESPONSE = (
    b'<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">'
    b'<s:Body><u:GetExternalIPAddressResponse xmlns:u="urn:x"><NewExternalIPAddress>'
    b"203.0.113.2</NewExternalIPAddress></u:GetExternalIPAddressResponse></s:Body></s:Envelope>"
)


def test_parse_response() -> None:
    assert parse_response(RESPONSE, "GetExternalIPAddress") == {
        "NewExternalIPAddress": "203.0.113.2"
    }
    with pytest.raises(errors.InvalidGatewayResponse):
        parse_response(RESPONSE, "GetStatusInfo")


@pytest.mark.parametrize(
    "code, error",
    [
        (718, errors.ConflictInMappingEntry),
        (725, errors.OnlyPermanentLeasesSupported),
        (724, errors.SamePortValuesRequired),
        (606, errors.NotAuthorized),
        (713, errors.SpecifiedArrayIndexInvalid),
        (714, errors.NoSuchEntryInArray),
        (402, errors.InvalidArgs),
        (799, errors.UPnPError),
    ],
)
def test_faults_map_to_typed_errors(code: int, error: type[errors.UPnPError]) -> None:
    from ssdp_upnp.testing import SOAP_FAULT

    with pytest.raises(error) as raised:
        parse_response(SOAP_FAULT.format(code=code, description="x").encode(), "AddPortMapping")
    assert type(raised.value) is error and raised.value.code == code


@pytest.mark.parametrize(
    "document",
    [
        b"not xml",
        b"<html><body>500</body></html>",
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"/>',
        b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>'
        b"<detail><UPnPError><errorCode>12ab</errorCode></UPnPError></detail></s:Fault>"
        b"</s:Body></s:Envelope>",
    ],
)
def test_garbage_responses_are_typed_errors(document: bytes) -> None:
    with pytest.raises(errors.GatewayError):
        parse_response(document, "GetStatusInfo")


# -- descriptions


def test_nested_description_resolves_relative_urls_against_the_description() -> None:
    desc = parse_gateway_description(igd_description(service_xml(WAN_IP_2, "/ctl/IPConn")), URL)
    (service,) = connection_services(desc)
    assert service.control_url == "http://198.51.100.1:5000/ctl/IPConn"
    assert service.scpd_url == "http://198.51.100.1:5000/WANIPConn1.xml"
    assert desc.is_igd2
    assert [d.device_type.split(":")[-2] for d in desc.root.walk()] == [
        "InternetGatewayDevice", "WANDevice", "WANConnectionDevice",
    ]  # fmt: skip


def test_url_base_and_relative_paths() -> None:
    desc = parse_gateway_description(
        igd_description(service_xml(WAN_IP_1, "ctl/x"), url_base="http://198.51.100.1:80/igd/"),
        URL,
    )
    assert connection_services(desc)[0].control_url == "http://198.51.100.1:80/igd/ctl/x"


def test_control_url_on_another_host_is_left_out() -> None:
    services = service_xml(WAN_IP_1, "http://203.0.113.66/ctl") + service_xml(WAN_PPP_1, "/ppp")
    (service,) = connection_services(parse_gateway_description(igd_description(services), URL))
    assert service.service_type == WAN_PPP_1


def test_service_preference_and_odd_prefixes() -> None:
    services = (
        service_xml(WAN_PPP_1, "/ppp", "P")
        + service_xml(WAN_IP_1, "/ip1", "I1")
        + service_xml(WAN_IP_2, "/ip2", "I2")
    )
    desc = parse_gateway_description(igd_description(services, prefix="dev"), URL)
    assert [s.service_type for s in connection_services(desc)] == [WAN_IP_2, WAN_IP_1, WAN_PPP_1]


@pytest.mark.parametrize(
    "document",
    [
        b"<root/>",
        b"<html/>",
        b"<!DOCTYPE root><root><device/></root>",
        b"<root><device>" + b"<deviceList><device>" * 20 + b"</device></deviceList>" * 20
        + b"</device></root>",
    ],
)  # fmt: skip
def test_bad_descriptions(document: bytes) -> None:
    with pytest.raises(errors.InvalidGatewayResponse):
        parse_gateway_description(document, URL)


def test_port_mapping_list_document() -> None:
    doc = (
        '<p:PortMappingList xmlns:p="urn:schemas-upnp-org:gw:WANIPConnection">'
        "<p:PortMappingEntry><p:NewRemoteHost></p:NewRemoteHost><p:NewExternalPort>8048"
        "</p:NewExternalPort><p:NewProtocol>TCP</p:NewProtocol><p:NewInternalPort>8048"
        "</p:NewInternalPort><p:NewInternalClient>198.51.100.11</p:NewInternalClient>"
        "<p:NewEnabled>1</p:NewEnabled><p:NewDescription>x</p:NewDescription>"
        "<p:NewLeaseTime>100</p:NewLeaseTime></p:PortMappingEntry></p:PortMappingList>"
    )
    assert parse_port_mapping_list(doc) == [
        PortMapping(8048, "TCP", 8048, "198.51.100.11", "x", 100, True, "")
    ]
    with pytest.raises(errors.InvalidGatewayResponse):
        parse_port_mapping_list("<x/>")
    huge = "<PortMappingList>" + (
        "<PortMappingEntry><NewExternalPort>1</NewExternalPort><NewInternalPort>1"
        "</NewInternalPort></PortMappingEntry>" * 1100
    ) + "</PortMappingList>"  # fmt: skip
    with pytest.raises(errors.InvalidGatewayResponse, match="more than"):
        parse_port_mapping_list(huge)


@pytest.mark.parametrize(
    "ip, double",
    [("203.0.113.2", False), ("8.8.8.8", False), ("192.168.1.2", True), ("10.0.0.1", True),
     ("100.64.3.4", True), ("172.20.0.1", True), ("0.0.0.0", True), ("garbage", True)],
)  # fmt: skip
def test_double_nat(ip: str, double: bool) -> None:
    assert is_double_nat(ip) is double


# -- the Gateway API against the fake router


def gateway(router: FakeRouter, **kw: Any) -> Gateway:
    stub = StubHTTPClient(igd_site(router, **kw))
    found: Gateway = result_of(Deferred_from(probe_gateway(Clock(), stub, URL, ME)))
    return found


def Deferred_from(coro: Any) -> Any:
    from twisted.internet.defer import Deferred

    return Deferred.fromCoroutine(coro)


def test_status_and_external_ip() -> None:
    router = FakeRouter()
    gw = gateway(router)
    assert gw.is_igd2 and gw.local_address == ME
    assert result_of(gw.get_status()).connected
    address = result_of(gw.get_external_ip())
    assert (address.ip, address.double_nat) == ("203.0.113.2", False)
    router.external_ip = "100.64.0.9"
    assert result_of(gw.get_external_ip()).double_nat


def test_add_get_list_delete() -> None:
    router = FakeRouter()
    gw = gateway(router)
    made = result_of(gw.add_mapping(8048, 8048, "tcp", description="node"))
    assert made == PortMapping(8048, "TCP", 8048, ME, "node", 3600)
    action, args = router.calls[-1]
    assert action == "AddPortMapping"
    assert list(args) == [
        "NewRemoteHost", "NewExternalPort", "NewProtocol", "NewInternalPort",
        "NewInternalClient", "NewEnabled", "NewPortMappingDescription", "NewLeaseDuration",
    ]  # fmt: skip
    got = result_of(gw.get_mapping(8048, "TCP"))
    assert got is not None and got.internal_client == ME and got.lease == 3600
    assert result_of(gw.get_mapping(9999, "TCP")) is None
    result_of(gw.add_mapping(9000, 9000, "UDP"))
    listed = result_of(gw.list_mappings())
    assert sorted((m.external_port, m.protocol) for m in listed) == [(8048, "TCP"), (9000, "UDP")]
    assert any(a == "GetListOfPortMappings" for a, _ in router.calls)
    result_of(gw.delete_mapping(8048, "TCP"))
    assert (8048, "TCP") not in router.table
    assert isinstance(failure_of(gw.delete_mapping(8048, "TCP")).value, errors.NoSuchEntryInArray)


def test_igd1_lists_by_index_until_713() -> None:
    router = FakeRouter(igd2=False)
    gw = gateway(router)
    assert not gw.is_igd2
    for port in (1001, 1002, 1003):
        result_of(gw.add_mapping(port, port))
    assert [m.external_port for m in result_of(gw.list_mappings())] == [1001, 1002, 1003]
    indexes = [
        a["NewPortMappingIndex"] for n, a in router.calls if n == "GetGenericPortMappingEntry"
    ]
    assert indexes == ["0", "1", "2", "3"]


def test_lease_is_clamped_on_igd2_only() -> None:
    assert result_of(gateway(FakeRouter()).add_mapping(1, 1, lease=0)).lease == 604800
    assert result_of(gateway(FakeRouter()).add_mapping(1, 1, lease=10**7)).lease == 604800
    assert result_of(gateway(FakeRouter(igd2=False)).add_mapping(1, 1, lease=0)).lease == 0


def test_725_retries_with_a_permanent_lease() -> None:
    router = FakeRouter(only_permanent=True, igd2=False)
    made = result_of(gateway(router).add_mapping(8048, 8048, lease=3600))
    assert made.lease == 0
    assert [a["NewLeaseDuration"] for n, a in router.calls if n == "AddPortMapping"] == [
        "3600",
        "0",
    ]


def test_724_retries_with_equal_ports() -> None:
    router = FakeRouter(equal_ports_only=True)
    made = result_of(gateway(router).add_mapping(18048, 8048))
    assert (made.external_port, made.internal_port) == (8048, 8048)


def test_718_is_a_conflict_or_the_next_port() -> None:
    router = FakeRouter()
    router.table[(8048, "TCP")] = {"NewInternalClient": "198.51.100.99", "NewExternalPort": "8048"}
    gw = gateway(router)
    assert isinstance(failure_of(gw.add_mapping(8048, 8048)).value, errors.ConflictInMappingEntry)
    assert result_of(gw.add_mapping(8048, 8048, next_free=True)).external_port == 8049
    # IGD2: AddAnyPortMapping lets the router choose
    any_port = result_of(gw.add_any_mapping(8048, 8048, "TCP"))
    assert any_port.external_port == 8049
    assert router.calls[-1][0] == "AddAnyPortMapping"


def test_another_client_is_refused_typed() -> None:
    gw = gateway(FakeRouter())
    failure = failure_of(gw.add_mapping(8048, 8048, internal_client="198.51.100.12"))
    assert isinstance(failure.value, errors.NotAuthorized)


def test_bad_arguments_fail_the_deferred() -> None:
    gw = gateway(FakeRouter())
    assert isinstance(failure_of(gw.add_mapping(0, 1)).value, errors.ConfigurationError)
    assert isinstance(failure_of(gw.add_mapping(1, 1, "SCTP")).value, errors.ConfigurationError)
    assert isinstance(failure_of(gw.add_mapping(1, 1, lease=-1)).value, errors.ConfigurationError)


def test_http_errors() -> None:
    router = FakeRouter()
    gw = gateway(router)
    router.soap_status, router.soap_body = 404, b"nope"
    assert isinstance(failure_of(gw.get_status()).value, errors.GatewayHTTPError)
    router.soap_status, router.soap_body = 500, b"<html>oops</html>"
    assert isinstance(failure_of(gw.get_status()).value, errors.GatewayHTTPError)
    router.soap_status, router.soap_body = 200, b"<garbage"
    assert isinstance(failure_of(gw.get_status()).value, errors.InvalidGatewayResponse)
    router.soap_status = None
    router.down = True
    assert isinstance(failure_of(gw.get_status()).value, errors.GatewayHTTPError)


# -- choosing a service


def test_probe_prefers_a_connected_service_and_igd2() -> None:
    router = FakeRouter()
    services = {"/ctl/PPP": WAN_PPP_1, "/ctl/IP1": WAN_IP_1, "/ctl/IP2": WAN_IP_2}
    gw = gateway(router, services=services)
    assert gw.service.service_type == WAN_IP_2
    router.status = "Disconnected"
    # nothing says Connected: the first that answers is used (logged)
    assert gateway(router, services=services).service.service_type == WAN_IP_2


def test_probe_without_connection_service_fails() -> None:
    router = FakeRouter()
    stub = StubHTTPClient(igd_site(router, services={}))
    failure = failure_of(Deferred_from(probe_gateway(Clock(), stub, URL, ME)))
    assert isinstance(failure.value, errors.NoGatewayFound)


# -- bounded HTTP


class Redirect(Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        request.redirect(b"http://203.0.113.66/evil.xml")
        return b""


def test_http_limits() -> None:
    clock = Clock()
    big = StubHTTPClient(StaticDocument(b"x" * 300_000))
    assert "over" in str(failure_of(http_request(clock, big, "GET", URL)).value)
    small = StubHTTPClient(StaticDocument(b"x" * 100))
    assert result_of(http_request(clock, small, "GET", URL)) == (200, b"x" * 100)
    redirect = StubHTTPClient(Redirect())
    assert "redirect" in str(failure_of(http_request(clock, redirect, "GET", URL)).value)


class Trickle(Resource):
    """Sends headers and a first byte, then nothing more (a stuck or malicious server)."""

    isLeaf = True

    def render_GET(self, request: Any) -> int:
        from twisted.web.server import NOT_DONE_YET

        request.setHeader(b"content-length", b"1000")
        request.write(b"<")
        return NOT_DONE_YET


def test_http_deadline_covers_the_body() -> None:
    clock = Clock()
    d = http_request(clock, StubHTTPClient(Trickle()), "GET", URL, timeout=5)
    assert not d.called
    clock.advance(5)
    failure = failure_of(d)
    assert isinstance(failure.value, errors.GatewayHTTPError)
    assert "no complete answer in 5" in str(failure.value)
    assert clock.getDelayedCalls() == []


def test_description_is_parsed_from_url_relative(tmp_path: Any) -> None:
    desc = parse_gateway_description(igd_description(service_xml(WAN_IP_1, "/c")), URL)
    assert isinstance(desc, GatewayDescription) and desc.url == URL


class Silent(Resource):
    """Accepts the request and never answers (a hung router)."""

    isLeaf = True

    def render_POST(self, request: Any) -> int:
        from twisted.web.server import NOT_DONE_YET

        return NOT_DONE_YET

    render_GET = render_POST


def test_http_deadline_covers_waiting_for_the_headers() -> None:
    clock = Clock()
    d = http_request(clock, StubHTTPClient(Silent()), "GET", URL, timeout=5)
    clock.advance(5)
    assert "no complete answer in 5" in str(failure_of(d).value)


class Chunked(Resource):
    """A description sent without Content-Length (chunked), in pieces."""

    isLeaf = True

    def render_GET(self, request: Any) -> int:
        from twisted.web.server import NOT_DONE_YET

        body = igd_description(service_xml(WAN_PPP_1, "/ctl/PPP"))
        for i in range(0, len(body), 100):
            request.write(body[i : i + 100])
        request.finish()
        return NOT_DONE_YET


def test_description_without_content_length() -> None:
    code, body = result_of(http_request(Clock(), StubHTTPClient(Chunked()), "GET", URL))
    assert code == 200
    (service,) = connection_services(parse_gateway_description(body, URL))
    assert service.service_type == WAN_PPP_1


def test_wanppp_only_gateway_is_used() -> None:
    gw = gateway(FakeRouter(), services={"/ctl/PPP": WAN_PPP_1})
    assert gw.service.service_type == WAN_PPP_1 and not gw.is_igd2
    assert result_of(gw.add_mapping(8048, 8048)).external_port == 8048
