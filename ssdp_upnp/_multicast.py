"""
Small helpers around Twisted's multicast transport, shared by the services.

They keep the Deferreds of C{setOutgoingInterface}, C{joinGroup},
C{leaveGroup} and C{stopListening} instead of dropping them.
L{GroupMembership} is which interfaces one port has joined the SSDP group on.
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


def close_port(transport: IMulticastTransport) -> Deferred[None]:
    """Stop listening on a multicast port (that has joined no group)."""
    stopped = cast(IListeningPort, transport).stopListening()
    return stopped if isinstance(stopped, Deferred) else succeed(None)


class GroupMembership:
    """
    The interfaces on which one multicast port has joined the SSDP group.

    A failed join is logged (multicast on that interface will not be
    received) and not counted; leaving an interface never joined is a no-op.
    """

    def __init__(self, transport: IMulticastTransport) -> None:
        self.transport = transport
        self._joined: list[Interface] = []

    @property
    def joined(self) -> list[Interface]:
        """The interfaces joined, in the order they were."""
        return list(self._joined)

    def join(self, interface: Interface) -> Deferred[None]:
        """Join the group on C{interface}; the Deferred fires when done (never fails)."""

        def done(_: object) -> None:
            self._joined.append(interface)

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
                "cannot join {group} on {interface} ({name}): {error}; multicast on it will"
                " not be received",
                group=SSDP_GROUP,
                interface=interface.ip,
                name=interface.name,
                error=failure.getErrorMessage(),
            )

        return self.transport.joinGroup(SSDP_GROUP, interface.ip).addCallbacks(done, failed)

    def leave(self, interface: Interface) -> Deferred[None]:
        """Leave the group on C{interface} if joined; a failure (the interface is already
        gone) is expected and ignored."""
        if interface not in self._joined:
            return succeed(None)
        self._joined.remove(interface)
        return self.transport.leaveGroup(SSDP_GROUP, interface.ip).addErrback(lambda _: None)

    def close(self) -> Deferred[None]:
        """Leave the group on every interface joined, then stop listening."""
        leaves = [self.transport.leaveGroup(SSDP_GROUP, i.ip) for i in self._joined]
        self._joined.clear()
        return DeferredList(leaves, consumeErrors=True).addCallback(
            lambda _: close_port(self.transport)
        )
