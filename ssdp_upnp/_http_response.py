"""
Reading one HTTP/1.x response as its bytes arrive, and writing the request.

Pure code: no reactor, no sockets. L{ResponseReader} is fed what the
connection delivers and says when the response is complete; it reads a body
delimited by Content-Length, by chunks, or by the close of the connection,
and refuses, with L{GatewayHTTPError}, a head or body past its bounds, a
malformed status line or chunk, and conflicting lengths. Gateways' quirks it
takes: bare LF line ends, blank lines before the status line, interim 1xx
responses, folded header lines, header lines without a colon (skipped).
"""

from __future__ import annotations

from collections.abc import Mapping

from .errors import GatewayHTTPError

#: Largest head (status line, headers, a chunk's trailers) read from a gateway.
MAX_HEAD = 64 * 1024
#: Most header lines in one head.
MAX_HEADERS = 128
#: Longest chunk-size line.
MAX_CHUNK_LINE = 1024

_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _TO_CLOSE, _DONE = range(8)
_NO_BODY = frozenset((204, 304))
_HEX = frozenset(b"0123456789abcdefABCDEF")
_NOT_IN_NAMES = frozenset(' \t\r\n:"(),/;<=>?@[\\]{}')


def request_bytes(
    method: str, netloc: str, path: str, headers: Mapping[str, str], data: bytes | None
) -> bytes:
    """
    One HTTP/1.1 request that asks the server to close after its answer.

    @raise ValueError: a method, path or header that would not be one line
        of ASCII (a header value with CR or LF would inject a header).
    """
    every = "".join((method, path, netloc, *headers.values()))
    if "\r" in every or "\n" in every:
        raise ValueError(f"HTTP request line or header value with CR or LF: {every[:60]!r}")
    for name in headers:
        if not name or not name.isascii() or not _NOT_IN_NAMES.isdisjoint(name):
            raise ValueError(f"bad HTTP header name {name[:40]!r}")
    lines = [f"{method} {path} HTTP/1.1", f"Host: {netloc}", "Connection: close"]
    if data is not None:
        lines.append(f"Content-Length: {len(data)}")
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    head = "\r\n".join(lines)
    return head.encode("ascii") + b"\r\n\r\n" + (data or b"")


class ResponseReader:
    """
    One response, read incrementally.

    Call L{feed} with each piece of data; it returns True once the response
    is complete (then L{status}, L{headers} and L{body} hold it, and later
    data is ignored). Call L{connection_closed} when the connection ends:
    it completes a body that runs to the close, or raises.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.status = 0
        self.headers: dict[str, str] = {}
        self._state = _HEAD
        self._held = bytearray()  # bytes a state kept until more come
        self._scan = -1  # where a search for a head's end goes on from (-1: a new head)
        self._parts: list[bytes | bytearray] = []
        self._size = 0
        self._remaining = 0  # of a Content-Length body or of the current chunk
        self._got_any = False

    @property
    def complete(self) -> bool:
        return self._state == _DONE

    @property
    def body(self) -> bytes:
        parts = self._parts
        if len(parts) == 1 and type(parts[0]) is bytes:
            return parts[0]
        return b"".join(parts)

    def feed(self, data: bytes) -> bool:
        """
        Take the next bytes of the connection.

        @return: True if the response is now complete.
        @raise GatewayHTTPError: the response is malformed or over a bound.
        """
        if self._state == _DONE or not data:
            return self._state == _DONE
        self._got_any = True
        buffer: bytes | bytearray = data
        if self._held:
            self._held += data
            buffer, self._held = self._held, bytearray()
        while buffer and self._state != _DONE:
            rest = self._step(buffer)
            if rest is None:  # the state kept what it has and waits for more
                return False
            buffer = rest
        return self._state == _DONE

    def connection_closed(self) -> None:
        """
        The connection has ended.

        @raise GatewayHTTPError: the response is not complete (nothing came,
            or it was cut short) and its body is not delimited by the close.
        """
        if self._state == _TO_CLOSE:
            self._state = _DONE
        if self._state == _DONE:
            return
        if not self._got_any:
            raise GatewayHTTPError("connection closed before any response")
        if self._state == _HEAD:
            raise GatewayHTTPError("connection closed inside the response head")
        raise GatewayHTTPError(f"body cut short after {self._size} bytes")

    # -- the states: each takes the unread bytes and returns what it left, or
    # None when it needs more (it has then kept them in self._held)

    def _step(self, buffer: bytes | bytearray) -> bytes | bytearray | None:
        state = self._state
        if state == _LENGTH:
            return self._length_body(buffer)
        if state == _HEAD:
            return self._head(buffer)
        if state == _TO_CLOSE:
            self._add(buffer)
            return b""
        if state == _CHUNK_SIZE:
            return self._chunk_size(buffer)
        if state == _CHUNK_DATA:
            return self._chunk_data(buffer)
        if state == _CHUNK_END:
            return self._chunk_end(buffer)
        return self._trailers(buffer)

    def _keep(self, buffer: bytes | bytearray) -> None:
        self._held = buffer if isinstance(buffer, bytearray) else bytearray(buffer)

    def _head(self, buffer: bytes | bytearray) -> bytes | bytearray | None:
        if self._scan < 0 and buffer[:1] in (b"\r", b"\n"):
            buffer = buffer.lstrip(b"\r\n")  # blank lines before a status line
            if not buffer:
                return None
        found = self._head_end(buffer, "response head")
        if found is None:
            return None
        end, size = found
        lines = buffer[:end].decode("latin-1").split("\n")
        self.status = _status(lines[0].rstrip("\r"))
        self.headers = _headers(lines[1:])
        rest = buffer[end + size :]
        if 100 <= self.status < 200:  # interim (100 Continue): the real one follows
            self.status, self.headers = 0, {}
            return rest
        self._start_body()
        return rest

    def _start_body(self) -> None:
        coding = self.headers.get("transfer-encoding")
        length = self.headers.get("content-length")
        if self.status in _NO_BODY:
            self._state = _DONE
        elif coding is not None:
            chunked = coding.rsplit(",", 1)[-1].strip().lower() == "chunked"
            self._state = _CHUNK_SIZE if chunked else _TO_CLOSE
        elif length is not None:
            self._remaining = _content_length(length, self.limit)
            self._state = _LENGTH if self._remaining else _DONE
        else:
            self._state = _TO_CLOSE

    def _add(self, data: bytes | bytearray) -> None:
        self._size += len(data)
        if self._size > self.limit:
            raise GatewayHTTPError(f"body over {self.limit} bytes")
        self._parts.append(data)

    def _length_body(self, buffer: bytes | bytearray) -> bytes:
        take = buffer if len(buffer) <= self._remaining else buffer[: self._remaining]
        self._parts.append(take)
        self._size += len(take)
        self._remaining -= len(take)
        if not self._remaining:
            self._state = _DONE
        return b""  # anything past the length is not ours: dropped

    def _chunk_size(self, buffer: bytes | bytearray) -> bytes | bytearray | None:
        newline = buffer.find(b"\n", 0, MAX_CHUNK_LINE + 1)
        if newline < 0:
            if len(buffer) > MAX_CHUNK_LINE:
                raise GatewayHTTPError("chunk-size line too long")
            self._keep(buffer)
            return None
        line = bytes(buffer[:newline])
        digits = line.split(b";", 1)[0].strip()
        if not digits or not _HEX.issuperset(digits) or len(digits) > 16:
            raise GatewayHTTPError(f"bad chunk size {line[:40]!r}")
        size = int(digits, 16)
        if self._size + size > self.limit:
            raise GatewayHTTPError(f"body over {self.limit} bytes")
        self._remaining = size
        self._state = _CHUNK_DATA if size else _TRAILERS
        return buffer[newline + 1 :]

    def _chunk_data(self, buffer: bytes | bytearray) -> bytes | bytearray:
        take = buffer[: self._remaining]
        self._add(take)
        self._remaining -= len(take)
        if not self._remaining:
            self._state = _CHUNK_END
        return buffer[len(take) :]

    def _chunk_end(self, buffer: bytes | bytearray) -> bytes | bytearray | None:
        if buffer.startswith(b"\n"):
            end = 1
        elif buffer.startswith(b"\r\n"):
            end = 2
        elif buffer == b"\r":
            self._keep(buffer)
            return None
        else:
            raise GatewayHTTPError("chunk not followed by a line end")
        self._state = _CHUNK_SIZE
        return buffer[end:]

    def _trailers(self, buffer: bytes | bytearray) -> bytes | bytearray | None:
        # the trailer section ends at its blank line; in the usual "0\r\n\r\n"
        # it is that line alone
        if self._scan < 0:
            buffer = b"\n" + buffer  # the chunk-size line's end, read already
        if self._head_end(buffer, "chunk trailers") is None:
            return None
        self._state = _DONE
        return b""

    def _head_end(self, buffer: bytes | bytearray, what: str) -> tuple[int, int] | None:
        """
        Where the head in C{buffer} ends (L{_blank_line}); or None, with the
        bytes kept and the search to go on from near their end.
        """
        end, size = _blank_line(buffer, max(0, self._scan))
        if end > MAX_HEAD or (end < 0 and len(buffer) > MAX_HEAD):
            raise GatewayHTTPError(f"{what} over {MAX_HEAD} bytes")
        if end < 0:
            self._scan = max(0, len(buffer) - 2)
            self._keep(buffer)
            return None
        self._scan = -1
        return end, size


def _blank_line(buffer: bytes | bytearray, start: int = 0) -> tuple[int, int]:
    """
    Where the head in C{buffer} ends: the index of the line end before its
    blank line, and the size of the two line ends; (-1, 0) if not there yet.
    """
    lf = buffer.find(b"\n\n", start)
    crlf = buffer.find(b"\n\r\n", start)
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return crlf, 3
    return (lf, 2) if lf >= 0 else (-1, 0)


def _status(line: str) -> int:
    parts = line.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or len(parts[1]) != 3:
        raise GatewayHTTPError(f"bad HTTP status line {line[:80]!r}")
    code = parts[1]
    if not code.isascii() or not code.isdigit() or not "100" <= code <= "599":
        raise GatewayHTTPError(f"bad HTTP status line {line[:80]!r}")
    return int(code)


def _headers(lines: list[str]) -> dict[str, str]:
    if len(lines) > MAX_HEADERS:
        raise GatewayHTTPError(f"more than {MAX_HEADERS} response headers")
    headers: dict[str, str] = {}
    last = ""
    for line in lines:
        if line[:1] in (" ", "\t"):  # a folded line continues the one before
            if last:
                headers[last] += " " + line.strip()
            continue
        name, colon, value = line.partition(":")
        name = name.strip().lower()
        if not colon or not name:
            last = ""
            continue  # not a header: skipped
        value = value.strip()
        if name in headers:
            if name == "content-length" and headers[name] != value:
                raise GatewayHTTPError("conflicting Content-Length headers")
            headers[name] = value if name == "content-length" else f"{headers[name]}, {value}"
        else:
            headers[name] = value
        last = name
    return headers


def _content_length(value: str, limit: int) -> int:
    values = {v.strip() for v in value.split(",")}
    if len(values) != 1:
        raise GatewayHTTPError("conflicting Content-Length values")
    (text,) = values
    if not text.isdigit() or not text.isascii() or len(text) > 18:
        raise GatewayHTTPError(f"bad Content-Length {text[:20]!r}")
    length = int(text)
    if length > limit:
        raise GatewayHTTPError(f"body of {length} bytes over {limit}")
    return length
