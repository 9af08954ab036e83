"""The HTTP response reader and request writer (pure code)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssdp_upnp._http_response import (
    MAX_HEAD,
    MAX_HEADERS,
    ResponseReader,
    request_bytes,
)
from ssdp_upnp.errors import GatewayHTTPError


def read(data: bytes | list[bytes], limit: int = 10_000, close: bool = True) -> ResponseReader:
    reader = ResponseReader(limit)
    for piece in [data] if isinstance(data, bytes) else data:
        reader.feed(piece)
    if close and not reader.complete:
        reader.connection_closed()
    return reader


def refused(data: bytes | list[bytes], limit: int = 10_000) -> str:
    with pytest.raises(GatewayHTTPError) as info:
        read(data, limit)
    return str(info.value)


@st.composite
def responses(draw: st.DrawFn) -> tuple[bytes, int, bytes, bool]:
    """A response, its status and body, and whether it is complete before the close."""
    status = draw(st.sampled_from([200, 201, 400, 404, 500, 503]))
    body = draw(st.binary(max_size=300))
    end = draw(st.sampled_from([b"\r\n", b"\n"]))
    framing = draw(st.sampled_from(["length", "chunked", "close"]))
    headers = [b"Server: MiniUPnPd/2.3.1", b"Content-Type: text/xml"]
    if draw(st.booleans()):
        headers.append(b"X-Folded: a" + end + b"  b")
    if framing == "length":
        headers.append(b"Content-Length: %d" % len(body))
        payload = body
    elif framing == "chunked":
        headers.append(b"Transfer-Encoding: chunked")
        sizes = draw(st.lists(st.integers(1, 50), max_size=10))
        payload, at = b"", 0
        for size in sizes:
            chunk = body[at : at + size]
            if not chunk:
                break
            payload += b"%x" % len(chunk) + draw(st.sampled_from([b"", b";ext=1"])) + end
            payload += chunk + end
            at += len(chunk)
        body = body[:at]
        payload += b"0" + end + draw(st.sampled_from([b"", b"Trailer: x" + end])) + end
    else:
        payload = body
    interim = draw(st.sampled_from([b"", b"HTTP/1.1 100 Continue" + end + end]))
    head = interim + b"HTTP/1.1 %d Whatever" % status + end + end.join(headers) + end + end
    return head + payload, status, body, framing != "close"


@given(responses(), st.lists(st.integers(1, 40), max_size=50))
def test_a_response_reads_the_same_in_any_pieces(
    case: tuple[bytes, int, bytes, bool], cuts: list[int]
) -> None:
    data, status, body, delimited = case
    pieces, at = [], 0
    for cut in cuts:
        pieces.append(data[at : at + cut])
        at += cut
    pieces.append(data[at:])
    reader = ResponseReader(10_000)
    done = [reader.feed(piece) for piece in pieces]
    assert reader.complete == delimited == any(done)
    if not delimited:
        reader.connection_closed()
    assert (reader.status, reader.body) == (status, body)


@given(st.binary(max_size=400), st.lists(st.integers(1, 40), max_size=20))
def test_any_bytes_read_or_fail_with_a_gateway_http_error(data: bytes, cuts: list[int]) -> None:
    reader = ResponseReader(100)
    try:
        at = 0
        for cut in [*cuts, len(data)]:
            reader.feed(data[at : at + cut])
            at += cut
        reader.connection_closed()
    except GatewayHTTPError:
        return
    assert reader.complete and 100 <= reader.status <= 599 and len(reader.body) <= 100


@given(responses())
def test_a_cut_response_is_an_error_not_a_short_body(case: tuple[bytes, int, bytes, bool]) -> None:
    data, _, _, delimited = case
    if not delimited:
        return
    reader = ResponseReader(10_000)
    assert not reader.feed(data[:-1])
    with pytest.raises(GatewayHTTPError):
        reader.connection_closed()


def test_headers_and_their_quirks() -> None:
    reader = read(b"\r\nHTTP/1.1 200\nEXT:\nnot a header\nServer: a\n b\nSERVER: c\n"
                  b"Content-Length: 2\n\nok")  # fmt: skip
    assert reader.status == 200 and reader.body == b"ok"
    assert reader.headers == {"ext": "", "server": "a b, c", "content-length": "2"}


def test_no_body_for_204_and_304() -> None:
    for status in (204, 304):
        reader = ResponseReader(100)
        assert reader.feed(b"HTTP/1.1 %d X\r\nContent-Length: 5\r\n\r\n" % status)
        assert reader.body == b""


def test_content_length_zero_and_bytes_past_the_length() -> None:
    assert read(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", close=False).complete
    assert read(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA").body == b"ok"


def test_a_transfer_coding_other_than_chunked_runs_to_the_close() -> None:
    reader = read(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 1\r\n\r\nabc")
    assert reader.body == b"abc"


@pytest.mark.parametrize(
    "data, why",
    [
        (b"", "before any response"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1", "inside the response head"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc", "cut short after 3 bytes"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "cut short"),
        (b"ICY 200 OK\r\n\r\n", "bad HTTP status line"),
        (b"HTTP/1.1 2000 OK\r\n\r\n", "bad HTTP status line"),
        (b"HTTP/1.1 600 OK\r\n\r\n", "bad HTTP status line"),
        (b"HTTP/1.1 +20 OK\r\n\r\n", "bad HTTP status line"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", "conflicting"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\nab", "conflicting"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 20000\r\n\r\n", "body of 20000 bytes over"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n", "bad chunk size"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * 2000, "too long"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n99999\r\n", "over 10000"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc", "not followed"),
        (b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 10_001, "body over 10000 bytes"),
        (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * (MAX_HEADERS + 1) + b"\r\n", "more than 128"),
    ],
)
def test_refused(data: bytes, why: str) -> None:
    assert why in refused(data)


def test_a_head_is_bounded_even_when_it_trickles() -> None:
    reader = ResponseReader(100)
    reader.feed(b"HTTP/1.1 200 OK\r\n")
    with pytest.raises(GatewayHTTPError, match="response head over"):
        for _ in range(MAX_HEAD // 1000 + 2):
            reader.feed(b"X-Pad: " + b"y" * 991 + b"\r\n")
    trailers = ResponseReader(100)
    trailers.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n")
    with pytest.raises(GatewayHTTPError, match="trailers over"):
        for _ in range(MAX_HEAD // 1000 + 2):
            trailers.feed(b"T: " + b"y" * 995 + b"\r\n")


@pytest.mark.parametrize(
    "data, body",
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", b"ok"),
        (b"HTTP/1.1 100 Continue\n\nHTTP/1.1 200 OK\nContent-Length: 2\n\r\nok", b"ok"),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2;x\r\nok\r\n"
            b"1\r\n!\r\n0\r\nT: 1\r\n\r\n",
            b"ok!",
        ),  # fmt: skip
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", b"ok"),
    ],
)
def test_a_response_cut_in_two_anywhere(data: bytes, body: bytes) -> None:
    for cut in range(1, len(data)):
        reader = ResponseReader(100)
        assert not reader.feed(data[:cut]), cut
        assert reader.feed(data[cut:]) and reader.body == body, cut


def test_later_data_is_ignored() -> None:
    reader = read(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", close=False)
    assert reader.feed(b"HTTP/1.1 500 Oops\r\n\r\n")
    assert (reader.status, reader.body) == (200, b"ok")


def test_a_request() -> None:
    assert request_bytes("POST", "[2001:db8::1]:5000", "/ctl", {"SOAPAction": '"u#A"'}, b"xy") == (
        b"POST /ctl HTTP/1.1\r\nHost: [2001:db8::1]:5000\r\nConnection: close\r\n"
        b'Content-Length: 2\r\nSOAPAction: "u#A"\r\n\r\nxy'
    )
    assert request_bytes("GET", "h", "/", {}, None) == (
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
    )


@pytest.mark.parametrize(
    "path, headers",
    [
        ("/ctl\r\nX: 1", {}),
        ("/ctl", {"SOAPAction": "a\nb"}),
        ("/ctl", {"Bad Name": "x"}),
        ("/ctl", {"Bad:Name": "x"}),
        ("/ctl", {"": "x"}),
        ("/ctl", {"SOAPAction": "caf\u00e9"}),
        ("/caf\u00e9", {}),
    ],
)
def test_a_request_not_in_lines_of_ascii_is_refused(path: str, headers: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        request_bytes("POST", "h", path, headers, b"")
