"""
The SSDP wire format: parse and build M-SEARCH, NOTIFY and search responses.

Pure code: no reactor, no sockets, no clock. L{decode} turns any bytes into
one of L{SearchRequest}, L{Notify} or L{SearchResponse}, or raises a
L{ssdp_upnp.errors.MessageError}; L{encode} turns one of them back into bytes.
Header names are case-insensitive; headers the types do not model are kept,
in order, in C{extra}.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from ._bounded import bounded_int
from .errors import (
    InvalidHeader,
    MalformedMessage,
    MessageTooLarge,
    MissingHeader,
    UnsupportedMessage,
)

SSDP_GROUP = "239.255.255.250"
SSDP_PORT = 1900
SSDP_HOST = f"{SSDP_GROUP}:{SSDP_PORT}"
#: The IPv6 groups: link-local (every LAN) and site-local scope.
SSDP_GROUP6 = "ff02::c"
SSDP_SITE_GROUP6 = "ff05::c"
SSDP_HOST6 = f"[FF02::C]:{SSDP_PORT}"
SSDP_SITE_HOST6 = f"[FF05::C]:{SSDP_PORT}"
_GROUP_HOSTS = frozenset(h.lower() for h in (SSDP_HOST, SSDP_HOST6, SSDP_SITE_HOST6))
SSDP_DISCOVER = '"ssdp:discover"'

#: Hard limits. A datagram over MAX_DATAGRAM_SIZE is refused before any
#: parsing; SSDP messages are a few hundred bytes.
MAX_DATAGRAM_SIZE = 4096
MAX_HEADERS = 32
MAX_LINE_LENGTH = 512
#: The default lifetime of an advertisement that carries no max-age.
DEFAULT_MAX_AGE = 1800
#: BOOTID.UPNP.ORG and CONFIGID.UPNP.ORG ranges (UDA 1.1, 1.2 and 1.3).
MAX_BOOT_ID = 2**31 - 1
MAX_CONFIG_ID = 2**24 - 1

Headers = tuple[tuple[str, str], ...]

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
#: control characters other than TAB: never allowed in a header value (CR/LF injection)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d{1,10})\"?\s*(?:,|$)", re.IGNORECASE)


class NTS(enum.Enum):
    """The notification sub-type of a NOTIFY."""

    ALIVE = "ssdp:alive"
    BYEBYE = "ssdp:byebye"
    UPDATE = "ssdp:update"


@dataclass(frozen=True)
class SearchRequest:
    """An M-SEARCH. C{mx} is None when absent (a unicast search)."""

    st: str
    mx: int | None = 2
    host: str = SSDP_HOST
    man: str = SSDP_DISCOVER
    extra: Headers = ()

    @property
    def is_multicast(self) -> bool:
        """True if HOST names an SSDP multicast group (the only way to tell without PKTINFO)."""
        return self.host.strip().lower() in _GROUP_HOSTS


@dataclass(frozen=True)
class Notify:
    """A NOTIFY ssdp:alive, ssdp:byebye or ssdp:update."""

    nts: NTS
    nt: str
    usn: str
    location: str | None = None
    max_age: int | None = None
    server: str | None = None
    boot_id: int | None = None
    config_id: int | None = None
    next_boot_id: int | None = None
    host: str = SSDP_HOST
    extra: Headers = ()


@dataclass(frozen=True)
class SearchResponse:
    """The unicast answer to an M-SEARCH."""

    st: str
    usn: str
    location: str
    max_age: int = DEFAULT_MAX_AGE
    server: str | None = None
    boot_id: int | None = None
    config_id: int | None = None
    date: str | None = None
    extra: Headers = ()


Message = SearchRequest | Notify | SearchResponse


@dataclass(frozen=True)
class _Parsed:
    start: str
    headers: dict[str, str] = field(default_factory=dict)
    order: list[tuple[str, str]] = field(default_factory=list)


def header(headers: Headers, name: str) -> str | None:
    """The value of the first header called C{name} (any case) in C{headers}, or None."""
    wanted = name.lower()
    for key, value in headers:
        if key.lower() == wanted:
            return value
    return None


def split_usn(usn: str) -> tuple[str, str | None]:
    """
    Split a USN into its uuid and the notification type after C{::}.

    C{"uuid:X::upnp:rootdevice"} gives C{("X", "upnp:rootdevice")};
    C{"uuid:X"} gives C{("X", None)}.

    @raise InvalidHeader: if the USN does not start with C{uuid:}.
    """
    if not usn[:5].lower() == "uuid:":
        raise InvalidHeader("USN", usn, "does not start with uuid:")
    rest = usn[5:]
    uuid, sep, nt = rest.partition("::")
    uuid = uuid.strip()
    if not uuid:
        raise InvalidHeader("USN", usn, "empty uuid")
    return uuid.lower(), (nt if sep else None)


def _lines(data: bytes) -> Iterator[str]:
    if len(data) > MAX_DATAGRAM_SIZE:
        raise MessageTooLarge(f"datagram of {len(data)} bytes (limit {MAX_DATAGRAM_SIZE})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise MalformedMessage(f"not UTF-8 at byte {e.start}") from None
    head, sep, _ = text.partition("\r\n\r\n")
    if not sep:
        # be lenient with stacks that end lines with a bare LF
        head = head.partition("\n\n")[0]
    for line in head.split("\n"):
        line = line.removesuffix("\r")
        if len(line) > MAX_LINE_LENGTH:
            raise MessageTooLarge(f"line of {len(line)} characters (limit {MAX_LINE_LENGTH})")
        yield line


def _parse(data: bytes) -> _Parsed:
    lines = _lines(data)
    start = next(lines, "")
    if not start:
        raise MalformedMessage("empty datagram")
    parsed = _Parsed(start)
    for line in lines:
        if not line:
            break
        if len(parsed.order) >= MAX_HEADERS:
            raise MessageTooLarge(f"more than {MAX_HEADERS} headers")
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.match(name):
            raise MalformedMessage(f"bad header line {line[:80]!r}")
        value = value.strip()
        if _CONTROL.search(value):
            raise MalformedMessage(f"control character in header {name}")
        key = name.lower()
        if key in parsed.headers:
            raise MalformedMessage(f"duplicate header {name}")
        parsed.headers[key] = value
        parsed.order.append((name, value))
    return parsed


def _required(parsed: _Parsed, kind: str, name: str) -> str:
    value = parsed.headers.get(name.lower())
    if value is None:
        raise MissingHeader(kind, name)
    if not value:
        raise InvalidHeader(name, value, "empty")
    return value


def _optional_int(parsed: _Parsed, name: str, low: int, high: int) -> int | None:
    value = parsed.headers.get(name.lower())
    if value is None:
        return None
    return _bounded_int(name, value, low, high)


def _bounded_int(name: str, value: str, low: int, high: int) -> int:
    try:
        return bounded_int(value, low, high)
    except ValueError as e:
        raise InvalidHeader(name, value, str(e)) from None


def parse_max_age(value: str) -> int:
    """
    The max-age of a CACHE-CONTROL value such as C{"max-age=1800"} or
    C{"no-cache, max-age = 60"}.

    @raise InvalidHeader: if there is no usable max-age directive.
    """
    match = _MAX_AGE.search(value)
    if match is None:
        raise InvalidHeader("CACHE-CONTROL", value, "no max-age directive")
    return _bounded_int("CACHE-CONTROL", match.group(1), 0, MAX_BOOT_ID)


def _max_age(parsed: _Parsed, default: int | None) -> int | None:
    value = parsed.headers.get("cache-control")
    if value is None:
        return default
    return parse_max_age(value)


def _extra(parsed: _Parsed, modelled: Iterable[str]) -> Headers:
    known = {name.lower() for name in modelled}
    return tuple((k, v) for k, v in parsed.order if k.lower() not in known)


_COMMON = ("HOST", "BOOTID.UPNP.ORG", "CONFIGID.UPNP.ORG", "SERVER", "CACHE-CONTROL")


def _decode_search(parsed: _Parsed) -> SearchRequest:
    kind = "M-SEARCH"
    host = _required(parsed, kind, "HOST")
    man = _required(parsed, kind, "MAN")
    if man.strip() != SSDP_DISCOVER:
        raise InvalidHeader("MAN", man, f"must be {SSDP_DISCOVER}")
    st = _required(parsed, kind, "ST")
    mx = _optional_int(parsed, "MX", 0, 2**31 - 1)
    return SearchRequest(
        st=st, mx=mx, host=host, man=man, extra=_extra(parsed, ("HOST", "MAN", "ST", "MX"))
    )


def _decode_notify(parsed: _Parsed) -> Notify:
    kind = "NOTIFY"
    host = _required(parsed, kind, "HOST")
    nt = _required(parsed, kind, "NT")
    nts_value = _required(parsed, kind, "NTS")
    try:
        nts = NTS(nts_value.strip().lower())
    except ValueError:
        raise InvalidHeader(
            "NTS", nts_value, "not ssdp:alive, ssdp:byebye or ssdp:update"
        ) from None
    usn = _required(parsed, kind, "USN")
    split_usn(usn)
    location = None
    max_age = None
    next_boot_id = None
    if nts is not NTS.BYEBYE:
        location = _required(parsed, f"{kind} {nts.value}", "LOCATION")
    if nts is NTS.ALIVE:
        max_age = _max_age(parsed, DEFAULT_MAX_AGE)
    if nts is NTS.UPDATE:
        next_boot_id = _optional_int(parsed, "NEXTBOOTID.UPNP.ORG", 0, MAX_BOOT_ID)
    return Notify(
        nts=nts,
        nt=nt,
        usn=usn,
        location=location,
        max_age=max_age,
        server=parsed.headers.get("server"),
        boot_id=_optional_int(parsed, "BOOTID.UPNP.ORG", 0, MAX_BOOT_ID),
        config_id=_optional_int(parsed, "CONFIGID.UPNP.ORG", 0, MAX_CONFIG_ID),
        next_boot_id=next_boot_id,
        host=host,
        extra=_extra(parsed, _COMMON + ("NT", "NTS", "USN", "LOCATION", "NEXTBOOTID.UPNP.ORG")),
    )


def _decode_response(parsed: _Parsed) -> SearchResponse:
    kind = "search response"
    st = _required(parsed, kind, "ST")
    usn = _required(parsed, kind, "USN")
    split_usn(usn)
    location = _required(parsed, kind, "LOCATION")
    max_age = _max_age(parsed, DEFAULT_MAX_AGE)
    assert max_age is not None
    return SearchResponse(
        st=st,
        usn=usn,
        location=location,
        max_age=max_age,
        server=parsed.headers.get("server"),
        boot_id=_optional_int(parsed, "BOOTID.UPNP.ORG", 0, MAX_BOOT_ID),
        config_id=_optional_int(parsed, "CONFIGID.UPNP.ORG", 0, MAX_CONFIG_ID),
        date=parsed.headers.get("date"),
        extra=_extra(parsed, _COMMON + ("ST", "USN", "LOCATION", "DATE", "EXT")),
    )


def decode(data: bytes) -> Message:
    """
    Parse one SSDP datagram.

    @return: a L{SearchRequest}, L{Notify} or L{SearchResponse}.
    @raise MessageTooLarge: over a hard limit (size, line length, header count).
    @raise MalformedMessage: not a well-formed message.
    @raise UnsupportedMessage: a well-formed message that SSDP does not use.
    @raise MissingHeader: a required header is absent.
    @raise InvalidHeader: a header value is not acceptable.
    """
    parsed = _parse(data)
    parts = parsed.start.split(" ")
    if len(parts) == 3 and parts[1] == "*" and parts[2] in ("HTTP/1.1", "HTTP/1.0"):
        method = parts[0]
        if method == "M-SEARCH":
            return _decode_search(parsed)
        if method == "NOTIFY":
            return _decode_notify(parsed)
        if _TOKEN.match(method):
            raise UnsupportedMessage(f"method {method[:40]!r}")
    elif len(parts) >= 2 and parts[0] in ("HTTP/1.1", "HTTP/1.0"):
        if parts[1] == "200":
            return _decode_response(parsed)
        if parts[1].isdigit():
            raise UnsupportedMessage(f"status {parts[1][:10]}")
    raise MalformedMessage(f"bad start line {parsed.start[:80]!r}")


def _check_value(name: str, value: str) -> str:
    if _CONTROL.search(value):
        raise InvalidHeader(name, value, "control character")
    return value


def _render(start: str, headers: Iterable[tuple[str, str | int | None]]) -> bytes:
    lines = [start]
    for name, value in headers:
        if value is None:
            continue
        if not _TOKEN.match(name):
            raise InvalidHeader(name, str(value), "bad header name")
        lines.append(f"{name}: {_check_value(name, str(value))}".rstrip(" "))
    for line in lines:
        if len(line) > MAX_LINE_LENGTH:
            raise MessageTooLarge(f"line of {len(line)} characters (limit {MAX_LINE_LENGTH})")
    if len(lines) - 1 > MAX_HEADERS:
        raise MessageTooLarge(f"more than {MAX_HEADERS} headers")
    data = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    if len(data) > MAX_DATAGRAM_SIZE:
        raise MessageTooLarge(f"message of {len(data)} bytes (limit {MAX_DATAGRAM_SIZE})")
    return data


def _cache_control(max_age: int | None) -> str | None:
    return None if max_age is None else f"max-age={max_age}"


def encode(message: Message) -> bytes:
    """
    Serialize a message to one datagram.

    @raise MessageTooLarge: the result would not fit the hard limits.
    @raise InvalidHeader: a value holds a control character (CR/LF injection).
    """
    headers: list[tuple[str, str | int | None]]
    if isinstance(message, SearchRequest):
        headers = [
            ("HOST", message.host),
            ("MAN", message.man),
            ("MX", message.mx),
            ("ST", message.st),
        ]
        start = "M-SEARCH * HTTP/1.1"
    elif isinstance(message, Notify):
        headers = [
            ("HOST", message.host),
            ("CACHE-CONTROL", _cache_control(message.max_age)),
            ("LOCATION", message.location),
            ("NT", message.nt),
            ("NTS", message.nts.value),
            ("SERVER", message.server),
            ("USN", message.usn),
            ("BOOTID.UPNP.ORG", message.boot_id),
            ("CONFIGID.UPNP.ORG", message.config_id),
            ("NEXTBOOTID.UPNP.ORG", message.next_boot_id),
        ]
        start = "NOTIFY * HTTP/1.1"
    else:
        headers = [
            ("CACHE-CONTROL", _cache_control(message.max_age)),
            ("DATE", message.date),
            ("EXT", ""),
            ("LOCATION", message.location),
            ("SERVER", message.server),
            ("ST", message.st),
            ("USN", message.usn),
            ("BOOTID.UPNP.ORG", message.boot_id),
            ("CONFIGID.UPNP.ORG", message.config_id),
        ]
        start = "HTTP/1.1 200 OK"
    headers.extend(message.extra)
    return _render(start, headers)
