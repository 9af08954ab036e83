"""
The reactor thread behind the blocking facade (L{ssdp_upnp.ssdp}).

On first use the global reactor is started in a daemon thread, without
signal handlers; if the program already runs a reactor in another thread, that
one is used. Calls from plain threads go through C{callFromThread} and wait,
bounded, for the Deferred's result. A call from the reactor's own thread is
refused: it could only deadlock. At interpreter exit every started facade
object is stopped (so servers send byebye) and then the reactor.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, cast

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.interfaces import IReactorCore, IReactorThreads
from twisted.python import threadable
from twisted.python.failure import Failure

from ._types import ISSDPReactor
from .errors import CallTimeout, FacadeError

T = TypeVar("T")


class FacadeReactor(ISSDPReactor, IReactorCore, IReactorThreads):
    """What the facade needs of the reactor: the node's needs, running it, and threads."""


class Stoppable(Protocol):
    def stop(self) -> None: ...


class _Runtime:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.reactor: FacadeReactor | None = None
        self.live: set[Stoppable] = set()
        self._atexit = False

    def running_reactor(self) -> FacadeReactor:
        """The reactor, from code that runs in it (it is running by then)."""
        if self.reactor is None:
            raise FacadeError("the facade's reactor is not running")
        return self.reactor

    def get_reactor(self) -> FacadeReactor:
        """The running reactor, started in our thread if need be."""
        if threadable.isInIOThread():
            raise FacadeError(
                "the blocking ssdp_upnp.ssdp API was called from the reactor thread, where it"
                " would deadlock; use the Deferred API (ssdp_upnp.AdvertiserService,"
                " DiscoveryService, find_gateway) there"
            )
        with self.lock:
            if self.reactor is not None:
                return self.reactor
            from twisted.internet import reactor

            if not reactor.running:
                started = threading.Event()
                reactor.callWhenRunning(started.set)
                self.thread = threading.Thread(
                    target=reactor.run,
                    kwargs={"installSignalHandlers": False},
                    name="ssdp_upnp reactor",
                    daemon=True,
                )
                self.thread.start()
                if not started.wait(30):
                    raise FacadeError("the reactor thread did not start")
            self.reactor = cast(FacadeReactor, reactor)
            if not self._atexit:
                atexit.register(self.shutdown)
                self._atexit = True
            return self.reactor

    def call(self, f: Callable[..., Any], *args: Any, timeout: float | None) -> Any:
        """
        Run C{f(*args)} in the reactor thread and wait for its (Deferred) result.

        @raise CallTimeout: after C{timeout} seconds (the call is cancelled).
        """
        reactor = self.get_reactor()
        done = threading.Event()
        box: list[Any] = []
        pending: list[Deferred[Any]] = []

        def start() -> None:
            d = maybeDeferred(f, *args)
            pending.append(d)

            def finish(result: Any) -> None:
                box.append(result)
                done.set()

            d.addBoth(finish)

        reactor.callFromThread(start)
        if not done.wait(timeout):

            def cancel() -> None:
                for d in pending:
                    d.cancel()

            reactor.callFromThread(cancel)
            done.wait(5)
            raise CallTimeout(f"{getattr(f, '__name__', f)} did not finish in {timeout}s")
        result = box[0]
        if isinstance(result, Failure):
            result.raiseException()
        return result

    def shutdown(self) -> None:
        """Stop every live facade object, then our reactor thread (at interpreter exit)."""
        for thing in list(self.live):
            try:
                thing.stop()
            except Exception:  # noqa: BLE001 - exit must go on
                pass
        thread = self.thread
        if thread is not None and thread.is_alive() and self.reactor is not None:
            self.reactor.callFromThread(self.reactor.stop)
            thread.join(10)


runtime = _Runtime()
