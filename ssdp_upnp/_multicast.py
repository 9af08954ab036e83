"""
Small helpers around Twisted's multicast transport, shared by the services.

They keep the Deferreds of C{setOutgoingInterface}, C{joinGroup},
C{leaveGroup} and C{stopListening} instead of dropping them.
"""

from __future__ import annotations

import errno
from collections.abc import Sequence
from typing import cast

from twisted.internet.defer import Deferred, DeferredList, succeed
from twisted.internet.error import MulticastJoinError
from twisted.internet.interfaces import IListeningPort, IMulticastTransport
from twisted.logger import Logger
from twisted.python.failure import Failure

from .lan import Interface
from .message import SSDP_GROUP, SSDP_PORT

log = Logger()


def send_to_group(
    transport: IMulticastTransport,
    interface: Interface,
    datagrams: Sequence[bytes],
    port: int = SSDP_PORT,
) -> Deferred[None]:
    """
    Send C{datagrams} to the SSDP group out of C{interface}.

    @return: a Deferred that fires when they are written; a failure to send
        (an interface gone down) is logged and swallowed.
    """

    def write(_: object) -> None:
        for datagram in datagrams:
            transport.write(datagram, (SSDP_GROUP, port))

    def failed(failure: Failure) -> None:
        log.warn(
            "cannot send to {group} on {interface}: {error}",
            group=SSDP_GROUP,
            interface=interface.ip,
            error=failure.getErrorMessage(),
        )

    d = transport.setOutgoingInterface(interface.ip)
    return d.addCallback(write).addErrback(failed)


def join_group(
    transport: IMulticastTransport, interface: Interface, joined: list[Interface]
) -> Deferred[None]:
    """Join the SSDP group on C{interface}; append it to C{joined} on success, log a failure."""

    def done(_: object) -> None:
        joined.append(interface)

    def failed(failure: Failure) -> None:
        error = failure.value
        if isinstance(error, MulticastJoinError) and errno.EADDRINUSE in error.args:
            # a second address of an interface already joined: the membership is per device
            log.info(
                "{group} already joined on the device of {interface}",
                group=SSDP_GROUP,
                interface=interface.ip,
            )
            return
        log.error(
            "cannot join {group} on {interface} ({name}): {error}; multicast on it will not"
            " be received",
            group=SSDP_GROUP,
            interface=interface.ip,
            name=interface.name,
            error=failure.getErrorMessage(),
        )

    return transport.joinGroup(SSDP_GROUP, interface.ip).addCallbacks(done, failed)


def leave_group(
    transport: IMulticastTransport, interface: Interface, joined: list[Interface]
) -> Deferred[None]:
    """Leave the SSDP group on C{interface} if it is in C{joined}; a failure (the interface is
    already gone) is expected and ignored."""
    if interface not in joined:
        return succeed(None)
    joined.remove(interface)
    return transport.leaveGroup(SSDP_GROUP, interface.ip).addErrback(lambda _: None)


def close_multicast(transport: IMulticastTransport, joined: list[Interface]) -> Deferred[None]:
    """Leave the group on every interface in C{joined}, then stop listening."""
    leaves = [transport.leaveGroup(SSDP_GROUP, i.ip) for i in joined]
    joined.clear()

    def stop(_: object) -> Deferred[None] | None:
        return cast(IListeningPort, transport).stopListening()

    return DeferredList(leaves, consumeErrors=True).addCallback(stop)
