"""
Delayed calls that can all be cancelled at once (a service stops, a search ends).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.internet.interfaces import IDelayedCall, IReactorTime


class Timers:
    """C{callLater}s on C{clock}, forgotten as they run, cancelled together by L{cancel_all}."""

    def __init__(self, clock: IReactorTime) -> None:
        self.clock = clock
        self._calls: set[IDelayedCall] = set()

    def later(self, delay: float, f: Callable[..., object], *args: Any) -> None:
        """Call C{f(*args)} after C{delay} seconds unless L{cancel_all} comes first."""

        def run() -> None:
            self._calls.discard(call)
            f(*args)

        call = self.clock.callLater(delay, run)
        self._calls.add(call)

    def cancel_all(self) -> None:
        for call in list(self._calls):
            if call.active():
                call.cancel()
        self._calls.clear()

    def __len__(self) -> int:
        return len(self._calls)
