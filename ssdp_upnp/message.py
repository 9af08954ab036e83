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
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

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


class _Parsed:
    """
    A datagram's start line and headers: C{headers} maps lower-cased names to
    values; C{order} lists (name, value) as sent: the line parser gives it, and
    for the common-case parser it is made from C{lines}, the header lines,
    only when asked for.
    """

    __slots__ = ("start", "headers", "_order", "_lines")

    def __init__(
        self,
        start: str,
        headers: dict[str, str],
        order: list[tuple[str, str]] | None = None,
        lines: list[str] | None = None,
    ) -> None:
        self.start = start
        self.headers = headers
        self._order = order
        self._lines = lines

    @property
    def order(self) -> list[tuple[str, str]]:
        if self._order is None:
            assert self._lines is not None
            pairs = zip(self._lines, self.headers.items(), strict=True)
            self._order = [(_name(line, key), value) for line, (key, value) in pairs]
        return self._order


def _name(line: str, key: str) -> str:
    """
    The name as sent of the header stored under C{key} from the common-case
    parser's C{line}: its first len(key) characters (the headers were stored
    in the order of the lines, with no duplicate).
    """
    return line[: len(key)]


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


#: Header names already known to be tokens, to their lower case: the fast parser's
#: check and lower-casing in one lookup. Bounded, so odd names cannot grow it.
_KNOWN_NAMES: dict[str, str] = {}
_MAX_KNOWN_NAMES = 512


#: Bytes of a head that are not printable ASCII: in the common case, only the CRs
#: and LFs of the CRLFs that end its lines.
_CRLF_OR_NOT_PRINTABLE_ASCII = bytes(i for i in range(256) if i < 0x20 or i >= 0x7F)


def _learn_name(name: str) -> str | None:
    """C{name} (not in L{_KNOWN_NAMES}) lower-cased and kept if it is a token, else None."""
    if not _TOKEN.match(name):
        return None
    key = name.lower()
    if len(_KNOWN_NAMES) < _MAX_KNOWN_NAMES:
        _KNOWN_NAMES[name] = key
    return key


def _parse(data: bytes) -> _Parsed:
    """
    The start line and headers of C{data}.

    @raise MessageTooLarge: over a limit.
    @raise MalformedMessage: not a start line and well-formed headers.
    """
    if len(data) > MAX_DATAGRAM_SIZE:
        raise MessageTooLarge(f"datagram of {len(data)} bytes (limit {MAX_DATAGRAM_SIZE})")
    return _parse_common(data) or _parse_lines(data)


def _parse_common(data: bytes) -> _Parsed | None:
    """
    The common case of L{_parse}, or None for anything else.

    It takes only printable ASCII lines ending CRLF, a blank line after the
    headers, within every limit, no TAB, no duplicate: then each check is done
    once over the whole head, and the result is the one L{_parse_lines} gives.
    Anything else, good or bad, is left to L{_parse_lines}, which gives the
    precise error.
    """
    end = data.find(b"\r\n\r\n")
    if end <= 0 or (len(data) > end + 4 and not data.isascii()):
        return None
    head = data[:end]
    # every byte that is not printable ASCII must be one of the CRLFs that end the lines
    unprintable = end - len(head.translate(None, _CRLF_OR_NOT_PRINTABLE_ASCII))
    lines = head.decode("latin-1").split("\r\n")
    count = len(lines) - 1
    if (
        unprintable != 2 * count
        or not lines[0]
        or count > MAX_HEADERS
        or (end > MAX_LINE_LENGTH and max(map(len, lines)) > MAX_LINE_LENGTH)
    ):
        return None
    start = lines.pop(0)
    headers = {}
    known = _KNOWN_NAMES
    for line in lines:
        name, colon, value = line.partition(":")
        key = (known.get(name) or _learn_name(name)) if colon else None
        if key is None:
            return None
        headers[key] = value.strip()
    if len(headers) < count:
        return None
    return _Parsed(start, headers, lines=lines)


def _parse_lines(data: bytes) -> _Parsed:
    lines = _lines(data)
    start = next(lines, "")
    if not start:
        raise MalformedMessage("empty datagram")
    parsed = _Parsed(start, {}, [])
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
    digits = value[8:]
    if value[:8].lower() == "max-age=" and 0 < len(digits) <= 10 and digits.isdecimal():
        # the plain form every stack sends, which the expression below takes too
        return _bounded_int("CACHE-CONTROL", digits, 0, MAX_BOOT_ID)
    match = _MAX_AGE.search(value)
    if match is None:
        raise InvalidHeader("CACHE-CONTROL", value, "no max-age directive")
    return _bounded_int("CACHE-CONTROL", match.group(1), 0, MAX_BOOT_ID)


def _max_age(parsed: _Parsed, default: int | None) -> int | None:
    value = parsed.headers.get("cache-control")
    if value is None:
        return default
    return parse_max_age(value)


def _extra(parsed: _Parsed, modelled: frozenset[str]) -> Headers:
    """The headers, in order, whose lower-cased names are not in C{modelled}."""
    headers = parsed.headers
    if headers.keys() <= modelled:
        return ()
    lines = parsed._lines
    if lines is None:  # the line parser's: (name, value) in order
        return tuple([pair for pair in parsed.order if pair[0].lower() not in modelled])
    pairs = zip(lines, headers.items(), strict=True)
    return tuple([(_name(line, key), value) for line, (key, value) in pairs if key not in modelled])


_COMMON = ("host", "bootid.upnp.org", "configid.upnp.org", "server", "cache-control")
_SEARCH_HEADERS = frozenset(("host", "man", "st", "mx"))
_NOTIFY_HEADERS = frozenset(_COMMON + ("nt", "nts", "usn", "location", "nextbootid.upnp.org"))
_RESPONSE_HEADERS = frozenset(_COMMON + ("st", "usn", "location", "date", "ext"))
_NTS = {nts.value: nts for nts in NTS}


TYPE_CHECKING = False  # (typing itself is not imported: this module loads early)
if TYPE_CHECKING:
    from typing import Any, TypeVar

    _M = TypeVar("_M", SearchRequest, Notify, SearchResponse)


def _built(cls: type[_M], fields: dict[str, Any]) -> _M:
    """
    C{cls(**fields)} for a decoder that gives every field of C{cls}, already
    checked: a frozen dataclass's C{__init__} sets each field through
    C{object.__setattr__}, 1 us of a 7 us decode here. The message classes
    have no C{__post_init__}; a test holds the result equal to C{cls(**fields)}.
    """
    message = object.__new__(cls)
    object.__setattr__(message, "__dict__", fields)
    return message


def _decode_search(parsed: _Parsed) -> SearchRequest:
    # each "headers.get(...) or _required(...)" takes a present, non-empty value at once
    kind = "M-SEARCH"
    headers = parsed.headers
    host = headers.get("host") or _required(parsed, kind, "HOST")
    man = headers.get("man") or _required(parsed, kind, "MAN")
    if man != SSDP_DISCOVER and man.strip() != SSDP_DISCOVER:
        raise InvalidHeader("MAN", man, f"must be {SSDP_DISCOVER}")
    st = headers.get("st") or _required(parsed, kind, "ST")
    mx = headers.get("mx")
    return _built(SearchRequest, {
        "st": st,
        "mx": None if mx is None else _bounded_int("MX", mx, 0, 2**31 - 1),
        "host": host,
        "man": man,
        "extra": _extra(parsed, _SEARCH_HEADERS),
    })  # fmt: skip


def _decode_notify(parsed: _Parsed) -> Notify:
    kind = "NOTIFY"
    headers = parsed.headers
    host = headers.get("host") or _required(parsed, kind, "HOST")
    nt = headers.get("nt") or _required(parsed, kind, "NT")
    nts_value = headers.get("nts") or _required(parsed, kind, "NTS")
    nts = _NTS.get(nts_value) or _NTS.get(nts_value.strip().lower())
    if nts is None:
        raise InvalidHeader("NTS", nts_value, "not ssdp:alive, ssdp:byebye or ssdp:update")
    usn = headers.get("usn") or _required(parsed, kind, "USN")
    split_usn(usn)
    location = None
    max_age = None
    next_boot_id = None
    if nts is not NTS.BYEBYE:
        location = headers.get("location") or _required(parsed, f"{kind} {nts.value}", "LOCATION")
    if nts is NTS.ALIVE:
        max_age = _max_age(parsed, DEFAULT_MAX_AGE)
    if nts is NTS.UPDATE:
        next_boot_id = _optional_int(parsed, "NEXTBOOTID.UPNP.ORG", 0, MAX_BOOT_ID)
    return _built(Notify, {
        "nts": nts,
        "nt": nt,
        "usn": usn,
        "location": location,
        "max_age": max_age,
        "server": headers.get("server"),
        "boot_id": _optional_int(parsed, "BOOTID.UPNP.ORG", 0, MAX_BOOT_ID),
        "config_id": _optional_int(parsed, "CONFIGID.UPNP.ORG", 0, MAX_CONFIG_ID),
        "next_boot_id": next_boot_id,
        "host": host,
        "extra": _extra(parsed, _NOTIFY_HEADERS),
    })  # fmt: skip


def _decode_response(parsed: _Parsed) -> SearchResponse:
    kind = "search response"
    headers = parsed.headers
    st = headers.get("st") or _required(parsed, kind, "ST")
    usn = headers.get("usn") or _required(parsed, kind, "USN")
    split_usn(usn)
    location = headers.get("location") or _required(parsed, kind, "LOCATION")
    max_age = _max_age(parsed, DEFAULT_MAX_AGE)
    assert max_age is not None
    return _built(SearchResponse, {
        "st": st,
        "usn": usn,
        "location": location,
        "max_age": max_age,
        "server": headers.get("server"),
        "boot_id": _optional_int(parsed, "BOOTID.UPNP.ORG", 0, MAX_BOOT_ID),
        "config_id": _optional_int(parsed, "CONFIGID.UPNP.ORG", 0, MAX_CONFIG_ID),
        "date": headers.get("date"),
        "extra": _extra(parsed, _RESPONSE_HEADERS),
    })  # fmt: skip


#: The start lines nearly every message has, each to the decoder the general
#: rule below would pick for it.
_COMMON_STARTS: dict[str, Callable[[_Parsed], Message]] = {
    "M-SEARCH * HTTP/1.1": _decode_search,
    "NOTIFY * HTTP/1.1": _decode_notify,
    "HTTP/1.1 200 OK": _decode_response,
}


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
    common = _COMMON_STARTS.get(parsed.start)
    if common is not None:
        return common(parsed)
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
