"""
Following the host's interfaces while a node runs.

Addresses change (DHCP, a VPN, a cable moved to another LAN): every
C{interval} seconds L{InterfaceWatcher} reads the interfaces the node should
use and, when they differ, hands the new list to each service's
C{update_interfaces} (the advertiser and discovery serve, join and search on
new ones and drop the ones gone).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from twisted.application.internet import TimerService
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger

from .errors import SSDPUPnPError
from .lan import Interface


class FollowsInterfaces(Protocol):
    def update_interfaces(self, current: Sequence[Interface]) -> None: ...


class InterfaceWatcher(TimerService):
    log = Logger()

    def __init__(
        self,
        reactor: IReactorTime,
        source: Callable[[], Sequence[Interface]],
        followers: Sequence[FollowsInterfaces],
        current: Sequence[Interface],
        interval: float = 30.0,
    ) -> None:
        super().__init__(interval, self.check)
        self.clock = reactor
        self.source = source
        self.followers = list(followers)
        self.current = list(current)

    def check(self) -> None:
        """Read the interfaces; if they changed, tell every follower."""
        try:
            now = list(self.source())
        except (SSDPUPnPError, OSError) as e:
            now = []
            self.log.warn("no usable interface now: {error}", error=e)
        if now == self.current:
            return
        self.log.info(
            "interfaces changed: {before} -> {after}",
            before=[i.ip for i in self.current],
            after=[i.ip for i in now],
        )
        self.current = now
        for follower in self.followers:
            follower.update_interfaces(now)
