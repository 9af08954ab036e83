"""One node assembly: NodeConfig's checks and NodeService's parts, with a Clock and in memory."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from twisted.application.service import IServiceCollection

from helpers import UUID_A, decoded, result_of
from ssdp_upnp._watcher import InterfaceWatcher
from ssdp_upnp.advertiser import AdvertiserService
from ssdp_upnp.discovery import DiscoveryService
from ssdp_upnp.errors import ConfigurationError, NoInterfaceError
from ssdp_upnp.lan import Interface
from ssdp_upnp.message import SSDP_GROUP, Notify, header
from ssdp_upnp.node import EXTERNAL_HEADER
from ssdp_upnp.node_service import NodeConfig, NodeService
from ssdp_upnp.portmapping import Forward, PortMappingService
from ssdp_upnp.testing import FakeRouter, MemoryMulticastReactor, StubHTTPClient, igd_site

OLD = Interface.parse("eth0", "198.51.100.11/24")
NEW = Interface.parse("eth0", "198.51.100.21/24")
GATEWAY_URL = "http://198.51.100.1:5000/rootDesc.xml"


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"product": "block chain"}, "product"),
        ({"product": "b", "network": "x y"}, "network"),
        ({"product": "b", "port": 0}, "port 0"),
        ({"product": "b", "node_id": "a b"}, "node id"),
        ({"product": "b", "uuid": "nope"}, "not a uuid"),
        ({"product": "b", "advertise": False, "discover": False}, "neither"),
        ({"product": "b", "gateway_url": "https://x/"}, "http://"),
    ],
)
def test_config_is_checked_when_made(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        NodeConfig(**fields)  # type: ignore[arg-type]


def test_config_keeps_the_canonical_uuid() -> None:
    assert NodeConfig("b", uuid=f"uuid:{UUID_A.upper()}").uuid == UUID_A


def test_parts_follow_what_the_config_asks(tmp_path: Path) -> None:
    reactor = MemoryMulticastReactor()
    state = str(tmp_path / "s.json")
    full = NodeService(
        NodeConfig("blockchain", state_file=state, forwards=(Forward(8048, 8048),)),
        reactor,
        interfaces=lambda: [OLD],
    )
    assert [type(s) for s in IServiceCollection(full)] == [
        AdvertiserService, DiscoveryService, PortMappingService, InterfaceWatcher,
    ]  # fmt: skip
    assert full.node is not None and full.boot_id == 1
    assert full.discovery is not None and full.discovery.table.exclude == {full.node.uuid}
    assert full.lan.followers == [full.advertiser, full.discovery, full.mapper]
    still = NodeService(
        NodeConfig("blockchain", advertise=False, rescan_interval=0),
        reactor,
        interfaces=lambda: [OLD],
    )
    assert [type(s) for s in IServiceCollection(still)] == [DiscoveryService]
    assert still.node is None and still.boot_id is None


def test_no_interface_is_a_configuration_error() -> None:
    def none() -> list[Interface]:
        raise NoInterfaceError("this host has no IPv4 interface")

    with pytest.raises(ConfigurationError, match="no IPv4 interface"):
        NodeService(NodeConfig("b", advertise=False), MemoryMulticastReactor(), interfaces=none)


def test_every_part_moves_with_the_interfaces(tmp_path: Path) -> None:
    """After the watcher sees a new address, advertiser, discovery and port mapping all use it."""
    reactor = MemoryMulticastReactor()
    router = FakeRouter(requester=OLD.ip)
    current = [OLD]
    config = NodeConfig(
        "blockchain", state_file=str(tmp_path / "s.json"), forwards=(Forward(8048, 8048),),
        gateway_url=GATEWAY_URL, rescan_interval=5,
    )  # fmt: skip
    node = NodeService(
        config,
        reactor,
        interfaces=lambda: current,
        http=StubHTTPClient(igd_site(router)),
        rng=random.Random(1),
    )
    node.startService()
    reactor.advance(1)
    assert node.mapper is not None and node.advertiser is not None
    assert router.table[(8048, "TCP")]["NewInternalClient"] == OLD.ip
    ssdp = next(p for p in reactor.datagram_ports if p.protocol is node.advertiser.protocol)

    # DHCP moves the host to a new address; the router now sees requests from it
    current = [NEW]
    router.requester = NEW.ip
    reactor.advance(5)
    assert node.lan.current == [NEW]
    assert node.advertiser.protocol.interfaces == [NEW]
    assert node.advertiser.locations.keys() == {NEW.ip}
    assert (SSDP_GROUP, NEW.ip) in ssdp.groups and (SSDP_GROUP, OLD.ip) not in ssdp.groups
    assert node.discovery is not None
    search_ports = [p for p in reactor.open_ports() if p.port != 1900]
    assert {p.interface for p in search_ports} == {NEW.ip}
    assert node.mapper.gateway is not None and node.mapper.gateway.local_address == NEW.ip
    assert router.table[(8048, "TCP")]["NewInternalClient"] == NEW.ip
    # and the new address's announcements carry the public address of the new mapping
    ssdp.take()
    reactor.advance(1)
    sent = [s for s in ssdp.take() if s.interface == NEW.ip]
    externals = {header(m.extra, EXTERNAL_HEADER) for m in decoded(sent) if isinstance(m, Notify)}
    assert externals == {"203.0.113.2:8048"}
    result_of(node.stopService())
    assert reactor.open_ports() == [] and reactor.getDelayedCalls() == []


def test_a_part_that_cannot_start_stops_those_that_did(tmp_path: Path) -> None:
    reactor = MemoryMulticastReactor()
    node = NodeService(NodeConfig("blockchain", state_file=str(tmp_path / "s.json")), reactor,
                       interfaces=lambda: [OLD])  # fmt: skip
    assert node.discovery is not None

    def cannot() -> None:
        raise OSError(98, "Address already in use")

    node.discovery.startService = cannot  # type: ignore[method-assign]
    with pytest.raises(OSError):
        node.startService()
    assert not node.running and node.advertiser is not None and not node.advertiser.running
    assert reactor.open_ports() == [] and not any(p.listening for p in reactor.tcp_ports)


def test_twistd_says_in_one_line_that_a_port_is_taken(tmp_path: Path) -> None:
    from twisted.logger import LogEvent, globalLogPublisher

    from ssdp_upnp.tap import Options, makeService

    config = Options()
    config.parseOptions(["--product", "b", "--http-port", "8049", "--state-file",
                         str(tmp_path / "s.json")])  # fmt: skip
    reactor = MemoryMulticastReactor()
    reactor.busy_ports.add(8049)
    top = makeService(config, reactor, [OLD])
    events: list[LogEvent] = []
    observer: Any = events.append
    globalLogPublisher.addObserver(observer)
    try:
        with pytest.raises(SystemExit) as exited:
            top.startService()
    finally:
        globalLogPublisher.removeObserver(observer)
    assert exited.value.code == 1
    (critical,) = [e for e in events if e["log_level"].name == "critical"]
    assert "8049" in str(critical["error"])
    assert reactor.open_ports() == []
