"""
UPnP control by SOAP: build requests, read responses and faults.

Pure code. L{build_request} renders an action call; L{parse_response} reads
the action's output arguments or raises the L{ssdp_upnp.errors.UPnPError}
subclass that the fault's error code maps to (L{ERRORS}, a table, as
twisted.names maps DNS response codes).
"""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from ._bounded import bounded_int
from ._xmlsafe import child_text, local_name, parse_xml
from .errors import (
    ActionFailed,
    ConflictInMappingEntry,
    ConflictWithOtherMechanisms,
    FirewallDisabled,
    InboundPinholeNotAllowed,
    InconsistentParameters,
    InternalPortWildcardingNotAllowed,
    InvalidArgs,
    InvalidGatewayResponse,
    NoPacketSent,
    NoPortMapsAvailable,
    NoSuchEntryInArray,
    NoSuchEntryInPortMappingList,
    NoSuchPinhole,
    NotAuthorized,
    OnlyPermanentLeasesSupported,
    PinholeProtocolNotSupported,
    PinholeSpaceExhausted,
    ProtocolWildcardingNotAllowed,
    SamePortValuesRequired,
    SpecifiedArrayIndexInvalid,
    UnsafeXML,
    UPnPError,
    WildCardNotPermitted,
    WildcardNotPermittedInSrcIP,
)

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP_ENCODING = "http://schemas.xmlsoap.org/soap/encoding/"
CONTENT_TYPE = 'text/xml; charset="utf-8"'

ERRORS: dict[int, type[UPnPError]] = {
    402: InvalidArgs,
    501: ActionFailed,
    606: NotAuthorized,
    701: PinholeSpaceExhausted,
    702: FirewallDisabled,
    703: InboundPinholeNotAllowed,
    704: NoSuchPinhole,
    705: PinholeProtocolNotSupported,
    706: InternalPortWildcardingNotAllowed,
    707: ProtocolWildcardingNotAllowed,
    708: WildcardNotPermittedInSrcIP,
    709: NoPacketSent,
    713: SpecifiedArrayIndexInvalid,
    714: NoSuchEntryInArray,
    715: WildCardNotPermitted,
    716: WildCardNotPermitted,
    718: ConflictInMappingEntry,
    724: SamePortValuesRequired,
    725: OnlyPermanentLeasesSupported,
    728: NoPortMapsAvailable,
    729: ConflictWithOtherMechanisms,
    730: NoSuchEntryInPortMappingList,
    732: WildCardNotPermitted,
    733: InconsistentParameters,
}


def error_for(code: int, description: str, action: str = "") -> UPnPError:
    """The exception for UPnP error C{code}: its own class if known, else L{UPnPError}."""
    return ERRORS.get(code, UPnPError)(code, description, action)


def soap_action(service_type: str, action: str) -> str:
    """The SOAPAction header value, quotes included: C{"urn:...:1#AddPortMapping"}."""
    return f'"{service_type}#{action}"'


def build_request(service_type: str, action: str, arguments: Sequence[tuple[str, str]]) -> bytes:
    """
    The envelope calling C{action} of C{service_type} with C{arguments}, in
    the order given (the SCPD's order: some routers read arguments by position).
    Empty values are written as C{<Name></Name>}, never C{<Name/>}.
    """
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"s": SOAP_ENV})
    envelope.set(f"{{{SOAP_ENV}}}encodingStyle", SOAP_ENCODING)
    body = etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")
    call = etree.SubElement(body, f"{{{service_type}}}{action}", nsmap={"u": service_type})
    for name, value in arguments:
        etree.SubElement(call, name).text = value
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="utf-8"))


def _body(root: etree._Element) -> etree._Element:
    if local_name(root) != "Envelope":
        raise InvalidGatewayResponse(f"SOAP document has root {local_name(root)!r}")
    for child in root:
        if local_name(child) == "Body":
            return child
    raise InvalidGatewayResponse("SOAP envelope without a Body")


def parse_fault(body: etree._Element, action: str) -> UPnPError | None:
    """The UPnP error in a SOAP Body, or None if the body holds no fault."""
    fault = next((c for c in body if local_name(c) == "Fault"), None)
    if fault is None:
        return None
    error = next((e for e in fault.iter() if local_name(e) == "UPnPError"), None)
    if error is None:
        text = child_text(fault, "faultstring") or "SOAP fault without UPnPError"
        return UPnPError(0, text[:200], action)
    code = child_text(error, "errorCode") or ""
    description = (child_text(error, "errorDescription") or "")[:200]
    try:
        number = bounded_int(code, 0, 999999)
    except ValueError:
        return UPnPError(0, f"bad errorCode {code[:20]!r} {description}", action)
    return error_for(number, description, action)


def parse_response(data: bytes, action: str) -> dict[str, str]:
    """
    The output arguments of a response to C{action}, by name.

    @raise UPnPError: (a subclass by code) if the document is a SOAP fault.
    @raise InvalidGatewayResponse: if it is not a SOAP response to C{action}.
    """
    try:
        root = parse_xml(data)
    except UnsafeXML as e:
        raise InvalidGatewayResponse(f"{action}: {e}") from None
    body = _body(root)
    fault = parse_fault(body, action)
    if fault is not None:
        raise fault
    response = next((c for c in body if local_name(c) == f"{action}Response"), None)
    if response is None:
        raise InvalidGatewayResponse(f"no {action}Response in the SOAP body")
    return {local_name(arg): (arg.text or "").strip() for arg in response if local_name(arg)}
