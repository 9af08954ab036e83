"""
Speaking with ssdp-upnp 0.1.0 nodes (PyPI, 2018), so that a network upgraded
one node at a time does not split in two.

Pure code. A 0.1.0 client searches with C{ST: ssdp:all} and keeps any
datagram whose text matches C{LOCATION: {product}_{network}://host:port}: one
of our responses per search carries L{legacy_header}, whose name ends in
C{LOCATION}. A 0.1.0 server answers with a datagram that is not well-formed
SSDP (every header line indented, no USN, no closing blank line):
L{decode_legacy} recognises exactly that shape, and nothing else, within
hard limits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ._bounded import bounded_int
from .errors import LegacyMessageError
from .message import MAX_DATAGRAM_SIZE, MAX_LINE_LENGTH

#: The header that carries our address for 0.1.0 clients (a vendor header; control points
#: ignore headers they do not know).
LEGACY_HEADER = "X-PEER-LOCATION"
#: A 0.1.0 answer has five lines; a little room for variations, no more.
MAX_LEGACY_LINES = 12

_STATUS = "HTTP/1.1 200 OK"
_HEADER = re.compile(r"^([A-Za-z][A-Za-z0-9-]{0,63}):[ \t]*(.*?)[ \t]*$")
# product and network as 0.1.0 wrote them: {product}_{network}://host:port
_LOCATION = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]{0,128})://[ ]*([^\s:/]{1,253}):(\d{1,5})$")


@dataclass(frozen=True)
class LegacyResponse:
    """
    A 0.1.0 node's answer to a search.

    @ivar scheme: C{{product}_{network}} as its LOCATION says (compare with
        L{matches}: an underscore may belong to either part).
    @ivar location_host: the host its LOCATION names (often the 127.x of its
        hostname: the address the datagram came from is the one to use).
    """

    scheme: str
    location_host: str
    port: int
    max_age: int | None

    def matches(self, product: str, network: str) -> bool:
        """Whether it is a node of C{product} on C{network} (case-insensitively, as 0.1.0)."""
        return self.scheme.lower() == f"{product}_{network}".lower()


def legacy_header(product: str, network: str, ip: str, port: int) -> tuple[str, str]:
    """The header that makes a 0.1.0 client of C{product}/C{network} find us at C{ip}:C{port}."""
    return (LEGACY_HEADER, f"{product}_{network}://{ip}:{port}")


def decode_legacy(datagram: bytes) -> LegacyResponse:
    """
    The 0.1.0 answer in C{datagram}.

    @raise LegacyMessageError: it is not one (too large, not ASCII, another
        status, a line that is not a header, no or a bad LOCATION).
    """
    if len(datagram) > MAX_DATAGRAM_SIZE:
        raise LegacyMessageError(f"{len(datagram)} bytes")
    try:
        text = datagram.decode("ascii")
    except UnicodeDecodeError:
        raise LegacyMessageError("not ASCII") from None
    lines = [line.strip(" \t") for line in text.replace("\r\n", "\n").split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    if len(lines) > MAX_LEGACY_LINES:
        raise LegacyMessageError(f"{len(lines)} lines")
    if not lines or lines[0] != _STATUS:
        raise LegacyMessageError("not an HTTP/1.1 200 OK")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if len(line) > MAX_LINE_LENGTH:
            raise LegacyMessageError("line too long")
        match = _HEADER.match(line)
        if match is None:
            raise LegacyMessageError(f"not a header: {line[:40]!r}")
        name = match[1].upper()
        if name in headers:
            raise LegacyMessageError(f"{name} twice")
        headers[name] = match[2]
    location = headers.get("LOCATION")
    if location is None:
        raise LegacyMessageError("no LOCATION")
    where = _LOCATION.match(location)
    if where is None or "_" not in where[1]:
        raise LegacyMessageError(f"LOCATION {location[:60]!r} is not product_network://host:port")
    try:
        port = bounded_int(where[3], 1, 65535)
    except ValueError:
        raise LegacyMessageError(f"port {where[3]!r}") from None
    return LegacyResponse(
        scheme=where[1], location_host=where[2], port=port, max_age=_max_age(headers)
    )


def _max_age(headers: dict[str, str]) -> int | None:
    value = headers.get("CACHE-CONTROL", "")
    name, _, number = value.partition("=")
    if name.strip().lower() != "max-age":
        return None
    try:
        return bounded_int(number.strip(), 0, 10**9)
    except ValueError:
        return None
