"""
The C{twistd ssdp} plugin: options, and the node they make.

C{twistd -n ssdp --product blockchain} runs one
L{ssdp_upnp.node_service.NodeService}: the node's advertiser, discovery of
its peers (found and lost are logged as structured events), the port mapping
of each C{--forward}, and the interface watcher. Every option is checked by
L{Options} (into a L{NodeConfig}) before anything is opened.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from twisted.application.service import IService
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IReactorTime
from twisted.logger import Logger
from twisted.python import usage

from ._bounded import int_option
from ._inbound import LimitedLog
from ._types import ISSDPReactor
from .advertiser import AdvertiserLimits
from .errors import ConfigurationError, SSDPUPnPError
from .forward import Forward
from .lan import Interface, select_interfaces
from .message import DEFAULT_MAX_AGE
from .node_service import NodeConfig, NodeService
from .peers import Peer, RemovalReason


def _int_in(name: str, low: int, high: int) -> Callable[[str], int]:
    """The coerce of C{--name}: a whole number in low..high, else a usage error."""
    convert = int_option(f"--{name}", low, high)

    def coerce(value: str) -> int:
        try:
            return convert(value)
        except ConfigurationError as e:
            raise usage.UsageError(str(e)) from None

    coerce.coerceDoc = f"A whole number in {low}..{high}."  # type: ignore[attr-defined]
    return coerce


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
        ["nat-method", None, "auto",
         "How to forward ports: auto (PCP, then NAT-PMP, then UPnP IGD), pcp, natpmp or upnp."],
        ["max-peers", None, 1024, "Most peers kept in the table.",
         _int_in("max-peers", 1, 1000000)],
        ["replies-per-second", None, 20, "Replies per second to one source (burst: twice).",
         _int_in("replies-per-second", 1, 100000)],
        ["total-replies-per-second", None, 200,
         "Replies per second in all (burst: twice).",
         _int_in("total-replies-per-second", 1, 1000000)],
    ]  # fmt: skip
    optFlags = [
        ["no-advertise", None, "Only discover peers."],
        ["no-discover", None, "Only advertise this node."],
        ["no-ipv6", None, "Open no IPv6 pinholes for the forwards (on by default)."],
        ["ipv4-only", None, "Run SSDP over IPv4 only (default: IPv4 and IPv6)."],
        ["ipv6-only", None, "Run SSDP over IPv6 only (ff02::c; default: IPv4 and IPv6)."],
        ["no-site-scope", None,
         "Do not hear ff05::c on IPv6 links with a global or ULA address (heard by default)."],
        ["no-legacy", None,
         "Neither answer nor find ssdp-upnp 0.1.0 nodes (on by default, for mixed networks)."],
    ]  # fmt: skip

    def __init__(self) -> None:
        super().__init__()
        self["interfaces"] = []
        self["exclude-interfaces"] = []
        self["forwards"] = []

    def opt_interface(self, value: str) -> None:
        """An interface name or address to run on (repeatable; default: all LAN ones)."""
        self["interfaces"].append(value)

    opt_i = opt_interface

    def opt_exclude_interface(self, value: str) -> None:
        """An interface name or address never to run on (repeatable)."""
        self["exclude-interfaces"].append(value)

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
        if self["ipv4-only"] and self["ipv6-only"]:
            raise usage.UsageError("--ipv4-only and --ipv6-only leave no address family")
        families = (4,) if self["ipv4-only"] else (6,) if self["ipv6-only"] else (4, 6)
        url = self["gateway-url"]
        if url is not None and not url.startswith("http://"):
            raise usage.UsageError(f"--gateway-url {url!r} is not an http:// URL")
        try:
            self.node = NodeConfig(
                product=self["product"], network=self["network"], port=self["port"],
                node_id=self["node-id"], uuid=self["uuid"], state_file=self["state-file"],
                interfaces=tuple(self["interfaces"]),
                exclude_interfaces=tuple(self["exclude-interfaces"]),
                advertise=not self["no-advertise"],
                discover=not self["no-discover"], http_port=self["http-port"],
                max_age=self["max-age"], ttl=self["ttl"], mx=self["mx"],
                search_interval=self["search-interval"], forwards=tuple(self["forwards"]),
                lease=self["lease"], check_interval=self["check-interval"], gateway_url=url,
                nat_method=self["nat-method"], ipv6=not self["no-ipv6"],
                rescan_interval=self["rescan-interval"], legacy=not self["no-legacy"],
                max_peers=self["max-peers"], families=families,
                site_scope=not self["no-site-scope"],
                limits=AdvertiserLimits(
                    replies_per_second=self["replies-per-second"],
                    reply_burst=2 * self["replies-per-second"],
                    total_replies_per_second=self["total-replies-per-second"],
                    total_reply_burst=2 * self["total-replies-per-second"],
                ),
            )  # fmt: skip
        except ConfigurationError as e:
            raise usage.UsageError(str(e)) from None
        self["uuid"] = self.node.uuid


class PeerLog:
    """
    Logs peers found and lost: at most C{per_minute} lines a minute of each
    kind (a burst of C{burst}); the next line logged says how many were not.
    """

    log = Logger()

    def __init__(self, clock: IReactorTime, per_minute: float = 60, burst: float = 30) -> None:
        self.lines = LimitedLog(self.log, clock, per_minute, burst, kinds=2)

    def peer_added(self, peer: Peer) -> None:
        self.lines.info(
            "added",
            "peer found: {product}/{network} node {uuid} at {where}",
            product=peer.product,
            network=peer.network,
            uuid=peer.uuid,
            where=_where(peer.host, peer.port),
            host=peer.host,
            port=peer.port,
            addresses=list(peer.addresses),
            node_id=peer.node_id,
            event="peer_added",
        )

    def peer_removed(self, peer: Peer, reason: RemovalReason) -> None:
        self.lines.info(
            "removed",
            "peer lost ({reason}): node {uuid} at {where}",
            reason=reason.value,
            uuid=peer.uuid,
            where=_where(peer.host, peer.port),
            host=peer.host,
            port=peer.port,
            event="peer_removed",
        )


def _where(host: str, port: int) -> str:
    """C{host:port}, an IPv6 host in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class TwistdNode(NodeService):
    """The node as twistd runs it: a part that cannot start (a port taken) is one line."""

    log = Logger()

    def startService(self) -> None:
        try:
            super().startService()
        except (CannotListenError, SSDPUPnPError, OSError) as e:
            self.log.critical("cannot start the node: {error}", error=e)
            raise SystemExit(1) from None


def makeService(
    config: Options,
    reactor: ISSDPReactor | None = None,
    available: Sequence[Interface] | None = None,
) -> IService:
    """
    The node C{config} asks for, its peers logged.

    @param available: the host's interfaces (default: read from the system).
    @raise usage.UsageError: an interface is unknown, or the state file is unusable.
    """
    wanted, exclude = config.node.interfaces, config.node.exclude_interfaces
    families = config.node.families
    read = (
        None
        if available is None
        else (lambda: select_interfaces(available, wanted, exclude, families))
    )
    try:
        node = TwistdNode(config.node, reactor, interfaces=read)
    except (SSDPUPnPError, OSError, ValueError) as e:
        raise usage.UsageError(str(e)) from None
    if node.discovery is not None:
        node.discovery.observe(PeerLog(node.reactor))
    return node
