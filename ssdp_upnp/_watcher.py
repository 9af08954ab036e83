"""
Following the host's interfaces while a node runs.

Addresses change (DHCP, a VPN, a cable moved to another LAN): every
C{interval} seconds L{InterfaceWatcher} reads the interfaces the node should
use into its L{LANInterfaces}, which tells every part that follows it (the
advertiser and discovery serve, join and search on new ones and drop the ones
gone; the port mapping moves its forwards to the new address).
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.application.internet import TimerService
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from .errors import NoInterfaceError, SSDPUPnPError
from .lan import FollowsInterfaces, Interface, LANInterfaces


class InterfaceWatcher(TimerService):
    log = Logger()

    def __init__(self, reactor: IReactorTime, lan: LANInterfaces, interval: float = 30.0) -> None:
        super().__init__(interval, self.check)
        self.clock = reactor
        self.lan = lan
        #: called after every look, changed or not (what follows more than IPv4 addresses)
        self.also: list[Callable[[], None]] = []

    @property
    def followers(self) -> list[FollowsInterfaces]:
        return self.lan.followers

    def check(self) -> None:
        """Read the interfaces; if they changed, tell every follower; then the others."""
        self._check_ipv4()
        for call in list(self.also):
            try:
                call()
            except (SSDPUPnPError, OSError) as e:
                self.log.warn("cannot follow the interfaces: {error}", error=e)

    def _check_ipv4(self) -> None:
        before = self.lan.current
        try:
            now: list[Interface] = list(self.lan.read())
        except NoInterfaceError as e:  # read, and none is there: they really went away
            now = []
            self.log.warn("no usable interface now: {error}", error=e)
        except (SSDPUPnPError, OSError) as e:
            # reading failed (out of descriptors, say): that says nothing of the interfaces
            self.log.warn(
                "cannot read the interfaces ({error}); keeping {current}",
                error=e,
                current=[i.ip for i in before],
            )
            return
        if now == before:
            return
        self.log.info(
            "interfaces changed: {before} -> {after}",
            before=[i.ip for i in before],
            after=[i.ip for i in now],
        )
        self.lan.update(now)
