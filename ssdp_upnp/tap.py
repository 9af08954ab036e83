"""
The C{twistd ssdp} plugin: options and the service tree they build.

C{twistd -n ssdp --product blockchain} runs an L{AdvertiserService} for this
node and a L{DiscoveryService} for its peers in one C{MultiService}; peers
found and lost are logged as structured events. Each C{--forward} adds a port
the L{PortMappingService} keeps open on the gateway.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from twisted.application.service import IService, MultiService
from twisted.logger import Logger
from twisted.python import usage

from ._watcher import InterfaceWatcher
from .advertiser import AdvertiserService
from .discovery import DiscoveryService
from .errors import ConfigurationError, SSDPUPnPError
from .gateway_discovery import find_gateway
from .lan import Interface, select_interfaces, system_interfaces
from .message import DEFAULT_MAX_AGE
from .node import NodeInfo, check_network, check_node_id, check_port, check_product, check_uuid
from .peers import Peer, RemovalReason
from .portmapping import Forward, PortMappingService
from .state import default_state_path, load_state


def _int_in(name: str, low: int, high: int) -> Any:
    def convert(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise usage.UsageError(f"--{name} must be a whole number, not {value!r}") from None
        if not low <= number <= high:
            raise usage.UsageError(f"--{name} must be in {low}..{high}, not {number}")
        return number

    convert.coerceDoc = f"A whole number in {low}..{high}."  # type: ignore[attr-defined]
    return convert


class Options(usage.Options):
    synopsis = "--product NAME [options]"
    longdesc = (
        "Advertise this node on the LAN by SSDP and discover the peers of the same product"
        " and network. Every option is checked before anything is opened."
    )

    optParameters = [
        ["product", None, None, "Product name in the advertised UPnP types (required)."],
        ["network", None, "main", "Network id advertised and required of peers."],
        ["port", None, 8048, "The node's service port, advertised to peers.",
         _int_in("port", 1, 65535)],
        ["http-port", None, 0, "Port of the description server (0: any free port).",
         _int_in("http-port", 0, 65535)],
        ["max-age", None, DEFAULT_MAX_AGE, "Seconds an advertisement stays valid.",
         _int_in("max-age", 60, 86400)],
        ["ttl", None, 2, "Multicast TTL.", _int_in("ttl", 1, 255)],
        ["search-interval", None, 60, "Seconds between discovery searches.",
         _int_in("search-interval", 5, 86400)],
        ["mx", None, 2, "MX of our M-SEARCH (seconds peers may wait).", _int_in("mx", 1, 5)],
        ["uuid", None, None, "The node's uuid (default: kept in the state file)."],
        ["node-id", None, None, "An application node id to advertise."],
        ["state-file", None, None,
         "Where the uuid and boot id are kept (default: $XDG_STATE_HOME/ssdp-upnp/...)."],
        ["lease", None, 3600, "Lease of each port mapping, renewed at half time.",
         _int_in("lease", 120, 604800)],
        ["check-interval", None, 60, "Seconds between checks that the mappings still exist.",
         _int_in("check-interval", 1, 86400)],
        ["rescan-interval", None, 30,
         "Seconds between looks at the host's interfaces (0: never; they are read at start).",
         _int_in("rescan-interval", 0, 86400)],
        ["gateway-url", None, None,
         "The gateway's description URL (default: find the gateway by SSDP)."],
    ]  # fmt: skip
    optFlags = [
        ["no-advertise", None, "Only discover peers."],
        ["no-discover", None, "Only advertise this node."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["interfaces"] = []
        self["forwards"] = []

    def opt_interface(self, value: str) -> None:
        """An interface name or IPv4 address to run on (repeatable; default: all LAN ones)."""
        self["interfaces"].append(value)

    opt_i = opt_interface

    def opt_forward(self, value: str) -> None:
        """Keep a port forwarded on the gateway: INTERNAL[:EXTERNAL][/udp] (repeatable)."""
        try:
            self["forwards"].append(Forward.parse(value))
        except ConfigurationError as e:
            raise usage.UsageError(str(e)) from None

    def postOptions(self) -> None:
        if self["product"] is None:
            raise usage.UsageError("--product is required, e.g. --product blockchain")
        if self["no-advertise"] and self["no-discover"] and not self["forwards"]:
            raise usage.UsageError("--no-advertise and --no-discover leave nothing to run")
        url = self["gateway-url"]
        if url is not None and not url.startswith("http://"):
            raise usage.UsageError(f"--gateway-url {url!r} is not an http:// URL")
        try:
            check_product(self["product"])
            check_network(self["network"])
            check_port(self["port"])
            if self["uuid"] is not None:
                self["uuid"] = check_uuid(self["uuid"])
            if self["node-id"] is not None:
                check_node_id(self["node-id"])
        except ConfigurationError as e:
            raise usage.UsageError(str(e)) from None


class PeerLog:
    """Logs peers found and lost."""

    log = Logger()

    def peer_added(self, peer: Peer) -> None:
        self.log.info(
            "peer found: {product}/{network} node {uuid} at {host}:{port}",
            product=peer.product,
            network=peer.network,
            uuid=peer.uuid,
            host=peer.host,
            port=peer.port,
            node_id=peer.node_id,
            event="peer_added",
        )

    def peer_removed(self, peer: Peer, reason: RemovalReason) -> None:
        self.log.info(
            "peer lost ({reason}): node {uuid} at {host}:{port}",
            reason=reason.value,
            uuid=peer.uuid,
            host=peer.host,
            port=peer.port,
            event="peer_removed",
        )


def makeService(
    config: Options, reactor: Any = None, available: Sequence[Interface] | None = None
) -> IService:
    """
    Build the service tree for C{config}.

    @param available: the host's interfaces (default: read from the system).
    @raise usage.UsageError: an interface is unknown, or the state file is unusable.
    """
    if reactor is None:
        from twisted.internet import reactor as default_reactor

        reactor = default_reactor
    source: Callable[[], Sequence[Interface]] = (
        system_interfaces if available is None else (lambda: available)
    )

    def wanted() -> list[Interface]:
        return select_interfaces(source(), config["interfaces"])

    try:
        interfaces = wanted()
    except ConfigurationError as e:
        raise usage.UsageError(str(e)) from None
    top = MultiService()
    own: list[str] = []
    advertiser: AdvertiserService | None = None
    if not config["no-advertise"]:
        path = (
            Path(config["state-file"])
            if config["state-file"]
            else default_state_path(config["product"], config["network"], config["port"])
        )
        try:
            state = load_state(path, config["uuid"])
        except SSDPUPnPError as e:
            raise usage.UsageError(str(e)) from None
        node = NodeInfo.create(
            state.uuid, config["product"], config["network"], config["port"], config["node-id"]
        )
        own.append(node.uuid)
        advertiser = AdvertiserService(
            node,
            state.boot_id,
            reactor,
            interfaces,
            http_port=config["http-port"],
            max_age=config["max-age"],
            ttl=config["ttl"],
        )
        advertiser.setServiceParent(top)
    discovery: DiscoveryService | None = None
    if not config["no-discover"]:
        discovery = DiscoveryService(
            config["product"],
            config["network"],
            reactor,
            interfaces,
            exclude=own,
            mx=config["mx"],
            search_interval=config["search-interval"],
            ttl=config["ttl"],
        )
        discovery.observe(PeerLog())
        discovery.setServiceParent(top)
    if config["forwards"]:
        url = config["gateway-url"]
        mapper = PortMappingService(
            reactor,
            config["forwards"],
            lambda: find_gateway(reactor, interfaces, description_url=url),
            lease=config["lease"],
            check_interval=config["check-interval"],
            description=f"ssdp_upnp {config['product']}",
        )
        mapper.setServiceParent(top)
        if advertiser is not None:
            mapper.observe(_advertise_public_address(advertiser))
    followers = [s for s in (advertiser, discovery) if s is not None]
    if followers and config["rescan-interval"]:
        InterfaceWatcher(reactor, wanted, followers, interfaces,
                         config["rescan-interval"]).setServiceParent(top)  # fmt: skip
    return top


def _advertise_public_address(
    advertiser: AdvertiserService,
) -> Callable[[PortMappingService], None]:
    """Once the node's service port is mapped (TCP), LAN peers are told its public address."""
    port = advertiser.node.port

    def changed(mapper: PortMappingService) -> None:
        public = next(
            ((ip, external) for ip, external, protocol, internal in mapper.public_addresses()
             if internal == port and protocol == "TCP"),
            None,
        )  # fmt: skip
        advertiser.protocol.set_external(public)

    return changed
