"""ScopedMulticastPort.write: at once for an address literal, through Twisted for the rest."""

from __future__ import annotations

import errno
from typing import Any

import pytest
from twisted.internet import error
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.testing import MemoryReactor

from ssdp_upnp._multicast import ScopedMulticastPort


class Socket:
    """A socket that records what is sent, failing with C{errors} first."""

    def __init__(self, *errors: int) -> None:
        self.errors = list(errors)
        self.sent: list[tuple[bytes, Any]] = []

    def sendto(self, data: bytes, addr: Any) -> int:
        if self.errors:
            raise OSError(self.errors.pop(0), "failed")
        self.sent.append((data, addr))
        return len(data)


def port(interface: str, sock: Socket) -> ScopedMulticastPort:
    p = ScopedMulticastPort(0, DatagramProtocol(), interface, reactor=MemoryReactor())
    p.socket = sock  # type: ignore[assignment]  # (never started: no real socket)
    return p


@pytest.mark.parametrize(
    ("interface", "addr"),
    [("", ("198.51.100.12", 1900)), ("", ("239.255.255.250", 1900)),
     ("::", ("fe80::12", 1900)), ("::", ("ff02::c", 1900))],
)  # fmt: skip
def test_a_literal_of_the_ports_family_is_sent_once(interface: str, addr: Any) -> None:
    sock = Socket()
    port(interface, sock).write(b"reply", addr)
    assert sock.sent == [(b"reply", addr)]


@pytest.mark.parametrize(
    ("interface", "addr"),
    [("", ("example.com", 1900)), ("", ("fe80::12", 1900)), ("::", ("198.51.100.12", 1900))],
)  # fmt: skip
def test_anything_else_meets_twisteds_checks(interface: str, addr: Any) -> None:
    sock = Socket()
    with pytest.raises(error.InvalidAddressError):
        port(interface, sock).write(b"reply", addr)
    assert sock.sent == []  # never resolved, never sent


def test_a_zone_goes_through_twisted() -> None:
    sock = Socket()
    port("::", sock).write(b"reply", ("fe80::12%eth0", 1900))
    assert sock.sent == [(b"reply", ("fe80::12%eth0", 1900))]


def test_errors_are_twisteds() -> None:
    interrupted = Socket(errno.EINTR)
    port("", interrupted).write(b"a", ("198.51.100.12", 1900))
    assert interrupted.sent == [(b"a", ("198.51.100.12", 1900))]  # sent once, after the retry
    with pytest.raises(error.MessageLengthError):
        port("", Socket(errno.EMSGSIZE, errno.EMSGSIZE)).write(b"a", ("198.51.100.12", 1900))
    refused = Socket(errno.ECONNREFUSED, errno.ECONNREFUSED)
    port("", refused).write(b"a", ("198.51.100.12", 1900))  # dropped, as Twisted does
    assert refused.sent == []
    with pytest.raises(OSError):
        port("", Socket(errno.ENETUNREACH, errno.ENETUNREACH)).write(b"a", ("198.51.100.12", 1))
