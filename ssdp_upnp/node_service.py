"""
One node, assembled in one place.

L{NodeConfig} is what an operator or a program says of a node (checked when
it is made); L{NodeService} builds the node from it: the state file gives the
uuid and a rising boot id for its L{NodeInfo}, one L{LANInterfaces} is the
list of interfaces every part runs on (the L{InterfaceWatcher} refreshes it,
the advertiser, discovery and port mapping follow it), and once the node's
service port is forwarded its public address is advertised. C{twistd ssdp},
the blocking C{Server} and C{Client} and C{ssdp-upnp advertise} all run one.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from twisted.application.service import IService, MultiService, Service
from twisted.internet.defer import Deferred
from twisted.logger import Logger

if TYPE_CHECKING:
    from .mapping import IPortMapper
    from .nat_ladder import NATLadder, PinholeLadder
    from .portmapping import PortMappingService

from ._types import HTTPClient, ISSDPReactor, global_reactor
from ._watcher import InterfaceWatcher
from .advertiser import AdvertiserLimits, AdvertiserService
from .discovery import DiscoveryService
from .errors import ConfigurationError
from .forward import Forward
from .lan import (
    FAMILIES,
    FollowsInterfaces,
    Interface,
    LANInterfaces,
    lan_choice,
    lan_interfaces,
    public_ipv6_addresses,
)
from .mapping import check_method
from .message import DEFAULT_MAX_AGE
from .node import NodeInfo, check_network, check_node_id, check_port, check_product, check_uuid
from .state import default_state_path, load_state


@dataclass(frozen=True)
class NodeConfig:
    """
    What a node is and does. Product, network, port, node id and uuid are
    checked when it is made (L{ConfigurationError}); the services check the rest.

    @ivar interfaces: interface names or IPv4 addresses (empty: every LAN one:
        not loopback, link-local, container bridges, tunnels, point-to-point
        links or public addresses; see L{ssdp_upnp.lan.skip_reason}).
    @ivar exclude_interfaces: names or addresses never used.
    @ivar state_file: where the uuid and boot id are kept (default: per
        product, network and port under C{$XDG_STATE_HOME/ssdp-upnp}).
    @ivar search_interval: seconds between discovery searches (None: once).
    @ivar rescan_interval: seconds between looks at the host's interfaces (0: never).
    @ivar exclude: uuids discovery never reports (besides the node's own).
    @ivar nat_method: how to forward ports: C{auto} (PCP, then NAT-PMP, then
        UPnP IGD: L{ssdp_upnp.nat_ladder}), C{pcp}, C{natpmp} or C{upnp}.
    @ivar ipv6: open each forward on the IPv6 firewall too, for every public
        IPv6 address of the interfaces in use (PCP, else IGD2 pinholes).
    @ivar families: the address families SSDP runs on: C{(4, 6)} (default),
        C{(4,)} or C{(6,)}. IPv6 SSDP uses ff02::c on every chosen link.
    @ivar site_scope: also hear ff05::c on IPv6 links with a global or ULA address.
    @ivar legacy: answer ssdp-upnp 0.1.0 clients and find 0.1.0 servers
        (L{ssdp_upnp.legacy}), so that a network upgraded node by node stays one.
    """

    product: str
    network: str = "main"
    port: int = 8048
    node_id: str | None = None
    uuid: str | None = None
    state_file: str | None = None
    interfaces: tuple[str, ...] = ()
    exclude_interfaces: tuple[str, ...] = ()
    advertise: bool = True
    discover: bool = True
    http_port: int = 0
    max_age: int = DEFAULT_MAX_AGE
    ttl: int = 2
    mx: int = 2
    search_interval: float | None = 60.0
    forwards: tuple[Forward, ...] = ()
    lease: int = 3600
    check_interval: float = 60.0
    gateway_url: str | None = None
    nat_method: str = "auto"
    ipv6: bool = True
    rescan_interval: float = 30.0
    exclude: tuple[str, ...] = ()
    legacy: bool = True
    max_peers: int = 1024
    limits: AdvertiserLimits = AdvertiserLimits()
    families: tuple[int, ...] = FAMILIES
    site_scope: bool = True

    def __post_init__(self) -> None:
        check_product(self.product)
        check_network(self.network)
        check_port(self.port)
        if self.node_id is not None:
            check_node_id(self.node_id)
        if self.uuid is not None:
            object.__setattr__(self, "uuid", check_uuid(self.uuid))
        if not (self.advertise or self.discover or self.forwards):
            raise ConfigurationError("a node that neither advertises, discovers nor forwards")
        if not 1 <= self.max_peers <= 1_000_000:
            raise ConfigurationError(f"max peers {self.max_peers} is not in 1..1000000")
        if self.gateway_url is not None and not self.gateway_url.startswith("http://"):
            raise ConfigurationError(f"gateway URL {self.gateway_url!r} is not an http:// URL")
        object.__setattr__(self, "nat_method", check_method(self.nat_method))
        families = tuple(sorted(set(self.families)))
        if not families or not set(families) <= set(FAMILIES):
            raise ConfigurationError(f"address families {self.families!r}: use 4, 6 or both")
        object.__setattr__(self, "families", families)

    def state_path(self) -> Path:
        if self.state_file:
            return Path(self.state_file)
        return default_state_path(self.product, self.network, self.port)


class NodeService(MultiService):
    """
    A whole node as one service: its advertiser, discovery, port mapping and
    interface watcher, as C{config} asks (children in that order).

    @param interfaces: the interfaces to run on now, read again at each
        rescan (default: C{config.interfaces} among the host's own).
    @param http: the HTTP client toward the gateway (default: treq on C{reactor}).
    @param ipv6_addresses: the public IPv6 addresses (address, interface name)
        on the interfaces named, which pinholes are opened for (default: the
        host's; none when C{interfaces} is given).
    @raise ConfigurationError: an interface is unknown or there is none.
    @raise StateFileError: the state file is unusable (only a node that advertises has one).

    @ivar node: the node's identity, if it advertises (else None).
    @ivar boot_id: its boot id this run, if it advertises.
    @ivar lan: the interfaces every part runs on.
    """

    log = Logger()

    def __init__(
        self,
        config: NodeConfig,
        reactor: ISSDPReactor | None = None,
        *,
        interfaces: Callable[[], Sequence[Interface]] | None = None,
        http: HTTPClient | None = None,
        rng: random.Random | None = None,
        ipv6_addresses: Callable[[Collection[str]], Sequence[tuple[str, str]]] | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.reactor = reactor = reactor if reactor is not None else global_reactor()
        self.http = http
        if interfaces is None:
            chosen, skipped = lan_choice(config.interfaces, config.exclude_interfaces,
                                         config.families)  # fmt: skip
            self.log.info(
                "running on {chosen}{skipped}",
                chosen=", ".join(f"{i.name} ({i.ip})" for i in chosen),
                skipped="".join(f"; skipping {s.interface.name} ({s.interface.ip}): {s.reason}"
                                for s in skipped),
            )  # fmt: skip
        read = interfaces or (lambda: lan_interfaces(config.interfaces, config.exclude_interfaces,
                                                     config.families))  # fmt: skip
        self.lan = LANInterfaces(read)
        self.node: NodeInfo | None = None
        self.boot_id: int | None = None
        self.advertiser: AdvertiserService | None = None
        self.discovery: DiscoveryService | None = None
        self.mapper: PortMappingService | None = None  # the NAT side loads only when asked
        self._ladder: NATLadder | None = None
        #: one service per public IPv6 address, keeping its pinholes
        self.pinholes: list[PortMappingService] = []
        self._ipv6_addresses: Callable[[Collection[str]], Sequence[tuple[str, str]]] | None = None
        if config.advertise:
            state = load_state(config.state_path(), config.uuid)
            self.node = NodeInfo.create(
                state.uuid, config.product, config.network, config.port, config.node_id
            )
            self.boot_id = state.boot_id
            self.advertiser = AdvertiserService(
                self.node, state.boot_id, reactor, self.lan.current, http_port=config.http_port,
                max_age=config.max_age, ttl=config.ttl, rng=rng, legacy=config.legacy,
                limits=config.limits, site_scope=config.site_scope,
            )  # fmt: skip
            self._add(self.advertiser)
        if config.discover:
            own = [self.node.uuid] if self.node is not None else []
            # one socket on 1900 per node: with SO_REUSEPORT the kernel would hand each
            # unicast M-SEARCH to one of two sockets, and discovery's does not answer
            self.discovery = DiscoveryService(
                config.product, config.network, reactor, self.lan.current,
                exclude=[*own, *config.exclude], mx=config.mx,
                search_interval=config.search_interval, ttl=config.ttl, rng=rng,
                legacy=config.legacy, listen_notify=self.advertiser is None,
                max_peers=config.max_peers, site_scope=config.site_scope,
            )  # fmt: skip
            if self.advertiser is not None:
                self.advertiser.protocol.listeners.append(self.discovery.message_received)
            self._add(self.discovery)
        if config.forwards:
            from .portmapping import PortMappingService

            self.mapper = PortMappingService(
                reactor, config.forwards, self.find_gateway, lease=config.lease,
                check_interval=config.check_interval, description=f"ssdp_upnp {config.product}",
            )  # fmt: skip
            self._add(self.mapper)
            if self.advertiser is not None:
                self.mapper.observe(advertise_public_address(self.advertiser))
            if config.ipv6:
                if ipv6_addresses is None:
                    ipv6_addresses = public_ipv6_addresses if interfaces is None else _none
                self._ipv6_addresses = ipv6_addresses
                self.refresh_pinholes()
        if config.rescan_interval:
            watcher = InterfaceWatcher(reactor, self.lan, config.rescan_interval)
            if self._ipv6_addresses is not None:
                watcher.also.append(self.refresh_pinholes)
            watcher.setServiceParent(self)

    def startService(self) -> None:
        """Start every part; if one cannot start (a port taken), stop those that did and raise."""
        Service.startService(self)
        started: list[IService] = []
        try:
            for part in self:
                part.startService()
                started.append(part)
        except BaseException:
            for part in reversed(started):
                part.stopService()
            Service.stopService(self)
            raise

    def refresh_pinholes(self) -> None:
        """
        Keep one pinhole service per public IPv6 address of the interfaces in
        use: one for each address that came, and the service of each that
        went is stopped (its pinholes end with their lease: the router takes
        requests for an address only from it).
        """
        assert self._ipv6_addresses is not None
        now = list(self._ipv6_addresses({i.name for i in self.lan.current}))
        addresses = {address for address, _ in now}
        for service in list(self.pinholes):
            if _pinhole_address(service) not in addresses:
                self.log.info("IPv6 address {address} is gone: its pinholes are left to expire",
                              address=_pinhole_address(service))  # fmt: skip
                self.pinholes.remove(service)
                service.disownServiceParent()
                self._pinholes_changed(service)
        known = {_pinhole_address(s) for s in self.pinholes}
        self._add_pinholes([(a, name) for a, name in now if a not in known])

    def _add_pinholes(self, addresses: Sequence[tuple[str, str]]) -> None:
        from .nat_ladder import PinholeLadder
        from .portmapping import PortMappingService

        for address, interface in addresses:
            ladder = PinholeLadder(self.reactor, address, interface,
                                   method=self.config.nat_method, http=self.http)  # fmt: skip
            service = PortMappingService(
                self.reactor, self.config.forwards, ladder, lease=self.config.lease,
                check_interval=self.config.check_interval, retry_max=900.0,
                description=f"ssdp_upnp {self.config.product}",
            )  # fmt: skip
            service.setServiceParent(self)  # started at once if the node runs
            self.pinholes.append(service)
            service.observe(self._pinholes_changed)

    def _pinholes_changed(self, _: PortMappingService) -> None:
        """Advertise the node's port on every IPv6 address it has a pinhole for."""
        if self.advertiser is None:
            return
        port = self.advertiser.node.port
        self.advertiser.set_external6([
            (ip, external)
            for service in self.pinholes
            for ip, external, protocol, internal in service.public_addresses()
            if internal == port and protocol == "TCP"
        ])  # fmt: skip

    def _add(self, part: FollowsInterfaces) -> None:
        IService(part).setServiceParent(self)
        self.lan.follow(part)

    def find_gateway(self) -> Deferred[IPortMapper]:
        """
        Find a way to forward ports on the interfaces in use now: the
        C{config.nat_method} (the PCP, NAT-PMP, UPnP ladder by default), or
        the UPnP IGD at C{config.gateway_url}.
        """
        from .nat_ladder import NATLadder

        if self._ladder is None:
            self._ladder = NATLadder(
                self.reactor, self.lan.current, method=self.config.nat_method, http=self.http,
                description_url=self.config.gateway_url,
            )  # fmt: skip
        self._ladder.interfaces = list(self.lan.current)
        return self._ladder()


def advertise_public_address(
    advertiser: AdvertiserService,
) -> Callable[[PortMappingService], None]:
    """
    An observer of a L{PortMappingService}: once the node's service port is
    mapped (TCP), LAN peers are told its public address; when the mapping
    goes, so does the address.
    """
    port = advertiser.node.port

    def changed(mapper: PortMappingService) -> None:
        public = next(
            ((ip, external) for ip, external, protocol, internal in mapper.public_addresses()
             if internal == port and protocol == "TCP"),
            None,
        )  # fmt: skip
        advertiser.set_external(public)

    return changed


def _none(names: Collection[str]) -> list[tuple[str, str]]:
    return []


def _pinhole_address(service: PortMappingService) -> str:
    """The IPv6 address a pinhole service keeps its pinholes for (its ladder's)."""
    return cast("PinholeLadder", service.find).local_address
