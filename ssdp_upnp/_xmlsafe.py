"""
A hardened XML parser for documents that come off the network.

Pure code. Device descriptions, SOAP responses and the embedded documents of
GetListOfPortMappings come from routers and peers we do not trust: no entity
expansion, no DTD, no network access, no huge trees, and a document that
carries a DOCTYPE at all is refused (XXE, billion laughs).
"""

from __future__ import annotations

import threading
from typing import Any

from lxml import etree

from .errors import UnsafeXML

#: The largest document we parse; callers cap the bytes they read before that.
MAX_XML_SIZE = 256 * 1024


_PARSERS = threading.local()  # an lxml parser is reused, but in one thread only


def _parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = _new_parser()
    return parser


def _new_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_xml(data: bytes) -> etree._Element:
    """
    Parse C{data} with the hardened parser.

    @return: the root element.
    @raise UnsafeXML: for a malformed, oversized or DOCTYPE-carrying document.
    """
    if len(data) > MAX_XML_SIZE:
        raise UnsafeXML(f"document of {len(data)} bytes (limit {MAX_XML_SIZE})")
    # refused before libxml2 sees it, so no entity is ever declared, let alone expanded
    # (a DOCTYPE in another encoding is still caught after parsing, below)
    if b"<!doctype" in data.lower():
        raise UnsafeXML("a DOCTYPE is refused")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as e:
        raise UnsafeXML(f"not well-formed XML: {e}") from None
    if root is None:
        raise UnsafeXML("empty document")
    docinfo: Any = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise UnsafeXML("a DOCTYPE is refused")
    return root


def local_name(element: etree._Element) -> str:
    """The tag of C{element} without its namespace (routers vary prefixes and namespaces)."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""  # a comment or processing instruction
    return tag.rpartition("}")[2]


def child_text(element: etree._Element, name: str) -> str | None:
    """The stripped text of the first child called C{name} (any namespace), or None."""
    for child in element:
        if local_name(child) == name:
            return (child.text or "").strip()
    return None
