"""
The Port Control Protocol (RFC 6887), version 2: MAP and ANNOUNCE, built and
read by plain functions that know no socket.

Addresses travel as 16 bytes, IPv4 as C{::ffff:a.b.c.d}. A MAP carries a
96-bit nonce that its renewals and its deletion (lifetime 0) must repeat.
L{decode_response} checks everything the RFC fixes (length a multiple of 4
between 24 and 1100 bytes, the response bit, a known opcode, the MAP body,
well-formed options) and raises L{InvalidPortControlMessage} for anything
else; a refusal is a response with a result code, which L{check_result} turns
into its typed L{PCPError}. A version-0 answer (a NAT-PMP-only server
rejecting our version 2) reads as UNSUPP_VERSION.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from .errors import (
    InvalidPortControlMessage,
    PCPAddressMismatch,
    PCPCannotProvideExternal,
    PCPError,
    PCPExcessiveRemotePeers,
    PCPMalformedOption,
    PCPMalformedRequest,
    PCPNetworkFailure,
    PCPNoResources,
    PCPNotAuthorized,
    PCPUnsupportedOpcode,
    PCPUnsupportedOption,
    PCPUnsupportedProtocol,
    PCPUnsupportedVersion,
    PCPUserExceededQuota,
)

VERSION = 2
#: The server's port; unsolicited ANNOUNCEs go to the clients' port 5350.
SERVER_PORT = 5351
CLIENT_PORT = 5350
ANNOUNCE = 0
MAP = 1
OPCODES = {ANNOUNCE: "ANNOUNCE", MAP: "MAP"}
MAX_MESSAGE = 1100
HEADER = 24
MAP_BODY = 36
NONCE_BYTES = 12
OPTION_PREFER_FAILURE = 2
PROTOCOL_NUMBERS = {"TCP": 6, "UDP": 17}
PROTOCOL_NAMES = {number: name for name, number in PROTOCOL_NUMBERS.items()}
SUCCESS = 0

#: The typed error of each result code.
ERRORS: dict[int, type[PCPError]] = {
    cls.code: cls
    for cls in (
        PCPUnsupportedVersion,
        PCPNotAuthorized,
        PCPMalformedRequest,
        PCPUnsupportedOpcode,
        PCPUnsupportedOption,
        PCPMalformedOption,
        PCPNetworkFailure,
        PCPNoResources,
        PCPUnsupportedProtocol,
        PCPUserExceededQuota,
        PCPCannotProvideExternal,
        PCPAddressMismatch,
        PCPExcessiveRemotePeers,
    )
}

_REQUEST_HEADER = struct.Struct("!BBHI16s")
_RESPONSE_HEADER = struct.Struct("!BBBBII12s")
_MAP = struct.Struct("!12sB3sHH16s")
_OPTION = struct.Struct("!BBH")


def pack_address(address: str) -> bytes:
    """The 16 bytes of C{address}: an IPv6 address, or IPv4 as C{::ffff:a.b.c.d}."""
    ip = ipaddress.ip_address(address)
    if ip.version == 4:
        return b"\0" * 10 + b"\xff\xff" + ip.packed
    return ip.packed


def unpack_address(packed: bytes) -> str:
    """The text of a 16-byte address (an IPv4-mapped one as plain IPv4)."""
    ip = ipaddress.IPv6Address(packed)
    mapped = ip.ipv4_mapped
    return str(mapped) if mapped is not None else str(ip)


def _any_address(family_of: str) -> str:
    return "0.0.0.0" if ipaddress.ip_address(family_of).version == 4 else "::"


@dataclass(frozen=True)
class MapRequest:
    """
    A MAP request: forward C{suggested_port} (0: any) at the gateway to
    C{client}:C{internal_port} for C{lifetime} seconds (0 deletes).

    @ivar prefer_failure: fail with CANNOT_PROVIDE_EXTERNAL rather than get
        another port than the one suggested.
    """

    nonce: bytes
    protocol: str
    internal_port: int
    suggested_port: int
    lifetime: int
    client: str
    suggested_address: str = ""
    prefer_failure: bool = False

    def __post_init__(self) -> None:
        if len(self.nonce) != NONCE_BYTES:
            raise ValueError(f"a PCP nonce is {NONCE_BYTES} bytes, not {len(self.nonce)}")
        if self.protocol not in PROTOCOL_NUMBERS:
            raise ValueError(f"protocol {self.protocol!r} is not TCP or UDP")
        if not 1 <= self.internal_port <= 65535 or not 0 <= self.suggested_port <= 65535:
            raise ValueError("PCP ports are 1..65535 (the suggested one may be 0)")
        if not 0 <= self.lifetime <= 0xFFFFFFFF:
            raise ValueError(f"lifetime {self.lifetime} is not a 32-bit unsigned number")


def encode_map(request: MapRequest) -> bytes:
    """The datagram of a MAP request."""
    header = _REQUEST_HEADER.pack(VERSION, MAP, 0, request.lifetime, pack_address(request.client))
    suggested = request.suggested_address or _any_address(request.client)
    body = _MAP.pack(
        request.nonce,
        PROTOCOL_NUMBERS[request.protocol],
        b"\0\0\0",
        request.internal_port,
        request.suggested_port,
        pack_address(suggested),
    )
    options = _OPTION.pack(OPTION_PREFER_FAILURE, 0, 0) if request.prefer_failure else b""
    return header + body + options


def encode_announce(client: str) -> bytes:
    """The datagram of an ANNOUNCE request (it learns the server's epoch, and that it is there)."""
    return _REQUEST_HEADER.pack(VERSION, ANNOUNCE, 0, 0, pack_address(client))


@dataclass(frozen=True)
class MapResult:
    """The MAP part of a response: what the server assigned."""

    nonce: bytes
    protocol: str
    internal_port: int
    external_port: int
    external_address: str


@dataclass(frozen=True)
class Response:
    """
    A PCP response. C{version} is the server's when it refuses ours
    (UNSUPP_VERSION); C{map} is set for a MAP response.
    """

    version: int
    opcode: int
    result: int
    lifetime: int
    epoch: int
    map: MapResult | None = None
    options: tuple[tuple[int, bytes], ...] = ()


def _invalid(why: str) -> InvalidPortControlMessage:
    return InvalidPortControlMessage(f"not a PCP response: {why}")


def _options(data: bytes) -> tuple[tuple[int, bytes], ...]:
    found = []
    offset = 0
    while offset < len(data):
        if len(data) - offset < _OPTION.size:
            raise _invalid("truncated option header")
        code, _reserved, length = _OPTION.unpack_from(data, offset)
        offset += _OPTION.size
        padded = (length + 3) & ~3
        if offset + padded > len(data):
            raise _invalid(f"option {code} runs past the end")
        found.append((code, data[offset : offset + length]))
        offset += padded
    return tuple(found)


def decode_response(data: bytes) -> Response:
    """
    Read a PCP response.

    @raise InvalidPortControlMessage: for anything that is not one.
    """
    if len(data) < 4:
        raise _invalid(f"{len(data)} bytes")
    version, r_opcode = data[0], data[1]
    if not r_opcode & 0x80:
        raise _invalid("a request, not a response")
    opcode = r_opcode & 0x7F
    if version != VERSION:
        # a server of another version answers with its own version and UNSUPP_VERSION
        # (a NAT-PMP-only one: version 0 and its 16-bit result code 1 in bytes 2-3)
        if len(data) in (8, HEADER) and data[3] == PCPUnsupportedVersion.code:
            epoch = struct.unpack_from("!I", data, 4)[0] if len(data) == 8 else 0
            return Response(version, opcode, PCPUnsupportedVersion.code, 0, epoch)
        raise _invalid(f"version {version}")
    if len(data) < HEADER or len(data) > MAX_MESSAGE or len(data) % 4:
        raise _invalid(f"length {len(data)} (24..1100, a multiple of 4)")
    if opcode not in OPCODES:
        raise _invalid(f"opcode {opcode}")
    _v, _op, _reserved, result, lifetime, epoch, _reserved2 = _RESPONSE_HEADER.unpack_from(data)
    rest = data[HEADER:]
    mapped = None
    if opcode == MAP and (result == SUCCESS or len(rest) >= MAP_BODY):
        if len(rest) < MAP_BODY:
            raise _invalid(f"MAP response body of {len(rest)} bytes")
        nonce, number, _pad, internal, external, address = _MAP.unpack_from(rest)
        if result == SUCCESS and number not in PROTOCOL_NAMES:
            raise _invalid(f"protocol number {number}")
        mapped = MapResult(
            nonce, PROTOCOL_NAMES.get(number, str(number)), internal, external,
            unpack_address(address),  # any 16 bytes are an IPv6 address
        )  # fmt: skip
        rest = rest[MAP_BODY:]
    return Response(version, opcode, result, lifetime, epoch, mapped, _options(rest))


def check_result(response: Response) -> Response:
    """
    C{response} if it is a success.

    @raise PCPError: its typed subclass for the result code.
    """
    if response.result == SUCCESS:
        return response
    cls = ERRORS.get(response.result, PCPError)
    raise cls(response.result, response.lifetime, OPCODES.get(response.opcode, "request"))


def epoch_valid(previous_server: int, previous_client: float, server: int, client: float) -> bool:
    """
    Whether the server kept its state between two responses (RFC 6887 8.5):
    its epoch must not go back by more than a second, nor run off from our
    own clock by more than 1/16 plus 2 seconds either way.
    """
    if server + 1 < previous_server:
        return False
    client_delta = client - previous_client
    server_delta = server - previous_server
    return not (
        client_delta + 2 < server_delta - server_delta / 16
        or server_delta + 2 < client_delta - client_delta / 16
    )
