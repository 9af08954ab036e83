"""
Unsolicited news from the gateway on 224.0.0.1:5350 (and [ff02::1]:5350 for
an IPv6 gateway): PCP ANNOUNCE after a
restart (RFC 6887 14.1.3) and NAT-PMP external address notices (RFC 6886
3.2.1). Only datagrams from the gateway's own address and port 5351 count.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from twisted.internet.interfaces import IListeningPort
from twisted.internet.protocol import DatagramProtocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from . import natpmp, pcp
from ._inbound import DropLog
from ._types import ISSDPReactor
from .errors import InvalidPortControlMessage

ALL_HOSTS = "224.0.0.1"
ALL_NODES = "ff02::1"
log = Logger()


class AnnouncementListener(DatagramProtocol):
    """
    Hand the gateway's unsolicited PCP responses to C{pcp} and NAT-PMP
    address responses to C{natpmp}; drop (and count) everything else.
    """

    def __init__(
        self,
        reactor: ISSDPReactor,
        gateway: str,
        local_address: str,
        *,
        pcp: Callable[[pcp.Response], object] | None = None,
        natpmp: Callable[[natpmp.AddressResponse], None] | None = None,
        port: int = pcp.CLIENT_PORT,
    ) -> None:
        self.reactor = reactor
        self.gateway = gateway
        self.local_address = local_address
        self.on_pcp = pcp
        self.on_natpmp = natpmp
        self.port_number = port
        self.drops = DropLog(log, reactor, what="announcement")
        self._port: IListeningPort | None = None

    def start(self) -> None:
        """Listen (shared with other listeners on this host); a failure is logged."""
        ipv6 = ":" in self.local_address
        try:
            port = self.reactor.listenMulticast(self.port_number, self, listenMultiple=True,
                                                interface="::" if ipv6 else "")  # fmt: skip
        except OSError as e:
            log.warn("cannot listen for gateway announcements on port {port}: {error}",
                     port=self.port_number, error=e)  # fmt: skip
            return
        self._port = cast(IListeningPort, port)
        # every host is in 224.0.0.1 (ff02::1) already; joining makes the delivery explicit
        # (Twisted joins IPv6 groups only without an interface: PROTOCOL.md)
        if ipv6:
            port.joinGroup(ALL_NODES).addErrback(self._not_joined)
        else:
            port.joinGroup(ALL_HOSTS, self.local_address).addErrback(self._not_joined)

    def _not_joined(self, failure: Failure) -> None:
        log.debug("joining the all-hosts group: {error}", error=failure.getErrorMessage())

    def datagramReceived(self, data: bytes, addr: Any) -> None:
        host, port = addr[0], addr[1]
        if (str(host).split("%", 1)[0], port) != (self.gateway.split("%", 1)[0], pcp.SERVER_PORT):
            self.drops.drop("not from the gateway", host, port)
            return
        try:
            if data[:1] == bytes([pcp.VERSION]) and self.on_pcp is not None:
                answer = pcp.decode_response(data)
                if answer.opcode == pcp.ANNOUNCE:
                    self.on_pcp(answer)
                    return
            elif data[:1] == bytes([natpmp.VERSION]) and self.on_natpmp is not None:
                notice = natpmp.decode_response(data)
                if isinstance(notice, natpmp.AddressResponse):
                    self.on_natpmp(notice)
                    return
        except InvalidPortControlMessage as e:
            self.drops.drop("malformed", host, port, detail=str(e))
            return
        self.drops.drop("not an announcement", host, port)

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            port.stopListening()
