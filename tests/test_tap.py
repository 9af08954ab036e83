"""The twistd plugin's options and service tree, and an in-memory two-host run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from twisted.application.service import IServiceCollection
from twisted.logger import LogEvent, globalLogPublisher
from twisted.python import usage

from helpers import ETH0, result_of
from ssdp_upnp._watcher import InterfaceWatcher
from ssdp_upnp.advertiser import AdvertiserService
from ssdp_upnp.discovery import DiscoveryService
from ssdp_upnp.lan import Interface
from ssdp_upnp.peers import RemovalReason
from ssdp_upnp.tap import Options, makeService
from ssdp_upnp.testing import MemoryLAN, MemoryMulticastReactor

UUID = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"


def options(*argv: str) -> Options:
    config = Options()
    config.parseOptions(list(argv))
    return config


def test_defaults() -> None:
    config = options("--product", "blockchain")
    assert (config["network"], config["port"], config["max-age"], config["ttl"]) == (
        "main",
        8048,
        1800,
        2,
    )
    assert config["interfaces"] == []


def test_repeatable_interface() -> None:
    config = options("--product", "b", "--interface", "eth0", "-i", "10.0.0.1")
    assert config["interfaces"] == ["eth0", "10.0.0.1"]


@pytest.mark.parametrize(
    "argv, message",
    [
        ([], "--product is required"),
        (["--product", "block chain"], "product"),
        (["--product", "b", "--network", "x y"], "network"),
        (["--product", "b", "--port", "0"], "--port must be in 1..65535"),
        (["--product", "b", "--port", "http"], "--port must be a whole number"),
        (["--product", "b", "--max-age", "5"], "--max-age must be in"),
        (["--product", "b", "--ttl", "300"], "--ttl"),
        (["--product", "b", "--mx", "9"], "--mx"),
        (["--product", "b", "--uuid", "nope"], "not a uuid"),
        (["--product", "b", "--node-id", "a b"], "node id"),
        (["--product", "b", "--no-advertise", "--no-discover"], "nothing to run"),
        (["--product", "b", "--bogus"], "bogus"),
        (["--product", "b", "--nat-method", "stun"], "NAT method 'stun' is not one of auto"),
    ],
)
def test_bad_options_are_usage_errors(argv: list[str], message: str) -> None:
    with pytest.raises(usage.UsageError, match=message):
        options(*argv)


def test_service_tree(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    config = options(
        "--product", "blockchain", "--port", "9000", "--state-file", str(state), "--uuid", UUID
    )
    top = makeService(config, MemoryMulticastReactor(), available=[ETH0])
    children = list(IServiceCollection(top))
    assert [type(s) for s in children] == [AdvertiserService, DiscoveryService, InterfaceWatcher]
    advertiser, discovery, watcher = children
    assert isinstance(watcher, InterfaceWatcher) and watcher.followers == [advertiser, discovery]
    assert isinstance(advertiser, AdvertiserService) and isinstance(discovery, DiscoveryService)
    assert advertiser.node.uuid == UUID and advertiser.node.port == 9000
    assert discovery.table.exclude == {UUID}
    assert json.loads(state.read_text()) == {"uuid": UUID, "boot_id": 1}
    makeService(config, MemoryMulticastReactor(), available=[ETH0])
    assert json.loads(state.read_text())["boot_id"] == 2


def test_only_one_half(tmp_path: Path) -> None:
    reactor = MemoryMulticastReactor()
    state = str(tmp_path / "s.json")
    only_discover = makeService(
        options("--product", "b", "--no-advertise", "--state-file", state,
                "--rescan-interval", "0"), reactor, [ETH0],
    )  # fmt: skip
    assert [type(s) for s in IServiceCollection(only_discover)] == [DiscoveryService]
    assert not Path(state).exists()
    only_adv = makeService(
        options("--product", "b", "--no-discover", "--state-file", state,
                "--rescan-interval", "0"), reactor, [ETH0],
    )  # fmt: skip
    assert [type(s) for s in IServiceCollection(only_adv)] == [AdvertiserService]


def test_unknown_interface_and_bad_state_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(usage.UsageError, match="no IPv4 or IPv6 interface 'wlan9'"):
        makeService(options("--product", "b", "-i", "wlan9"), MemoryMulticastReactor(), [ETH0])
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    with pytest.raises(usage.UsageError, match="damaged"):
        makeService(
            options("--product", "b", "--state-file", str(bad)), MemoryMulticastReactor(), [ETH0]
        )


def _node(lan: MemoryLAN, ip: str, tmp_path: Path, *argv: str) -> Any:
    reactor = lan.add_host(ip)
    config = options("--state-file", str(tmp_path / f"{ip}.json"), *argv)
    top = makeService(config, reactor, [Interface.parse("eth0", f"{ip}/24")])
    top.startService()
    return top


def test_two_nodes_find_each_other_and_log_it(tmp_path: Path) -> None:
    events: list[LogEvent] = []
    observer: Any = events.append
    globalLogPublisher.addObserver(observer)
    try:
        lan = MemoryLAN()
        a = _node(lan, "198.51.100.11", tmp_path, "--product", "blockchain", "--port", "8048")
        b = _node(lan, "198.51.100.12", tmp_path, "--product", "blockchain", "--port", "9000")
        other = _node(lan, "198.51.100.13", tmp_path, "--product", "blockchain",
                      "--network", "testnet")  # fmt: skip
        lan.advance(3)
        disc_a = list(IServiceCollection(a))[1]
        disc_b = list(IServiceCollection(b))[1]
        assert [p.address for p in disc_a.peers()] == [("198.51.100.12", 9000)]
        assert [p.address for p in disc_b.peers()] == [("198.51.100.11", 8048)]
        found = [e for e in events if e.get("event") == "peer_added"]
        assert {(e["host"], e["port"]) for e in found} == {
            ("198.51.100.12", 9000),
            ("198.51.100.11", 8048),
        }
        removed: list[RemovalReason] = []
        disc_b.observe(type("O", (), {
            "peer_added": lambda self, p: None,
            "peer_removed": lambda self, p, r: removed.append(r),
        })())  # fmt: skip
        result_of(a.stopService())
        lan.flush()
        assert removed == [RemovalReason.BYEBYE]
        assert disc_b.peers() == []
        assert any(e.get("event") == "peer_removed" and e["reason"] == "byebye" for e in events)
        result_of(b.stopService())
        result_of(other.stopService())
        for reactor in lan.hosts.values():
            assert reactor.open_ports() == [] and reactor.getDelayedCalls() == []
    finally:
        globalLogPublisher.removeObserver(observer)


def test_table_size_and_reply_limits_are_options(tmp_path: Path) -> None:
    config = options("--product", "b", "--max-peers", "5000", "--replies-per-second", "5",
                     "--total-replies-per-second", "50", "--exclude-interface", "docker0",
                     "--state-file", str(tmp_path / "s.json"))  # fmt: skip
    assert config.node.exclude_interfaces == ("docker0",)
    top = makeService(config, MemoryMulticastReactor(), available=[ETH0])
    advertiser, discovery = list(IServiceCollection(top))[:2]
    assert isinstance(discovery, DiscoveryService) and discovery.table.max_peers == 5000
    assert isinstance(advertiser, AdvertiserService)
    limits = advertiser.protocol.limits
    assert (limits.replies_per_second, limits.reply_burst) == (5, 10)
    assert (limits.total_replies_per_second, limits.total_reply_burst) == (50, 100)
    with pytest.raises(usage.UsageError, match="--max-peers must be in 1..1000000"):
        options("--product", "b", "--max-peers", "0")


def test_the_address_families_choose_the_interfaces(tmp_path: Path) -> None:
    available = [Interface.parse("eth0", "198.51.100.11/24"),
                 Interface.parse("eth0", "fe80::11/64", index=2)]  # fmt: skip
    for flag, families in (("--ipv4-only", [4]), ("--ipv6-only", [6]), (None, [4, 6])):
        options = Options()
        argv = ["--product", "blockchain", "--state-file", str(tmp_path / "s.json")]
        options.parseOptions(argv + ([flag] if flag else []))
        node = makeService(options, MemoryMulticastReactor(), available=available)
        assert [i.family for i in node.lan.current] == families  # type: ignore[attr-defined]
    with pytest.raises(usage.UsageError, match="no address family"):
        Options().parseOptions(["--product", "b", "--ipv4-only", "--ipv6-only"])


def test_twistds_entry_says_a_usage_error_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ssdp_upnp import _twistd, tap

    def refuse(config: Options) -> None:
        raise usage.UsageError("no IPv4 or IPv6 interface 'wlan9' (this host has: eth0, lo)")

    monkeypatch.setattr(tap, "makeService", refuse)
    with pytest.raises(SystemExit) as exited:
        _twistd.makeService(options("--product", "b"))
    assert exited.value.code == 1
    assert capsys.readouterr().err == (
        "twistd ssdp: error: no IPv4 or IPv6 interface 'wlan9' (this host has: eth0, lo)\n"
    )
    assert _twistd.Options is Options
