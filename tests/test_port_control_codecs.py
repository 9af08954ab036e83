"""
The PCP (RFC 6887) and NAT-PMP (RFC 6886) codecs: bytes checked against the
RFCs' layouts written out by hand here, every result code as its typed
error, and any bytes giving a message or a typed error (hypothesis).
"""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssdp_upnp import natpmp, pcp
from ssdp_upnp._port_control import Epoch
from ssdp_upnp.errors import (
    InvalidPortControlMessage,
    NATPMPError,
    NATPMPNotAuthorized,
    NATPMPUnsupportedVersion,
    PCPAddressMismatch,
    PCPCannotProvideExternal,
    PCPError,
    PCPNotAuthorized,
    PCPUnsupportedVersion,
)
from ssdp_upnp.testing import MemoryMulticastReactor

FUZZ_EXAMPLES = int(os.environ.get("SSDP_UPNP_FUZZ_EXAMPLES", "2000"))
FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
NONCE = bytes(range(12))
MAPPED_H1 = bytes(10) + b"\xff\xff" + bytes([198, 51, 100, 11])
MAPPED_WAN = bytes(10) + b"\xff\xff" + bytes([203, 0, 113, 2])


def pcp_map_response(
    result: int = 0,
    lifetime: int = 3600,
    epoch: int = 77,
    port: int = 8048,
    nonce: bytes = NONCE,
    protocol: int = 6,
    extra: bytes = b"",
) -> bytes:
    header = bytes([2, 0x81, 0, result]) + struct.pack("!II", lifetime, epoch) + bytes(12)
    body = nonce + bytes([protocol, 0, 0, 0]) + struct.pack("!HH", 8048, port) + MAPPED_WAN
    return header + body + extra


# -- PCP requests


def test_a_map_request_is_laid_out_as_rfc_6887_says() -> None:
    request = pcp.MapRequest(NONCE, "TCP", 8048, 8049, 7200, "198.51.100.11")
    data = pcp.encode_map(request)
    assert len(data) == 60
    assert data[:4] == bytes([2, 1, 0, 0])  # version 2, R=0 opcode MAP, reserved
    assert struct.unpack("!I", data[4:8])[0] == 7200
    assert data[8:24] == MAPPED_H1  # the client's own address, IPv4-mapped
    assert data[24:36] == NONCE
    assert data[36] == 6 and data[37:40] == b"\0\0\0"
    assert struct.unpack("!HH", data[40:44]) == (8048, 8049)
    assert data[44:60] == bytes(10) + b"\xff\xff" + bytes(4)  # no preferred external address


def test_prefer_failure_is_an_option_of_no_data() -> None:
    request = pcp.MapRequest(NONCE, "UDP", 9000, 9000, 120, "198.51.100.11", prefer_failure=True)
    data = pcp.encode_map(request)
    assert len(data) == 64 and data[36] == 17
    assert data[60:64] == bytes([2, 0, 0, 0])


def test_an_ipv6_client_travels_as_itself() -> None:
    data = pcp.encode_map(pcp.MapRequest(NONCE, "TCP", 8048, 8048, 120, "2001:db8:5100::11"))
    assert pcp.unpack_address(data[8:24]) == "2001:db8:5100::11"
    assert data[44:60] == bytes(16)  # "::": no preference, in the client's family


def test_announce_is_a_bare_header() -> None:
    data = pcp.encode_announce("198.51.100.11")
    assert data == bytes([2, 0, 0, 0]) + bytes(4) + MAPPED_H1


@pytest.mark.parametrize(
    "kw",
    [{"nonce": b"short"}, {"protocol": "SCTP"}, {"internal_port": 0}, {"suggested_port": 70000},
     {"lifetime": -1}, {"lifetime": 2**32}],
)  # fmt: skip
def test_a_request_that_cannot_be_sent_is_refused_when_made(kw: dict[str, object]) -> None:
    fields: dict[str, object] = {"nonce": NONCE, "protocol": "TCP", "internal_port": 8048,
                                 "suggested_port": 8048, "lifetime": 120,
                                 "client": "198.51.100.11"}  # fmt: skip
    fields.update(kw)
    with pytest.raises(ValueError):
        pcp.MapRequest(**fields)  # type: ignore[arg-type]


# -- PCP responses


def test_a_map_response_gives_what_the_server_assigned() -> None:
    response = pcp.decode_response(pcp_map_response(port=8050, lifetime=1800))
    assert (response.version, response.opcode, response.result) == (2, pcp.MAP, 0)
    assert (response.lifetime, response.epoch) == (1800, 77)
    assert response.map == pcp.MapResult(NONCE, "TCP", 8048, 8050, "203.0.113.2")
    assert pcp.check_result(response) is response


def test_options_after_the_map_body_are_read_and_padded() -> None:
    option = bytes([0x80, 0, 0, 3]) + b"abc\0"
    response = pcp.decode_response(pcp_map_response(extra=option))
    assert response.options == ((0x80, b"abc"),)


@pytest.mark.parametrize(
    ("code", "error"),
    [(1, PCPUnsupportedVersion), (2, PCPNotAuthorized), (11, PCPCannotProvideExternal),
     (12, PCPAddressMismatch)],
)  # fmt: skip
def test_each_result_code_is_its_typed_error(code: int, error: type[PCPError]) -> None:
    response = pcp.decode_response(pcp_map_response(result=code, lifetime=0))
    with pytest.raises(error) as raised:
        pcp.check_result(response)
    assert raised.value.code == code and error.name in str(raised.value)


def test_every_known_code_has_a_class_and_an_unknown_one_the_base() -> None:
    assert sorted(pcp.ERRORS) == list(range(1, 14))
    with pytest.raises(PCPError) as raised:
        pcp.check_result(pcp.decode_response(pcp_map_response(result=99, lifetime=0)))
    assert type(raised.value) is PCPError and raised.value.code == 99


def test_a_nat_pmp_only_server_refusing_version_2_reads_as_unsupp_version() -> None:
    # miniupnpd without PCP, and RFC 6886 servers: version 0, opcode+128, 16-bit result 1
    response = pcp.decode_response(struct.pack("!BBHI", 0, 0x81, 1, 500))
    assert (response.version, response.result, response.epoch) == (0, 1, 500)
    with pytest.raises(PCPUnsupportedVersion):
        pcp.check_result(response)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x02\x81\x00",
        pcp_map_response()[:59],  # not a multiple of 4
        pcp_map_response()[:56],  # MAP success without its whole body
        pcp_map_response() + bytes(1100),  # over 1100 bytes
        bytes([2, 0x01]) + pcp_map_response()[2:],  # a request, not a response
        bytes([2, 0x85]) + pcp_map_response()[2:],  # unknown opcode
        bytes([3, 0x81]) + pcp_map_response()[2:],  # version 3 that is no refusal
        pcp_map_response(extra=bytes([1, 0, 0, 8]) + bytes(4)),  # option past the end
        pcp_map_response(protocol=99),  # a success for a protocol we never ask
    ],
)
def test_malformed_pcp_is_a_typed_error(data: bytes) -> None:
    with pytest.raises(InvalidPortControlMessage):
        pcp.decode_response(data)


@FUZZ
@given(st.binary(max_size=1200))
def test_any_bytes_are_a_pcp_response_or_a_typed_error(data: bytes) -> None:
    try:
        response = pcp.decode_response(data)
    except InvalidPortControlMessage:
        return
    try:
        pcp.check_result(response)
    except PCPError:
        pass


@FUZZ
@given(st.integers(0, 255), st.integers(0, 2**32 - 1), st.binary(min_size=36, max_size=36),
       st.binary(max_size=64))  # fmt: skip
def test_mutated_map_responses_never_escape_the_typed_errors(
    result: int, lifetime: int, body: bytes, tail: bytes
) -> None:
    data = bytes([2, 0x81, 0, result]) + struct.pack("!II", lifetime, 1) + bytes(12) + body + tail
    try:
        pcp.check_result(pcp.decode_response(data))
    except (InvalidPortControlMessage, PCPError):
        pass


# -- NAT-PMP


def test_nat_pmp_requests_are_laid_out_as_rfc_6886_says() -> None:
    assert natpmp.encode_address_request() == b"\0\0"
    data = natpmp.encode_map_request("TCP", 8048, 8049, 7200)
    assert data == bytes([0, 2, 0, 0]) + struct.pack("!HHI", 8048, 8049, 7200)
    assert natpmp.encode_map_request("UDP", 9000, 0, 0)[1] == 1
    with pytest.raises(ValueError):
        natpmp.encode_map_request("TCP", 0, 1, 1)


def test_nat_pmp_responses() -> None:
    address = natpmp.decode_response(struct.pack("!BBHI4s", 0, 128, 0, 42, bytes([203, 0, 113, 2])))
    assert address == natpmp.AddressResponse(0, 42, "203.0.113.2")
    mapped = natpmp.decode_response(struct.pack("!BBHIHHI", 0, 130, 0, 43, 8048, 8050, 3600))
    assert mapped == natpmp.MapResponse(0, 43, "TCP", 8048, 8050, 3600)
    natpmp.check_result(mapped)


def test_nat_pmp_refusals_long_and_short_are_typed() -> None:
    refused = natpmp.decode_response(struct.pack("!BBHIHHI", 0, 129, 2, 43, 9000, 0, 0))
    assert isinstance(refused, natpmp.MapResponse) and refused.protocol == "UDP"
    with pytest.raises(NATPMPNotAuthorized):
        natpmp.check_result(refused)
    short = natpmp.decode_response(struct.pack("!BBHI", 0, 130, 1, 43))
    with pytest.raises(NATPMPUnsupportedVersion):
        natpmp.check_result(short)
    with pytest.raises(NATPMPError) as raised:
        natpmp.check_result(natpmp.decode_response(struct.pack("!BBHI", 0, 128, 77, 1)))
    assert raised.value.code == 77


@pytest.mark.parametrize(
    "data",
    [
        b"\0\x80",
        struct.pack("!BBHI4s", 0, 128, 0, 42, b"\1\2\3\4") + b"x",  # a success one byte long
        struct.pack("!BBHI", 0, 128, 0, 42),  # a success without its address
        struct.pack("!BBHIHHI", 1, 130, 0, 43, 8048, 8050, 3600),  # version 1
        struct.pack("!BBHIHHI", 0, 2, 0, 43, 8048, 8050, 3600),  # a request
        struct.pack("!BBHIHHI", 0, 131, 0, 43, 8048, 8050, 3600),  # opcode 3 success
    ],
)
def test_malformed_nat_pmp_is_a_typed_error(data: bytes) -> None:
    with pytest.raises(InvalidPortControlMessage):
        natpmp.decode_response(data)


@FUZZ
@given(st.binary(max_size=64))
def test_any_bytes_are_a_nat_pmp_response_or_a_typed_error(data: bytes) -> None:
    try:
        natpmp.check_result(natpmp.decode_response(data))
    except (InvalidPortControlMessage, NATPMPError):
        pass


# -- the epoch


def test_an_epoch_that_goes_back_or_runs_off_means_lost_mappings() -> None:
    assert pcp.epoch_valid(100, 1000.0, 160, 1060.0)
    assert pcp.epoch_valid(100, 1000.0, 100, 1000.5)
    assert not pcp.epoch_valid(100, 1000.0, 5, 1010.0)  # restarted
    assert not pcp.epoch_valid(100, 1000.0, 130, 1100.0)  # far behind our clock: it restarted
    assert not pcp.epoch_valid(100, 1000.0, 400, 1010.0)  # far ahead: not the same server


def test_the_epoch_watch_tells_its_observers_once_per_loss() -> None:
    clock = MemoryMulticastReactor()
    epoch = Epoch(clock)
    lost: list[int] = []
    epoch.observe(lambda: lost.append(1))
    assert epoch.saw(1000)
    clock.advance(30)
    assert epoch.saw(1030)
    clock.advance(30)
    assert not epoch.saw(2)  # restarted
    clock.advance(10)
    assert epoch.saw(12)
    assert lost == [1]
