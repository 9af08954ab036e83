"""
The seed's blocking API, on top of the Twisted services::

    from ssdp_upnp.ssdp import Server, Client, Nat, gen_logger

    Server(8048, 'blockchain', 'main').start()      # serves until stopped
    Client('blockchain', 'main', queue).start()     # queue.get() -> ('198.51.100.11', 8048)
    Nat().addPortForward(8011, 8015)                # ('203.0.113.2', 8015) or None

Programs written for the seed keep working without knowing Twisted is there:
one shared reactor runs in a daemon thread started on first use (see
L{ssdp_upnp._runtime}). C{start()} returns at once and runs the object in a
non-daemon thread, so a program whose main thread ends keeps serving until the
process is told to stop; C{run()} does the same in the calling thread;
C{stop()} works from any thread, any number of times, even before C{start()}.
"""

from __future__ import annotations

import logging
import queue as queue_module
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from twisted.application.service import IService
from twisted.internet.defer import Deferred, succeed
from twisted.logger import ILogObserver, Logger, LogLevel, formatEvent, globalLogPublisher
from twisted.python import threadable
from zope.interface import implementer

from ._runtime import runtime
from ._types import ISSDPReactor
from .discovery import DiscoveryService
from .errors import CallTimeout, ConfigurationError, FacadeError, SSDPUPnPError
from .forward import check_protocol
from .lan import Interface, lan_interfaces
from .mapping import IPortMapper, check_method
from .nat_ladder import NATLadder
from .node import NodeInfo
from .node_service import NodeConfig, NodeService
from .peers import Peer, RemovalReason
from .portmapping import Forward, PortMappingService
from .portmapping import Nat as TwistedNat

__all__ = ["CallTimeout", "Client", "FacadeError", "Nat", "Server", "gen_logger"]

_LEVELS = {
    LogLevel.debug: logging.DEBUG,
    LogLevel.info: logging.INFO,
    LogLevel.warn: logging.WARNING,
    LogLevel.error: logging.ERROR,
    LogLevel.critical: logging.CRITICAL,
}
_bridge_lock = threading.Lock()
_bridged = False


@implementer(ILogObserver)
def _to_stdlib(event: dict[str, Any]) -> None:
    namespace = str(event.get("log_namespace", "twisted"))
    if not namespace.startswith("ssdp_upnp"):
        return
    level = _LEVELS.get(event.get("log_level", LogLevel.info), logging.INFO)
    logger = logging.getLogger(namespace)
    if logger.isEnabledFor(level):
        text = formatEvent(event)
        failure = event.get("log_failure")
        if failure is not None:
            text = f"{text}\n{failure.getTraceback()}"
        logger.log(level, "%s", text)


def _bridge_logging() -> None:
    """Send ssdp_upnp's Twisted log events to stdlib logging (once)."""
    global _bridged
    with _bridge_lock:
        if not _bridged:
            globalLogPublisher.addObserver(_to_stdlib)
            _bridged = True


class _Formatter(logging.Formatter):
    COLOURS = {
        logging.DEBUG: "\033[36m",
        logging.INFO: "\033[32m",
        logging.WARNING: "\033[33m",
        logging.ERROR: "\033[31m",
        logging.CRITICAL: "\033[1;31m",
    }

    def __init__(self, colour: bool) -> None:
        super().__init__("%(asctime)s %(levelname)-8s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")
        self.colour = colour

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if self.colour:
            return f"{self.COLOURS.get(record.levelno, '')}{text}\033[0m"
        return text


def _stderr_logger(name: str, level: str | int) -> logging.Logger:
    """The stdlib logger C{name} at C{level}, writing readable lines to stderr (once)."""
    logger = logging.getLogger(name)
    logger.setLevel(level if isinstance(level, int) else level.upper())
    if not any(getattr(h, "_ssdp_upnp", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_Formatter(colour=sys.stderr.isatty()))
        handler._ssdp_upnp = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    return logger


def gen_logger(name: str, level: str | int = "INFO") -> logging.Logger:
    """
    A stdlib logger writing readable lines to stderr (in colour on a terminal),
    at C{level} (C{'INFO'} by default, as in 0.1.0). ssdp_upnp's own log events
    reach stdlib logging too (under C{ssdp_upnp.*}).
    """
    logger = _stderr_logger(name, level)
    library = logging.getLogger("ssdp_upnp")
    if not library.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_Formatter(colour=sys.stderr.isatty()))
        library.addHandler(handler)
        library.setLevel(logging.INFO)
    _bridge_logging()
    return logger


#: 0.1.0's module logger (C{from ssdp_upnp.ssdp import logger}), as it was: "upnp", INFO.
logger = _stderr_logger("upnp", "INFO")
_log = Logger()


def _install_sigterm() -> None:
    """
    Stop cleanly (byebye) on SIGTERM, if the program has no SIGTERM handler of
    its own and this is the main thread. While the main thread still runs the
    program, SystemExit ends it (and the exit handlers stop what runs); once it
    has ended and only started servers keep the process, they are stopped and
    the process ends normally.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:

        def terminate(signum: int, frame: Any) -> None:
            if threading.main_thread().is_alive():
                raise SystemExit(128 + signum)
            runtime.shutdown()

        signal.signal(signal.SIGTERM, terminate)


class _Runner:
    """
    start/run/stop around a Twisted service, shared by Server and Client.

    C{start()} and C{stop()} only say what is wanted; one serving thread
    starts and stops the service to match, so that of any calls from any
    threads the last one wins (C{start(); stop(); start()} serves).
    """

    #: whether start()'s thread lets the program end while it runs
    daemon = False

    def __init__(self) -> None:
        self._state = threading.Condition()
        self._want = False  # what the last start() or stop() asked for
        self._thread: threading.Thread | None = None  # the serving thread, while it lives
        self._service: IService | None = None
        #: set once the service runs (or failed to start: see C{error})
        self.started = threading.Event()
        self.error: BaseException | None = None

    def _make_service(self, reactor: ISSDPReactor) -> IService:
        raise NotImplementedError

    def start(self) -> None:
        """Serve in a thread of its own (non-daemon for a server); return at once."""
        with self._state:
            self._want = True
            self.error = None
            self._state.notify_all()
            if self._thread is None:
                self.started.clear()
                self._thread = threading.Thread(
                    target=self._serve, name=type(self).__name__, daemon=self.daemon
                )
                self._thread.start()
        _install_sigterm()

    def run(self) -> None:
        """
        Serve until L{stop} from another thread (or KeyboardInterrupt, re-raised
        once stopped). An error in starting is raised here.
        """
        try:
            self.start()  # a KeyboardInterrupt while starting stops too
            while True:
                with self._state:
                    thread = self._thread
                if thread is None:
                    break
                thread.join(0.5)
        except KeyboardInterrupt:
            self.stop()
            raise
        if self.error is not None:
            raise self.error

    def _serve(self) -> None:
        _bridge_logging()
        while True:
            with self._state:
                while self._want and self._service is not None:  # serving, as wanted
                    self._state.wait(0.5)
                want = self._want
            if not want:
                self._stop_service()
                with self._state:
                    if not self._want:  # else a start() came meanwhile: serve again
                        self._thread = None
                        self._state.notify_all()
                        return
                continue
            try:
                runtime.call(self._start_service, timeout=30)
            except BaseException as e:  # noqa: BLE001 - reported through error and run()
                logging.getLogger("ssdp_upnp").error("%s did not start: %s", type(self).__name__, e)
                with self._state:
                    self.error = e
                    self._want = False
                    self._thread = None
                    self._state.notify_all()
                self.started.set()
                return
            runtime.live.add(self)
            self.started.set()

    def _start_service(self) -> None:
        service = self._make_service(runtime.running_reactor())
        service.startService()
        self._service = service

    def _stop_service(self) -> None:
        runtime.live.discard(self)
        service = self._service
        if service is not None and runtime.reactor is not None:
            try:
                runtime.call(service.stopService, timeout=10)
            except (SSDPUPnPError, FacadeError):
                pass
        with self._state:
            self._service = None
            self._state.notify_all()

    def stop(self) -> None:
        """
        Stop (a server sends byebye), and return once stopped (15 s at most).
        From any thread, any number of times, fine before start.
        """
        with self._state:
            self._want = False
            self._state.notify_all()
            thread = self._thread
        runtime.live.discard(self)
        if thread is None or thread is threading.current_thread() or threadable.isInIOThread():
            return
        deadline = time.monotonic() + 15
        with self._state:
            while self._thread is thread and not self._want:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._state.wait(min(left, 0.5))

    def join(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def is_alive(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()


def _given(interfaces: Sequence[Interface] | None) -> Callable[[], list[Interface]] | None:
    """The interfaces a program named (a fixed list), or None for the host's LAN ones."""
    if not interfaces:
        return None
    chosen = list(interfaces)
    return lambda: chosen


class Server(_Runner):
    """
    Advertise this node: C{Server(8048, 'blockchain', 'main').start()}.

    The uuid and boot id are kept in the default state file of
    (product, network, port) unless C{state_file} says otherwise.
    """

    def __init__(
        self,
        port: int,
        product: str,
        network: str = "main",
        *,
        interfaces: Sequence[Interface] | None = None,
        state_file: str | None = None,
        node_id: str | None = None,
        max_age: int = 1800,
        legacy: bool = True,
        families: Sequence[int] = (4, 6),
    ) -> None:
        super().__init__()
        self.config = NodeConfig(
            product, network, port, node_id=node_id, state_file=state_file, max_age=max_age,
            discover=False, legacy=legacy, families=tuple(families),
        )  # fmt: skip
        self.interfaces = interfaces
        self.node: NodeInfo | None = None

    def _make_service(self, reactor: ISSDPReactor) -> IService:
        service = NodeService(self.config, reactor, interfaces=_given(self.interfaces))
        self.node = service.node
        return service


#: Seconds a peer first heard over IPv6 waits for its IPv4 address before the queue has it.
SETTLE = 1.0


class _QueueObserver:
    """
    Puts each peer's C{(host, port)} into the queue: its IPv4 address when it
    has one, so a peer first heard over IPv6 waits L{SETTLE} seconds for its
    IPv4 one (both families announce at once) when discovery runs on both.
    """

    def __init__(
        self,
        added: queue_module.Queue[Any],
        removed: queue_module.Queue[Any] | None,
        discovery: DiscoveryService | None = None,
    ):
        self.added = added
        self.removed = removed
        self.discovery = discovery
        self._given: dict[str, tuple[str, int]] = {}  # what the queue has, by peer key
        self._waiting: dict[str, Any] = {}

    def peer_added(self, peer: Peer) -> None:
        discovery = self.discovery
        if (
            discovery is not None
            and ":" in peer.host
            and any(i.family == 4 for i in discovery.interfaces)
        ):
            self._waiting[peer.key] = discovery.clock.callLater(SETTLE, self._settled, peer.key)
            return
        self._put(peer)

    def _settled(self, key: str) -> None:
        self._waiting.pop(key, None)
        assert self.discovery is not None
        peer = self.discovery.table.get(key)
        if peer is not None:
            self._put(peer)

    def _put(self, peer: Peer) -> None:
        self._given[peer.key] = peer.address
        self.added.put(peer.address)

    def peer_removed(self, peer: Peer, reason: RemovalReason) -> None:
        waiting = self._waiting.pop(peer.key, None)
        if waiting is not None:
            waiting.cancel()
            if reason is RemovalReason.STOPPED:
                return
        given = self._given.pop(peer.key, peer.address)
        if self.removed is not None and reason is not RemovalReason.STOPPED and waiting is None:
            self.removed.put(given)


class Client(_Runner):
    """
    Discover peers: each peer's C{(ip, port)} is put into C{queue} once per
    appearance (and into C{removed}, if given, when it leaves).

    Unlike a L{Server}, a started client does not keep the program alive once
    its main thread ends (nobody would read the queue); C{run()} blocks as usual.
    """

    daemon = True

    def __init__(
        self,
        product: str,
        network: str = "main",
        queue: queue_module.Queue[Any] | None = None,
        *,
        removed: queue_module.Queue[Any] | None = None,
        interfaces: Sequence[Interface] | None = None,
        search_interval: float = 60.0,
        exclude: Sequence[str] = (),
        legacy: bool = True,
        families: Sequence[int] = (4, 6),
    ) -> None:
        super().__init__()
        self.config = NodeConfig(
            product, network, advertise=False, search_interval=search_interval,
            exclude=tuple(exclude), legacy=legacy, families=tuple(families),
        )  # fmt: skip
        self.queue: queue_module.Queue[Any] = queue if queue is not None else queue_module.Queue()
        self.removed = removed
        self.interfaces = interfaces
        self.discovery: DiscoveryService | None = None

    def _make_service(self, reactor: ISSDPReactor) -> IService:
        service = NodeService(self.config, reactor, interfaces=_given(self.interfaces))
        assert service.discovery is not None
        service.discovery.observe(_QueueObserver(self.queue, self.removed, service.discovery))
        self.discovery = service.discovery
        return service

    def peers(self) -> list[tuple[str, int]]:
        """The live peers now."""
        discovery = self.discovery
        if discovery is None:
            return []
        peers: list[tuple[str, int]] = runtime.call(
            lambda: [p.address for p in discovery.peers()], timeout=10
        )
        return peers


class Nat:
    """
    Open a port on the LAN's router: C{Nat().addPortForward(8011, 8015)}.

    Every forward added is kept while the process runs: renewed before its
    C{lease} (seconds, at least 120) ends and made again after a router
    restart, by the same L{PortMappingService} that C{twistd ssdp --forward}
    uses, until L{removePortForward}. Once the process ends, a forward lives
    out its lease (a crashed node exposes nothing for longer). Each call
    blocks for at most C{timeout} seconds.
    """

    def __init__(
        self,
        *,
        protocol: str = "TCP",
        lease: int = 3600,
        timeout: float = 15.0,
        interfaces: Sequence[Interface] | None = None,
        description_url: str | None = None,
        method: str = "auto",
    ) -> None:
        if lease < 120:
            raise ConfigurationError(f"lease {lease} is under 120 seconds")
        self.method = check_method(method)
        self._ladder: NATLadder | None = None
        self.protocol = check_protocol(protocol)
        self.lease = lease
        self.timeout = timeout
        self.interfaces = interfaces
        self.description_url = description_url
        self._keeper: PortMappingService | None = None  # made in the reactor thread
        # removal looks first and removes only our own mapping
        self._nat = TwistedNat(self._known_gateway, protocol=protocol, lease=lease)

    def _find(self) -> Deferred[IPortMapper]:
        if self._ladder is None:
            self._ladder = NATLadder(
                runtime.running_reactor(), [], method=self.method,
                description_url=self.description_url, timeout=min(self.timeout, 10.0),
            )  # fmt: skip
        self._ladder.interfaces = list(self.interfaces or lan_interfaces())
        return self._ladder()

    def _known_gateway(self) -> Deferred[IPortMapper]:
        keeper = self._keeper
        if keeper is not None and keeper.gateway is not None:
            return succeed(keeper.gateway)
        return self._find()

    async def _add(
        self, internal: int, external: int, protocol: str | None
    ) -> tuple[str, int] | None:
        if self._keeper is None:
            # its first pass a check interval on (the add below maps at once), then it keeps
            # what was added and clears what a timed-out add left
            self._keeper = PortMappingService(runtime.running_reactor(), [], self._find,
                                              lease=self.lease, first_check=60.0)  # fmt: skip
            self._keeper.startService()
        keeper = self._keeper
        try:
            forward = Forward(internal, external, check_protocol(protocol or self.protocol))
            mapping = await keeper.add(forward)
        except SSDPUPnPError as e:
            _log.error("addPortForward({internal}, {external}) failed: {error}",
                       internal=internal, external=external, error=e)  # fmt: skip
            return None
        assert keeper.external_ip is not None
        return (keeper.external_ip, mapping.external_port)

    async def _remove(self, external: int, protocol: str | None) -> bool:
        proto = check_protocol(protocol or self.protocol)
        keeper = self._keeper
        if keeper is not None:
            for forward in [f for f in keeper.forwards
                            if (f.external_port, f.protocol) == (external, proto)]:  # fmt: skip
                keeper.forget(forward)
        return await self._nat.removePortForward(external, proto)

    def addPortForward(
        self, internal_port: int, external_port: int, protocol: str | None = None
    ) -> tuple[str, int] | None:
        """
        Forward C{external_port} on the gateway to this host's C{internal_port},
        and keep it forwarded while the process runs.

        @return: C{(external_ip, external_port)}, or None: no gateway, a
            refusal, or no answer in time (logged).
        """
        _bridge_logging()
        try:
            forwarded: tuple[str, int] | None = runtime.call(
                self._add, internal_port, external_port, protocol, timeout=self.timeout
            )
            return forwarded
        except CallTimeout:
            logging.getLogger("ssdp_upnp").error("addPortForward: no answer in %ss", self.timeout)
            return None

    def removePortForward(self, external_port: int, protocol: str | None = None) -> bool:
        """
        Stop keeping the forward of C{external_port} and remove it from the
        gateway if it is this host's.

        @return: True if a forward of this host was removed; False otherwise
            (nothing there, another host's, no answer in time).
        """
        _bridge_logging()
        try:
            removed: bool = runtime.call(self._remove, external_port, protocol,
                                         timeout=self.timeout)  # fmt: skip
            return removed
        except CallTimeout:
            logging.getLogger("ssdp_upnp").error("removePortForward: no answer in %ss",
                                                 self.timeout)  # fmt: skip
            return False
