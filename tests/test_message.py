"""The SSDP wire format: parsing, building, limits, and any-bytes robustness."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from helpers import MINIUPNPD_RESPONSE
from ssdp_upnp import message as m
from ssdp_upnp.errors import (
    InvalidHeader,
    MalformedMessage,
    MessageError,
    MessageTooLarge,
    MissingHeader,
    UnsupportedMessage,
)

GSSDP_SEARCH = (
    b"M-SEARCH * HTTP/1.1\r\n"
    b"Host: 239.255.255.250:1900\r\n"
    b'Man: "ssdp:discover"\r\n'
    b"ST: upnp:rootdevice\r\n"
    b"MX: 3\r\n"
    b"User-Agent: GSSDP/1.6.2\r\n"
    b"\r\n"
)


def test_decode_search_any_header_case() -> None:
    search = m.decode(GSSDP_SEARCH)
    assert search == m.SearchRequest(
        st="upnp:rootdevice",
        mx=3,
        host="239.255.255.250:1900",
        man='"ssdp:discover"',
        extra=(("User-Agent", "GSSDP/1.6.2"),),
    )
    assert isinstance(search, m.SearchRequest) and search.is_multicast


def test_decode_unicast_search_has_no_mx() -> None:
    search = m.decode(
        b'M-SEARCH * HTTP/1.1\r\nHOST: 198.51.100.12:1900\r\nMAN: "ssdp:discover"\r\n'
        b"ST: ssdp:all\r\n\r\n"
    )
    assert isinstance(search, m.SearchRequest)
    assert search.mx is None and not search.is_multicast


def test_decode_router_response() -> None:
    response = m.decode(MINIUPNPD_RESPONSE)
    assert isinstance(response, m.SearchResponse)
    assert response.max_age == 120
    assert response.location == "http://198.51.100.1:5000/rootDesc.xml"
    assert response.boot_id == 1700000000 and response.config_id == 1337
    assert m.header(response.extra, "01-nls") == "1700000000"
    assert m.split_usn(response.usn) == (
        "3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b",
        "urn:schemas-upnp-org:device:InternetGatewayDevice:2",
    )


def test_bare_lf_and_missing_final_blank_line_are_accepted() -> None:
    data = GSSDP_SEARCH.replace(b"\r\n", b"\n").rstrip(b"\n")
    assert m.decode(data) == m.decode(GSSDP_SEARCH)


def test_notify_alive_byebye_update() -> None:
    alive = m.Notify(
        nts=m.NTS.ALIVE,
        nt="upnp:rootdevice",
        usn="uuid:abc::upnp:rootdevice",
        location="http://10.0.0.1:80/d.xml",
        max_age=1800,
        server="x UPnP/1.1 y",
        boot_id=7,
        config_id=1,
        extra=(("PORT.SSDP-UPNP.ORG", "8048"),),
    )
    assert m.decode(m.encode(alive)) == alive
    bye = m.Notify(nts=m.NTS.BYEBYE, nt="uuid:abc", usn="uuid:abc", boot_id=7, config_id=1)
    data = m.encode(bye)
    assert b"LOCATION" not in data and b"CACHE-CONTROL" not in data
    assert m.decode(data) == bye
    update = m.Notify(
        nts=m.NTS.UPDATE,
        nt="uuid:abc",
        usn="uuid:abc",
        location="http://x/",
        boot_id=7,
        next_boot_id=8,
    )
    assert m.decode(m.encode(update)) == update


def test_alive_without_cache_control_gets_default_max_age() -> None:
    data = (
        b"NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nNT: upnp:rootdevice\r\n"
        b"NTS: ssdp:alive\r\nUSN: uuid:a::upnp:rootdevice\r\nLOCATION: http://h/\r\n\r\n"
    )
    notify = m.decode(data)
    assert isinstance(notify, m.Notify) and notify.max_age == m.DEFAULT_MAX_AGE


@pytest.mark.parametrize(
    "value, expected",
    [("max-age=1800", 1800), ("no-cache, max-age = 60", 60), ('MAX-AGE="30"', 30)],
)
def test_max_age_forms(value: str, expected: int) -> None:
    assert m.parse_max_age(value) == expected


@pytest.mark.parametrize("value", ["no-cache", "max-age=", "max-age=-1", "s-max-age=5x"])
def test_bad_max_age(value: str) -> None:
    with pytest.raises(InvalidHeader):
        m.parse_max_age(value)


@pytest.mark.parametrize(
    "data, error",
    [
        (b"", MalformedMessage),
        (b"\xff\xfe", MalformedMessage),
        (b"GARBAGE\r\n\r\n", MalformedMessage),
        (b"SUBSCRIBE * HTTP/1.1\r\n\r\n", UnsupportedMessage),
        (b"HTTP/1.1 404 Not Found\r\n\r\n", UnsupportedMessage),
        (b"M-SEARCH * HTTP/1.1\r\nHOST: x\r\nST: ssdp:all\r\n\r\n", MissingHeader),
        (b'M-SEARCH * HTTP/1.1\r\nHOST: x\r\nMAN: ssdp:discover\r\nST: a\r\n\r\n', InvalidHeader),
        (b'M-SEARCH * HTTP/1.1\r\nHOST: x\r\nMAN: "ssdp:discover"\r\nST: a\r\nMX: x\r\n\r\n',
         InvalidHeader),
        (b'M-SEARCH * HTTP/1.1\r\nHOST: x\r\nMAN: "ssdp:discover"\r\nST:\r\n\r\n', InvalidHeader),
        (b"M-SEARCH * HTTP/1.1\r\nno colon here\r\n\r\n", MalformedMessage),
        (b"M-SEARCH * HTTP/1.1\r\nST: a\r\nst: b\r\n\r\n", MalformedMessage),
        (b"M-SEARCH * HTTP/1.1\r\nST: a\x00b\r\n\r\n", MalformedMessage),
        (b"NOTIFY * HTTP/1.1\r\nHOST: x\r\nNT: a\r\nNTS: ssdp:bogus\r\nUSN: uuid:a\r\n\r\n",
         InvalidHeader),
        (b"NOTIFY * HTTP/1.1\r\nHOST: x\r\nNT: a\r\nNTS: ssdp:alive\r\nUSN: uuid:a\r\n\r\n",
         MissingHeader),
        (b"NOTIFY * HTTP/1.1\r\nHOST: x\r\nNT: a\r\nNTS: ssdp:byebye\r\nUSN: nope\r\n\r\n",
         InvalidHeader),
        (b"HTTP/1.1 200 OK\r\nST: a\r\nUSN: uuid:a\r\n\r\n", MissingHeader),
    ],
)  # fmt: skip
def test_malformed_input_gives_typed_errors(data: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        m.decode(data)


def test_hard_limits() -> None:
    with pytest.raises(MessageTooLarge):
        m.decode(b"M-SEARCH * HTTP/1.1\r\n" + b"X: y\r\n" * 1000)
    with pytest.raises(MessageTooLarge):
        m.decode(b"M-SEARCH * HTTP/1.1\r\nST: " + b"a" * 600 + b"\r\n\r\n")
    with pytest.raises(MessageTooLarge):
        m.decode(b"M-SEARCH * HTTP/1.1\r\n" + b"".join(b"X%d: y\r\n" % i for i in range(40)))
    with pytest.raises(MessageTooLarge):
        m.encode(m.SearchRequest(st="urn:" + "a" * 600))


def test_encode_refuses_header_injection() -> None:
    with pytest.raises(InvalidHeader):
        m.encode(m.SearchRequest(st="ssdp:all\r\nEVIL: 1"))
    with pytest.raises(InvalidHeader):
        m.encode(m.SearchRequest(st="ssdp:all", extra=(("BAD NAME", "x"),)))


def test_encoded_response_has_ext_and_ends_with_blank_line() -> None:
    data = m.encode(m.SearchResponse(st="upnp:rootdevice", usn="uuid:a", location="http://h/"))
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nEXT:\r\n" in data and data.endswith(b"\r\n\r\n")
    assert b"CACHE-CONTROL: max-age=1800\r\n" in data


# -- property tests


@settings(max_examples=3000, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_give_a_message_or_a_typed_error(data: bytes) -> None:
    try:
        message = m.decode(data)
    except MessageError:
        return
    assert isinstance(message, m.SearchRequest | m.Notify | m.SearchResponse)


_line = st.sampled_from(
    [b"M-SEARCH * HTTP/1.1", b"NOTIFY * HTTP/1.1", b"HTTP/1.1 200 OK", b"HTTP/1.0 200 OK"]
)
_name = st.sampled_from(
    [b"HOST", b"MAN", b"ST", b"MX", b"NT", b"NTS", b"USN", b"LOCATION", b"CACHE-CONTROL",
     b"BOOTID.UPNP.ORG", b"CONFIGID.UPNP.ORG", b"Server", b"x-y"]
)  # fmt: skip
_value = st.one_of(
    st.sampled_from(
        [b'"ssdp:discover"', b"ssdp:alive", b"ssdp:byebye", b"uuid:a::b", b"3", b"-1",
         b"max-age=5", b"99999999999", b"239.255.255.250:1900", b"",
         b"a\x00b", b"a\tb", b"a\x7f", b"a\rb", b"a\nb", b"\xc3\xa9"]
    ),
    st.binary(max_size=40),
)  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(_line, st.lists(st.tuples(_name, _value), max_size=12))
def test_structured_fuzz_gives_a_message_or_a_typed_error(
    start: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    data = start + b"\r\n" + b"".join(n + b": " + v + b"\r\n" for n, v in headers) + b"\r\n"
    try:
        message = m.decode(data)
    except MessageError:
        return
    # whatever parses must build again and parse to the same thing
    assert m.decode(m.encode(message)) == message


_text = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=60
)
_usn = _text.map(lambda t: t.replace(":", "")).filter(bool).map(lambda t: "uuid:" + t)


_messages = st.one_of(
    st.builds(m.SearchRequest, st=_text, mx=st.none() | st.integers(0, 120)),
    st.builds(
        m.Notify,
        nts=st.just(m.NTS.ALIVE),
        nt=_text,
        usn=_usn,
        location=_text,
        max_age=st.integers(0, 10**6),
        boot_id=st.none() | st.integers(0, m.MAX_BOOT_ID),
    ),
    st.builds(m.SearchResponse, st=_text, usn=_usn, location=_text, max_age=st.integers(0, 10**6)),
)


@settings(max_examples=500, deadline=None)
@given(_messages)
def test_round_trip(message: m.Message) -> None:
    assert m.decode(m.encode(message)) == message


@settings(max_examples=300, deadline=None)
@given(_messages, st.sampled_from([b"", b"X-SEQ: 7\r\n", b"01-NLS: a\r\nOPT: b\r\n"]))
def test_a_decoded_message_is_what_its_constructor_builds(message: m.Message, extra: bytes) -> None:
    # the decoders skip the dataclass __init__ (message._new, _set): same fields, same object
    data = m.encode(message)
    decoded = m.decode(data[:-2] + extra + b"\r\n")
    cls = type(decoded)
    assert cls is type(message) and not hasattr(cls, "__post_init__")
    assert list(vars(decoded)) == [f.name for f in dataclasses.fields(cls)]
    rebuilt = cls(**vars(decoded))
    assert rebuilt == decoded and hash(rebuilt) == hash(decoded) and repr(rebuilt) == repr(decoded)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(decoded, "location", "x")  # noqa: B010


# -- decode's common case gives what the line-by-line decoder gives

_piece = st.sampled_from(
    [b"HOST", b"St", b"x-y", b"USN", b":", b" ", b"\t", b"\r", b"\n", b"\r\n", b"\xc3\xa9",
     b"\x00", b"\x7f", b"\xff", b"max-age=5", b"uuid:a", b"a" * 300, b"(", b'"']
)  # fmt: skip
_raw_line = st.lists(st.one_of(_piece, st.binary(max_size=6)), max_size=6).map(b"".join)


def _outcome(decode: Callable[[bytes], m.Message], data: bytes) -> object:
    """What C{decode} gives for C{data}: the message, or the error's type and text."""
    try:
        return decode(data)
    except MessageError as e:
        return type(e), str(e)


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(_line, _raw_line),
    st.lists(st.one_of(st.tuples(_name, _value).map(b": ".join), _raw_line), max_size=40),
    st.sampled_from([b"\r\n\r\n", b"\r\n", b"\n\n", b"\r\n\r\nbody", b"\r\n\r\n\xff"]),
)
def test_decode_agrees_with_the_line_decoder(start: bytes, lines: list[bytes], end: bytes) -> None:
    data = b"\r\n".join([start, *lines]) + end
    expected = _outcome(m._decode_lines, data)
    event("a message" if isinstance(expected, m.Message) else "an error")
    # twice: the second time its lines are in the cache of lines seen
    assert _outcome(m.decode, data) == expected
    assert _outcome(m.decode, data) == expected


_unmodelled = st.sampled_from([b"x-y", b"OPT", b"01-NLS", b"User-Agent"])


@settings(max_examples=1000, deadline=None)
@given(
    _messages,
    st.lists(
        st.tuples(
            st.integers(0, 12),
            st.one_of(
                st.tuples(_name, _value).map(b": ".join),
                st.tuples(_unmodelled, _text.map(str.encode)).map(b": ".join),
                _raw_line,
            ),
        ),
        max_size=3,
    ),
)
def test_decode_agrees_with_the_line_decoder_on_messages(
    message: m.Message, insertions: list[tuple[int, bytes]]
) -> None:
    # a message each decoder takes, with lines put in: the common case's ground
    lines = m.encode(message)[:-4].split(b"\r\n")
    for position, line in insertions:
        lines.insert(1 + position % len(lines), line)
    data = b"\r\n".join(lines) + b"\r\n\r\n"
    expected = _outcome(m._decode_lines, data)
    event("a message" if isinstance(expected, m.Message) else "an error")
    assert _outcome(m.decode, data) == expected
    assert _outcome(m.decode, data) == expected


def test_a_value_outside_ascii_is_read_as_utf8_in_the_common_case_too() -> None:
    # the common case reads the head as latin-1: a line outside ASCII must go to the
    # line decoder (UTF-8), whether or not the rest is the common case
    search = 'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\n'
    data = (search + "MX: 2\r\nST: café\r\nX-Name: naïve\r\n\r\n").encode()
    for _ in range(2):  # the second time, the ASCII lines are in the cache of lines seen
        decoded = m.decode(data)
        assert isinstance(decoded, m.SearchRequest)
        assert decoded.st == "café" and decoded.extra == (("X-Name", "naïve"),)
        assert decoded == m._decode_lines(data)
    with pytest.raises(MalformedMessage, match="not UTF-8"):
        m.decode(search.encode() + b"ST: caf\xe9\r\n\r\n")


def test_decode_takes_the_usual_messages_in_its_common_case(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(data: bytes) -> m.Message:
        raise AssertionError("left to the line decoder")

    usual = (GSSDP_SEARCH, MINIUPNPD_RESPONSE, m.encode(m.SearchRequest(st="ssdp:all")))
    expected = [m._decode_lines(data) for data in usual]
    monkeypatch.setattr(m, "_decode_lines", refuse)
    assert [m.decode(data) for data in usual] == expected


def test_the_cache_of_lines_seen_is_bounded() -> None:
    for i in range(2 * m._MAX_SEEN_LINES):
        search = m.decode(
            b'M-SEARCH * HTTP/1.1\r\nHOST: h\r\nMAN: "ssdp:discover"\r\nST: %d\r\n\r\n' % i
        )
        assert search == m.SearchRequest(st=str(i), mx=None, host="h")
        assert len(m._SEEN_LINES) <= m._MAX_SEEN_LINES
    assert "HOST: h" in m._SEEN_LINES  # what repeats is kept across an emptying
    long_value = "v" * m._MAX_SEEN_LENGTH
    m.decode(
        b'M-SEARCH * HTTP/1.1\r\nHOST: h\r\nMAN: "ssdp:discover"\r\nST: %s\r\n\r\n'
        % long_value.encode()
    )
    assert "ST: " + long_value not in m._SEEN_LINES


def test_header_name_cache_is_bounded() -> None:
    for i in range(2 * m._MAX_KNOWN_NAMES):
        search = m.decode(
            b'M-SEARCH * HTTP/1.1\r\nHOST: h\r\nMAN: "ssdp:discover"\r\nST: s\r\nX-%d: 1\r\n\r\n'
            % i
        )
        assert search.extra == ((f"X-{i}", "1"),)
    assert len(m._KNOWN_NAMES) <= m._MAX_KNOWN_NAMES
