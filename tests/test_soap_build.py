"""build_request writes what lxml writes for the same envelope, and refuses what lxml refuses."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from ssdp_upnp.errors import InvalidGatewayResponse
from ssdp_upnp.soap import SOAP_ENCODING, SOAP_ENV, build_request, parse_response


def lxml_request(service_type: str, action: str, arguments: list[tuple[str, str]]) -> bytes:
    """The envelope built as a tree and serialised by lxml (how build_request once did it)."""
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"s": SOAP_ENV})
    envelope.set(f"{{{SOAP_ENV}}}encodingStyle", SOAP_ENCODING)
    body = etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")
    call = etree.SubElement(body, f"{{{service_type}}}{action}", nsmap={"u": service_type})
    for name, value in arguments:
        etree.SubElement(call, name).text = value
    if not arguments:
        call.text = ""  # <u:Action ...></u:Action>, as miniupnpc writes it, not <u:Action/>
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))


names = st.from_regex(re.compile(r"[A-Za-z_\u00c0-\u00d6][\w.-]{0,12}\Z"), fullmatch=True)
service_types = st.from_regex(re.compile(r"urn:[\w&;'()%:.~-]{1,40}\Z", re.ASCII), fullmatch=True)
values = st.text(max_size=40)


def holds_to_lxml(service_type: str, action: str, arguments: list[tuple[str, str]]) -> None:
    try:
        expected = lxml_request(service_type, action, arguments)
    except ValueError:
        with pytest.raises(ValueError):
            build_request(service_type, action, arguments)
        return
    if service_type:  # (lxml writes an empty namespace; we refuse a service without a type)
        assert build_request(service_type, action, arguments) == expected


@given(service_types, names, st.lists(st.tuples(names, values), max_size=6))
def test_the_bytes_are_lxmls(
    service_type: str, action: str, arguments: list[tuple[str, str]]
) -> None:
    holds_to_lxml(service_type, action, arguments)


@given(st.text(max_size=30), st.text(max_size=12),
       st.lists(st.tuples(st.text(max_size=8), values), max_size=3))  # fmt: skip
def test_what_lxml_refuses_is_refused(
    service_type: str, action: str, arguments: list[tuple[str, str]]
) -> None:
    holds_to_lxml(service_type, action, arguments)


def test_a_request_reads_back() -> None:
    arguments = [("NewRemoteHost", ""), ("NewPortMappingDescription", "a<b & c\r\n")]
    service = "urn:schemas-upnp-org:service:WANIPConnection:2"
    body = build_request(service, "AddPortMapping", arguments)
    assert body.startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<s:Envelope")
    root = etree.fromstring(body)
    (call,) = root[0]
    assert [(child.tag, child.text) for child in call] == [
        ("NewRemoteHost", None), ("NewPortMappingDescription", "a<b & c\r\n")]  # fmt: skip
    assert b"<NewRemoteHost></NewRemoteHost>" in body
    with pytest.raises(InvalidGatewayResponse):
        parse_response(body, "AddPortMapping")  # a request is not a response
