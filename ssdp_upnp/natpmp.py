"""
NAT-PMP (RFC 6886): the external address and UDP/TCP mappings, built and
read by plain functions that know no socket.

Requests are version 0, opcode 0 (external address), 1 (UDP) or 2 (TCP);
responses carry the opcode + 128, a 16-bit result code and the epoch
(seconds since the gateway's mapping table started). A success must have the
exact length of its opcode (12 or 16 bytes); a refusal may be the short
8-byte form. Anything else raises L{InvalidPortControlMessage}.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from .errors import (
    InvalidPortControlMessage,
    NATPMPError,
    NATPMPNetworkFailure,
    NATPMPNotAuthorized,
    NATPMPOutOfResources,
    NATPMPUnsupportedOpcode,
    NATPMPUnsupportedVersion,
)

VERSION = 0
SERVER_PORT = 5351
CLIENT_PORT = 5350
ADDRESS = 0
OPCODES = {"UDP": 1, "TCP": 2}
PROTOCOLS = {number: name for name, number in OPCODES.items()}
RESPONSE = 128
SUCCESS = 0

#: The typed error of each result code.
ERRORS: dict[int, type[NATPMPError]] = {
    cls.code: cls
    for cls in (
        NATPMPUnsupportedVersion,
        NATPMPNotAuthorized,
        NATPMPNetworkFailure,
        NATPMPOutOfResources,
        NATPMPUnsupportedOpcode,
    )
}

_MAP_REQUEST = struct.Struct("!BBHHHI")
_HEAD = struct.Struct("!BBHI")
_ADDRESS_BODY = struct.Struct("!4s")
_MAP_BODY = struct.Struct("!HHI")
_SIZES = {ADDRESS: _HEAD.size + _ADDRESS_BODY.size, 1: 16, 2: 16}


def encode_address_request() -> bytes:
    """The datagram asking for the gateway's external address."""
    return bytes([VERSION, ADDRESS])


def encode_map_request(protocol: str, internal_port: int, suggested_port: int,
                       lifetime: int) -> bytes:  # fmt: skip
    """
    The datagram asking to map C{suggested_port} to our C{internal_port} for
    C{lifetime} seconds (lifetime 0 and suggested port 0 delete it).
    """
    if protocol not in OPCODES:
        raise ValueError(f"protocol {protocol!r} is not TCP or UDP")
    if not 1 <= internal_port <= 65535 or not 0 <= suggested_port <= 65535:
        raise ValueError("NAT-PMP ports are 1..65535 (the suggested one may be 0)")
    if not 0 <= lifetime <= 0xFFFFFFFF:
        raise ValueError(f"lifetime {lifetime} is not a 32-bit unsigned number")
    return _MAP_REQUEST.pack(VERSION, OPCODES[protocol], 0, internal_port, suggested_port,
                             lifetime)  # fmt: skip


@dataclass(frozen=True)
class AddressResponse:
    result: int
    epoch: int
    external_ip: str = ""


@dataclass(frozen=True)
class MapResponse:
    result: int
    epoch: int
    protocol: str
    internal_port: int = 0
    external_port: int = 0
    lifetime: int = 0


def _invalid(why: str) -> InvalidPortControlMessage:
    return InvalidPortControlMessage(f"not a NAT-PMP response: {why}")


def decode_response(data: bytes) -> AddressResponse | MapResponse:
    """
    Read a NAT-PMP response (also the gateway's unsolicited address
    announcement, which is an address response).

    @raise InvalidPortControlMessage: for anything that is not one.
    """
    if len(data) < _HEAD.size:
        raise _invalid(f"{len(data)} bytes")
    version, r_opcode, result, epoch = _HEAD.unpack_from(data)
    if version != VERSION:
        raise _invalid(f"version {version}")
    if r_opcode < RESPONSE:
        raise _invalid("a request, not a response")
    opcode = r_opcode - RESPONSE
    if opcode not in _SIZES:
        if result != SUCCESS and len(data) == _HEAD.size:  # e.g. UNSUPP_OPCODE to our opcode
            return AddressResponse(result, epoch)
        raise _invalid(f"opcode {r_opcode}")
    size = _SIZES[opcode]
    if len(data) != size and not (result != SUCCESS and len(data) == _HEAD.size):
        raise _invalid(f"{len(data)} bytes for opcode {r_opcode} (result {result})")
    short = len(data) == _HEAD.size
    if opcode == ADDRESS:
        if short:
            return AddressResponse(result, epoch)
        (packed,) = _ADDRESS_BODY.unpack_from(data, _HEAD.size)
        return AddressResponse(result, epoch, str(ipaddress.IPv4Address(packed)))
    if short:
        return MapResponse(result, epoch, PROTOCOLS[opcode])
    internal, external, lifetime = _MAP_BODY.unpack_from(data, _HEAD.size)
    return MapResponse(result, epoch, PROTOCOLS[opcode], internal, external, lifetime)


def check_result(response: AddressResponse | MapResponse) -> None:
    """
    @raise NATPMPError: the typed subclass of a response's result code, unless success.
    """
    if response.result == SUCCESS:
        return
    cls = ERRORS.get(response.result, NATPMPError)
    what = "address request" if isinstance(response, AddressResponse) else response.protocol
    raise cls(response.result, what)
