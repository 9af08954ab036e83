"""
UPnP control by SOAP: build requests, read responses and faults.

Pure code. L{build_request} renders an action call; L{parse_response} reads
the action's output arguments or raises the L{ssdp_upnp.errors.UPnPError}
subclass that the fault's error code maps to (L{ERRORS}, a table, as
twisted.names maps DNS response codes).
"""

from __future__ import annotations

import functools
import re
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


#: What XML 1.0 allows in character data (lxml refuses the rest the same way).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: An element name without a prefix: XML 1.0 (fifth edition) NameStartChar, then NameChar.
_START = (
    "A-Z_a-z\xc0-\xd6\xd8-\xf6\xf8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c\u200d"
    "\u2070-\u218f\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
_NAME = re.compile(f"[{_START}][{_START}\\-.0-9\xb7\u0300-\u036f\u203f\u2040]*\\Z")
_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_HEAD = (
    "<?xml version='1.0' encoding='utf-8'?>\n"
    f'<s:Envelope xmlns:s="{SOAP_ENV}" s:encodingStyle="{SOAP_ENCODING}"><s:Body>'
)


@functools.lru_cache(maxsize=64)
def _namespace(service_type: str) -> str:
    """C{service_type} as the namespace attribute, checked as lxml checks a namespace URI."""
    if not service_type:
        raise ValueError("a service without a type")
    etree.Element("x", nsmap={"u": service_type})  # ValueError: not a URI to libxml2
    return service_type.replace("&", "&amp;")


#: Element names already checked (actions and arguments: a service's few, bounded).
_NAMES: set[str] = set()


def _check_name(name: str) -> None:
    """Add C{name} to L{_NAMES} (while it holds fewer than 256) if it is an XML name."""
    if not _NAME.match(name):
        raise ValueError(f"invalid XML element name {name[:40]!r}")
    if len(_NAMES) < 256:
        _NAMES.add(name)


def build_request(service_type: str, action: str, arguments: Sequence[tuple[str, str]]) -> bytes:
    """
    The envelope calling C{action} of C{service_type} with C{arguments}, in
    the order given (the SCPD's order: some routers read arguments by position).
    Empty values are written as C{<Name></Name>}, never C{<Name/>}, and an
    action without arguments likewise (as miniupnpc writes them). The bytes
    are those lxml writes for the same tree (a test holds them to it).

    @raise ValueError: a name that is not an XML name, or text XML cannot hold.
    """
    names = _NAMES
    if action not in names:
        _check_name(action)
    for name, value in arguments:
        if name not in names:
            _check_name(name)
        # printable ASCII is all XML text; anything else is searched
        if not (value.isascii() and value.isprintable()) and _NOT_XML.search(value):
            raise ValueError(f"text XML cannot hold: {value[:40]!r}")
    namespace = _namespace(service_type)
    parts = [_HEAD, f'<u:{action} xmlns:u="{namespace}">']
    parts.extend(f"<{name}>{value.translate(_TEXT)}</{name}>" for name, value in arguments)
    parts.append(f"</u:{action}></s:Body></s:Envelope>")
    return "".join(parts).encode("utf-8")


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
    return None if fault is None else _fault_error(fault, action)


def _fault_error(fault: etree._Element, action: str) -> UPnPError:
    """The UPnP error a SOAP Fault element holds."""
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
    wanted = action + "Response"
    response = None
    for child in body:  # (one pass: a Fault anywhere in the body is what the answer says)
        name = local_name(child)
        if name == "Fault":
            raise _fault_error(child, action)
        if name == wanted and response is None:
            response = child
    if response is None:
        raise InvalidGatewayResponse(f"no {action}Response in the SOAP body")
    return {local_name(arg): (arg.text or "").strip() for arg in response if local_name(arg)}
