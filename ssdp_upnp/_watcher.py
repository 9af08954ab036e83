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

from twisted.application.service import Service
from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from .errors import NoInterfaceError, SSDPUPnPError
from .lan import FollowsInterfaces, Interface, LANInterfaces


class InterfaceWatcher(Service):
    """
    Look at the interfaces at start and every C{interval} seconds (a
    C{LoopingCall}: Twisted's C{TimerService} would import its client
    service machinery, 30 ms of a node's start on a slow host).
    """

    log = Logger()

    def __init__(self, reactor: IReactorTime, lan: LANInterfaces, interval: float = 30.0) -> None:
        self.clock = reactor
        self.interval = interval
        self.lan = lan
        #: called after every look, changed or not (what follows more than IPv4 addresses)
        self.also: list[Callable[[], None]] = []
        self._loop: LoopingCall | None = None

    def startService(self) -> None:
        super().startService()
        loop = self._loop = LoopingCall(self._look)
        loop.clock = self.clock
        loop.start(self.interval, now=True)

    def stopService(self) -> None:
        super().stopService()
        loop, self._loop = self._loop, None
        if loop is not None and loop.running:
            loop.stop()

    def _look(self) -> None:
        try:
            self.check()
        except Exception:  # a follower's bug must not stop the looking
            self.log.failure("following the interfaces")

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
