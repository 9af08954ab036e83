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
    What the line parser read of a datagram: its start line, C{headers}
    (lower-cased names to values) and C{order} ((name, value) as sent).
    """

    __slots__ = ("start", "headers", "order")

    def __init__(self, start: str) -> None:
        self.start = start
        self.headers: dict[str, str] = {}
        self.order: list[tuple[str, str]] = []


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


def _check_usn(usn: str) -> str:
    """C{usn}, if L{split_usn} takes it (at once for the usual C{uuid:} and a letter or digit)."""
    if not (usn[:5] == "uuid:" and usn[5:6].isalnum()):
        split_usn(usn)
    return usn


def _lines(data: bytes) -> Iterator[str]:
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


def _learn_name(name: str) -> str | None:
    """C{name} (not in L{_KNOWN_NAMES}) lower-cased and kept if it is a token, else None."""
    if not _TOKEN.match(name):
        return None
    key = name.lower()
    if len(_KNOWN_NAMES) < _MAX_KNOWN_NAMES:
        _KNOWN_NAMES[name] = key
    return key


def _parse_lines(data: bytes) -> _Parsed:
    """
    The start line and headers of C{data}, line by line.

    @raise MessageTooLarge: over a limit.
    @raise MalformedMessage: not a start line and well-formed headers.
    """
    if len(data) > MAX_DATAGRAM_SIZE:
        raise MessageTooLarge(f"datagram of {len(data)} bytes (limit {MAX_DATAGRAM_SIZE})")
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


def _required(headers: dict[str, str], kind: str, name: str) -> str:
    value = headers.get(name.lower())
    if value is None:
        raise MissingHeader(kind, name)
    if not value:
        raise InvalidHeader(name, value, "empty")
    return value


def _bounded_int(name: str, value: str, low: int, high: int) -> int:
    try:
        return bounded_int(value, low, high)
    except ValueError as e:
        raise InvalidHeader(name, value, str(e)) from None


def _number(name: str, value: str, high: int) -> int:
    """C{value} as a whole number in 0..C{high} (L{bounded_int}'s rule, in one call)."""
    if value.isdigit() and len(value) <= 10 and value.isascii():
        number = int(value)
        if number <= high:
            return number
    return _bounded_int(name, value, 0, high)  # raises the precise error


def parse_max_age(value: str) -> int:
    """
    The max-age of a CACHE-CONTROL value such as C{"max-age=1800"} or
    C{"no-cache, max-age = 60"}.

    @raise InvalidHeader: if there is no usable max-age directive.
    """
    digits = value[8:]
    if value[:8].lower() == "max-age=" and digits.isdigit() and len(digits) <= 9:
        # the plain form every stack sends, which the expression below takes too;
        # nine digits are always under MAX_BOOT_ID
        if digits.isascii():
            return int(digits)
    match = _MAX_AGE.search(value)
    if match is None:
        raise InvalidHeader("CACHE-CONTROL", value, "no max-age directive")
    return _bounded_int("CACHE-CONTROL", match.group(1), 0, MAX_BOOT_ID)


_COMMON = ("host", "bootid.upnp.org", "configid.upnp.org", "server", "cache-control")
_SEARCH_HEADERS = frozenset(("host", "man", "st", "mx"))
_NOTIFY_HEADERS = frozenset(_COMMON + ("nt", "nts", "usn", "location", "nextbootid.upnp.org"))
_RESPONSE_HEADERS = frozenset(_COMMON + ("st", "usn", "location", "date", "ext"))
_NTS = {nts.value: nts for nts in NTS}
#: MX values as sent (UDA: 1 to 5; some stacks send up to 120), to their number.
_SMALL_NUMBERS = {str(n): n for n in range(256)}


TYPE_CHECKING = False  # (typing itself is not imported: this module loads early)
if TYPE_CHECKING:
    _Decoder = Callable[[dict[str, str], Headers], Message]


# A decoder builds its frozen message as C{cls(**fields)} would, already
# checked, without the dataclass's C{__init__}, which sets each field through
# C{object.__setattr__} (1 us of a 7 us decode here): C{_new(cls)}, then each
# field stored in its C{__dict__}, in their order. (Storing them one by one
# into the instance's own dict is ~0.1 us faster than setting its C{__dict__}
# to a dict built first.) The message classes have no C{__post_init__}; a test
# holds each decoded message equal to C{cls(**fields)}, field for field.
_new = object.__new__


# Each decoder takes the headers (lower-cased names to values) and the ones its
# message does not model, in order. Each "headers.get(...) or _required(...)"
# takes a present, non-empty value at once.


def _decode_search(headers: dict[str, str], extra: Headers) -> SearchRequest:
    kind = "M-SEARCH"
    host = headers.get("host") or _required(headers, kind, "HOST")
    man = headers.get("man") or _required(headers, kind, "MAN")
    if man != SSDP_DISCOVER and man.strip() != SSDP_DISCOVER:
        raise InvalidHeader("MAN", man, f"must be {SSDP_DISCOVER}")
    st = headers.get("st") or _required(headers, kind, "ST")
    mx_value = headers.get("mx")
    mx = None
    if mx_value is not None:
        mx = _SMALL_NUMBERS.get(mx_value) or _number("MX", mx_value, 2**31 - 1)
    message = _new(SearchRequest)
    fields = message.__dict__
    fields["st"] = st
    fields["mx"] = mx
    fields["host"] = host
    fields["man"] = man
    fields["extra"] = extra
    return message


def _decode_notify(headers: dict[str, str], extra: Headers) -> Notify:
    kind = "NOTIFY"
    host = headers.get("host") or _required(headers, kind, "HOST")
    nt = headers.get("nt") or _required(headers, kind, "NT")
    nts_value = headers.get("nts") or _required(headers, kind, "NTS")
    nts = _NTS.get(nts_value) or _NTS.get(nts_value.strip().lower())
    if nts is None:
        raise InvalidHeader("NTS", nts_value, "not ssdp:alive, ssdp:byebye or ssdp:update")
    usn = _check_usn(headers.get("usn") or _required(headers, kind, "USN"))
    location = None
    max_age = None
    next_boot_id = None
    if nts is not NTS.BYEBYE:
        location = headers.get("location") or _required(headers, f"{kind} {nts.value}", "LOCATION")
    if nts is NTS.ALIVE:
        cache_control = headers.get("cache-control")
        max_age = DEFAULT_MAX_AGE if cache_control is None else parse_max_age(cache_control)
    if nts is NTS.UPDATE and (next_boot := headers.get("nextbootid.upnp.org")) is not None:
        next_boot_id = _number("NEXTBOOTID.UPNP.ORG", next_boot, MAX_BOOT_ID)
    boot_id = headers.get("bootid.upnp.org")
    config_id = headers.get("configid.upnp.org")
    message = _new(Notify)
    fields = message.__dict__
    fields["nts"] = nts
    fields["nt"] = nt
    fields["usn"] = usn
    fields["location"] = location
    fields["max_age"] = max_age
    fields["server"] = headers.get("server")
    fields["boot_id"] = (
        None if boot_id is None else _number("BOOTID.UPNP.ORG", boot_id, MAX_BOOT_ID)
    )
    fields["config_id"] = (
        None if config_id is None else _number("CONFIGID.UPNP.ORG", config_id, MAX_CONFIG_ID)
    )
    fields["next_boot_id"] = next_boot_id
    fields["host"] = host
    fields["extra"] = extra
    return message


def _decode_response(headers: dict[str, str], extra: Headers) -> SearchResponse:
    kind = "search response"
    st = headers.get("st") or _required(headers, kind, "ST")
    usn = _check_usn(headers.get("usn") or _required(headers, kind, "USN"))
    location = headers.get("location") or _required(headers, kind, "LOCATION")
    cache_control = headers.get("cache-control")
    boot_id = headers.get("bootid.upnp.org")
    config_id = headers.get("configid.upnp.org")
    message = _new(SearchResponse)
    fields = message.__dict__
    fields["st"] = st
    fields["usn"] = usn
    fields["location"] = location
    fields["max_age"] = DEFAULT_MAX_AGE if cache_control is None else parse_max_age(cache_control)
    fields["server"] = headers.get("server")
    fields["boot_id"] = (
        None if boot_id is None else _number("BOOTID.UPNP.ORG", boot_id, MAX_BOOT_ID)
    )
    fields["config_id"] = (
        None if config_id is None else _number("CONFIGID.UPNP.ORG", config_id, MAX_CONFIG_ID)
    )
    fields["date"] = headers.get("date")
    fields["extra"] = extra
    return message


#: The start lines nearly every message has, each to its decoder and the headers
#: that decoder models: the general rule of L{_kind} gives the same for them.
_COMMON_STARTS: dict[str, tuple[_Decoder, frozenset[str]]] = {
    "M-SEARCH * HTTP/1.1": (_decode_search, _SEARCH_HEADERS),
    "NOTIFY * HTTP/1.1": (_decode_notify, _NOTIFY_HEADERS),
    "HTTP/1.1 200 OK": (_decode_response, _RESPONSE_HEADERS),
}


def _kind(start: str) -> tuple[_Decoder, frozenset[str]]:
    """
    The decoder of a message with the start line C{start}, and the headers it models.

    @raise UnsupportedMessage: a request or status SSDP does not use.
    @raise MalformedMessage: not a request or status line.
    """
    common = _COMMON_STARTS.get(start)
    if common is not None:
        return common
    parts = start.split(" ")
    if len(parts) == 3 and parts[1] == "*" and parts[2] in ("HTTP/1.1", "HTTP/1.0"):
        method = parts[0]
        if method == "M-SEARCH":
            return _decode_search, _SEARCH_HEADERS
        if method == "NOTIFY":
            return _decode_notify, _NOTIFY_HEADERS
        if _TOKEN.match(method):
            raise UnsupportedMessage(f"method {method[:40]!r}")
    elif len(parts) >= 2 and parts[0] in ("HTTP/1.1", "HTTP/1.0"):
        if parts[1] == "200":
            return _decode_response, _RESPONSE_HEADERS
        if parts[1].isdigit():
            raise UnsupportedMessage(f"status {parts[1][:10]}")
    raise MalformedMessage(f"bad start line {start[:80]!r}")


def _decode_lines(data: bytes) -> Message:
    """L{decode} line by line: it takes every datagram and gives the precise error."""
    parsed = _parse_lines(data)
    decoder, modelled = _kind(parsed.start)
    extra = tuple([pair for pair in parsed.order if pair[0].lower() not in modelled])
    return decoder(parsed.headers, extra)


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
    # The common case is read here; anything else, good or bad, is left to
    # _decode_lines, which gives the precise error. This takes only one of the
    # _COMMON_STARTS, then printable ASCII lines ending CRLF, a blank line after
    # the headers, within every limit, no TAB, no duplicate: then what it gives
    # (a message or an error) is what _decode_lines gives (a property test holds
    # them to it). A line seen before was checked then (_SEEN_LINES).
    if data[-4:] == b"\r\n\r\n":
        # (an earlier blank line would be an empty header line below: left to _decode_lines)
        end = len(data) - 4
    else:
        end = data.find(b"\r\n\r\n")
        if end < 0 or not data.isascii():
            return _decode_lines(data)
    if end == 0 or len(data) > MAX_DATAGRAM_SIZE:
        return _decode_lines(data)
    lines = data[:end].decode("latin-1").split("\r\n")
    count = len(lines) - 1
    kind = _COMMON_STARTS.get(lines[0])
    if (
        kind is None
        or count > MAX_HEADERS
        or (end > MAX_LINE_LENGTH and max(map(len, lines)) > MAX_LINE_LENGTH)
    ):
        return _decode_lines(data)
    decoder, modelled = kind
    headers = {}
    extra: list[tuple[str, str]] | None = None
    seen = _SEEN_LINES
    del lines[0]
    for line in lines:
        # a line seen before is taken whole; another is split, checked and kept
        pair = seen.get(line)
        if pair is None:
            if not line.isprintable():  # (ASCII or not, a control character is refused)
                return _decode_lines(data)
            name, colon, value = line.partition(":")
            key = (_KNOWN_NAMES.get(name) or _learn_name(name)) if colon else None
            if key is None or not line.isascii():
                return _decode_lines(data)
            value = value.strip()
            if len(line) <= _MAX_SEEN_LENGTH:
                if len(seen) >= _MAX_SEEN_LINES:
                    seen.clear()
                seen[line] = key, value
        else:
            key, value = pair
        headers[key] = value
        if key not in modelled:
            if extra is None:
                extra = []
            extra.append((line[: len(key)], value))
    if len(headers) < count:
        return _decode_lines(data)
    return decoder(headers, () if extra is None else tuple(extra))


#: Header lines seen in a common-case datagram, to their lower-cased name and
#: their value: most lines of a LAN's datagrams repeat (HOST, MAN, NTS, SERVER,
#: CACHE-CONTROL), and a line is split and checked once. Lines over
#: L{_MAX_SEEN_LENGTH} are not kept, and the cache is emptied when it holds
#: L{_MAX_SEEN_LINES}, so it keeps what recent traffic repeats within a bound.
_SEEN_LINES: dict[str, tuple[str, str]] = {}
_MAX_SEEN_LINES = 1024
_MAX_SEEN_LENGTH = 160


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
