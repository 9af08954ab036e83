"""
ScopedMulticastPort, on a fake socket: C{write} sends at once to an address
literal, through Twisted for the rest; C{doRead} hands on what it reads and
sends the unicast written meanwhile after each batch.
"""

from __future__ import annotations

import errno
from typing import Any

import pytest
from twisted.internet import error
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.testing import MemoryReactor
from twisted.logger import LogLevel, capturedLogs

from ssdp_upnp._multicast import BATCH, ScopedMulticastPort


class Socket:
    """
    A socket that records what is sent, failing with C{errors} first (0 for a
    send that succeeds), and that holds C{incoming} (datagram, address) to be
    read, then fails with C{read_error} (EAGAIN).
    """

    def __init__(self, *errors: int, incoming: list[tuple[bytes, Any]] | None = None) -> None:
        self.errors = list(errors)
        self.sent: list[tuple[bytes, Any]] = []
        self.incoming = list(incoming or [])
        self.read_error = errno.EAGAIN

    def recvfrom(self, size: int) -> tuple[bytes, Any]:
        if not self.incoming:
            raise OSError(self.read_error, "nothing")
        return self.incoming.pop(0)

    def sendto(self, data: bytes, addr: Any) -> int:
        if self.errors and (code := self.errors.pop(0)):  # (0: this send succeeds)
            raise OSError(code, "failed")
        self.sent.append((data, addr))
        return len(data)


def port(
    interface: str, sock: Socket, protocol: DatagramProtocol | None = None
) -> ScopedMulticastPort:
    protocol = protocol or DatagramProtocol()
    p = ScopedMulticastPort(0, protocol, interface, reactor=MemoryReactor())
    p.socket = sock  # type: ignore[assignment]  # (never started: no real socket)
    protocol.transport = p
    return p


class Replier(DatagramProtocol):
    """
    Writes C{answer(data, addr)} (datagram, destination) pairs for each
    datagram, noting how many datagrams the socket had sent before it.
    """

    def __init__(self, sock: Socket, answer: Any) -> None:
        self.sock = sock
        self.answer = answer
        self.sent_before: list[int] = []
        self.received: list[tuple[bytes, Any]] = []

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.received.append((datagram, addr))
        self.sent_before.append(len(self.sock.sent))
        for data, to in self.answer(datagram, addr):
            assert self.transport is not None
            self.transport.write(data, to)


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


def searches(count: int, host: str = "198.51.100.12") -> list[tuple[bytes, Any]]:
    return [(b"search %d" % i, (host, 40000 + i)) for i in range(count)]


def test_unicast_written_while_reading_is_sent_after_each_batch() -> None:
    count = 2 * BATCH + 10
    sock = Socket(incoming=searches(count))
    replier = Replier(sock, lambda data, addr: [(b"reply to " + data, addr)])
    port("", sock, replier).doRead()
    assert sock.sent == [(b"reply to " + d, a) for d, a in searches(count)]  # all, in order
    # the replies of a batch wait for its last datagram to be handed on
    assert replier.sent_before == [BATCH * (n // BATCH) for n in range(count)]


def test_writes_outside_a_read_and_multicast_and_large_datagrams_go_at_once() -> None:
    sock = Socket(incoming=searches(1))
    big = b"x" * 9000

    def answer(data: bytes, addr: Any) -> list[tuple[bytes, Any]]:
        return [(b"late", addr), (b"group", ("239.255.255.250", 1900)), (big, addr)]

    replier = Replier(sock, answer)
    p = port("", sock, replier)
    p.doRead()
    to = searches(1)[0][1]
    assert sock.sent == [(b"group", ("239.255.255.250", 1900)), (big, to), (b"late", to)]
    p.write(b"now", to)
    assert sock.sent[-1] == (b"now", to)
    six = Socket(incoming=[(b"s", ("fe80::12", 1900, 0, 0))])
    port("::", six, Replier(six, lambda d, a: [(b"r", a), (b"g", ("ff02::c", 1900))])).doRead()
    assert six.sent == [(b"g", ("ff02::c", 1900)), (b"r", ("fe80::12", 1900))]


def test_a_failing_handler_or_send_loses_nothing_else() -> None:
    incoming = searches(3)
    sock = Socket(incoming=incoming)

    def answer(data: bytes, addr: Any) -> list[tuple[bytes, Any]]:
        if data == b"search 1":
            raise ValueError("a broken handler")
        return [(b"reply to " + data, addr)]

    with capturedLogs() as events:
        port("", sock, Replier(sock, answer)).doRead()
    assert sock.sent == [
        (b"reply to search 0", incoming[0][1]),
        (b"reply to search 2", incoming[2][1]),
    ]
    assert [e["log_level"] for e in events] == [LogLevel.critical]  # the handler's failure

    # sending what waited: EINTR retried, ECONNREFUSED dropped (Twisted's rules), others logged
    failing = Socket(
        errno.EINTR, 0, errno.ENETUNREACH, errno.ENETUNREACH, errno.ECONNREFUSED,
        errno.ECONNREFUSED, incoming=searches(4),
    )  # fmt: skip
    with capturedLogs() as events:
        port("", failing, Replier(failing, lambda d, a: [(b"r" + d, a)])).doRead()
    replies = [(b"r" + d, a) for d, a in searches(4)]
    assert failing.sent == [replies[0], replies[3]]
    [warning] = events
    assert warning["log_level"] == LogLevel.warn and warning["host"] == "198.51.100.12"


def test_ipv6_senders_keep_their_zone() -> None:
    sock = Socket(incoming=[(b"a", ("fe80::12", 1900, 0, 7)), (b"b", ("2001:db8::12", 1900, 0, 0)),
                            (b"c", ("fe80::13%eth0", 1900, 0, 7))])  # fmt: skip
    replier = Replier(sock, lambda d, a: [])
    p = port("::", sock, replier)
    p._zones[7] = "eth7"  # (no lookup of this host's interfaces)
    p.doRead()
    assert [addr for _, addr in replier.received] == [
        ("fe80::12%eth7", 1900), ("2001:db8::12", 1900), ("fe80::13%eth0", 1900)]  # fmt: skip


@pytest.mark.parametrize("code", [errno.EAGAIN, errno.EINTR, errno.ECONNREFUSED])
def test_reading_stops_quietly_when_nothing_is_left(code: int) -> None:
    sock = Socket(incoming=searches(2))
    sock.read_error = code
    replier = Replier(sock, lambda d, a: [(b"r", a)])
    port("", sock, replier).doRead()
    assert len(replier.received) == 2 and len(sock.sent) == 2


def test_another_read_error_is_raised_after_sending_what_waited() -> None:
    sock = Socket(incoming=searches(2))
    sock.read_error = errno.EBADF
    with pytest.raises(OSError):
        port("", sock, Replier(sock, lambda d, a: [(b"r", a)])).doRead()
    assert len(sock.sent) == 2
