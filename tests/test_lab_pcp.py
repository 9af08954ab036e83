"""
PCP and NAT-PMP against the real miniupnpd (its enable_natpmp serves both), in
the namespace lab: the ladder's choice, nft rules, a connection from the WAN
host, cleanup, a router restart seen through its ANNOUNCE, IGD turned off,
NAT-PMP forced (natpmpc agrees), and two hosts asking for one port.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import require_lab
from netlab import ROUTER_WAN, Lab, Process

pytestmark = pytest.mark.lab

TOOLS = Path(__file__).parent / "lab_tools"
PYTHON = sys.executable
BIN = Path(sys.executable).parent
TWISTD = str(BIN / "twistd")
CLI = str(BIN / "ssdp-upnp")
H1, H2 = "198.51.100.11", "198.51.100.12"


@pytest.fixture
def lab() -> Iterator[Lab]:
    require_lab("miniupnpd", "natpmpc", "nft")
    with Lab(hosts=2, router=True) as lab:
        yield lab


def node(lab: Lab, host: str, tmp_path: Path, *args: str) -> Process:
    return lab.spawn(host, [
        TWISTD, "-n", "--pidfile=", "--logfile=-", "ssdp", "--state-file",
        str(tmp_path / f"{host}.json"), "--product", "blockchain", "--no-discover", *args,
    ])  # fmt: skip


def forwarded_port(process: Process) -> int:
    line = process.wait_for_line(lambda line: "forwarding 203.0.113.2:" in line, 30)
    return int(line.split("forwarding 203.0.113.2:", 1)[1].split()[0])


def reach(lab: Lab, port: int) -> str:
    done = lab.run("wan", [PYTHON, str(TOOLS / "tcp_connect.py"), ROUTER_WAN, str(port)], 20)
    return done.stdout.strip()


def greet(lab: Lab, host: str, port: int) -> None:
    greeter = lab.spawn(host, [PYTHON, str(TOOLS / "tcp_listen.py"), str(port), f"HELLO {host}"])
    greeter.wait_for_line(lambda line: line == "listening", 10)


def wait_rule(lab: Lab, text: str, present: bool, timeout: float) -> float:
    """Seconds until C{text} is (or is no longer) in the router's DNAT chain."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if (text in lab.nft_chain("prerouting_miniupnpd")) == present:
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"{text!r} {'never appeared' if present else 'stayed'} in {timeout}s")


def test_the_ladder_picks_pcp_reaches_the_host_and_survives_a_restart(
    lab: Lab, tmp_path: Path
) -> None:
    lab.start_miniupnpd(natpmp=True)
    greet(lab, "h1", 8048)
    assert reach(lab, 8048).startswith("ERROR")  # closed before
    process = node(lab, "h1", tmp_path, "--forward", "8048", "--check-interval", "600")
    assert forwarded_port(process) == 8048
    assert any("using gateway <PCPMapper" in line for line in process.lines)
    wait_rule(lab, f"dnat ip to {H1}:8048", True, 5)
    assert reach(lab, 8048) == "HELLO h1"
    # the router dies with its table and comes back: its ANNOUNCE brings the mapping back
    # at once (the check is 600 s away)
    lab.stop_miniupnpd(signal.SIGKILL)
    for chain in ("prerouting_miniupnpd", "miniupnpd", "postrouting_miniupnpd"):
        lab.run("router", ["nft", "flush", "chain", "inet", "filter", chain], 10)
    assert reach(lab, 8048).startswith("ERROR")
    lab.start_miniupnpd(natpmp=True)
    took = wait_rule(lab, f"dnat ip to {H1}:8048", True, 10)
    assert took < 2.0, f"mapping back after {took:.2f}s"
    assert reach(lab, 8048) == "HELLO h1"
    process.signal(signal.SIGTERM)
    assert process.wait(30) == -signal.SIGTERM
    wait_rule(lab, f"{H1}:8048", False, 1)
    assert reach(lab, 8048).startswith("ERROR")


def test_pcp_maps_with_igd_off_and_igd_maps_with_pcp_off(lab: Lab, tmp_path: Path) -> None:
    lab.start_miniupnpd(natpmp=True, upnp=False)
    done = lab.run("h1", [CLI, "--json", "nat", "add", "8050"], timeout=30)
    assert done.returncode == 0, done.stderr
    added = json.loads(done.stdout)
    assert (added["method"], added["external_port"], added["external_ip"]) == (
        "pcp", 8050, ROUTER_WAN,
    )  # fmt: skip
    assert f"dnat ip to {H1}:8050" in lab.nft_chain("prerouting_miniupnpd")
    lab.stop_miniupnpd()
    lab.start_miniupnpd(natpmp=False, upnp=True)
    started = time.monotonic()
    done = lab.run("h1", [CLI, "--json", "nat", "add", "8051"], timeout=30)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["method"] == "igd2"
    # UPnP won after PCP's and NAT-PMP's silence, not after their 3.75 s of retries
    assert time.monotonic() - started < 3.0
    status = lab.run("h1", [CLI, "--json", "nat", "status"], timeout=30)
    report = json.loads(status.stdout)
    answered = {row["method"]: row["answered"] for row in report["methods"]}
    assert answered == {"pcp": False, "natpmp": False, "igd2": True}
    assert report["best"] == "igd2" and report["external_ip"] == ROUTER_WAN


def test_nat_pmp_forced_maps_and_natpmpc_agrees(lab: Lab, tmp_path: Path) -> None:
    lab.start_miniupnpd(natpmp=True, upnp=False)
    greet(lab, "h1", 8052)
    process = node(lab, "h1", tmp_path, "--forward", "8052", "--nat-method", "natpmp")
    assert forwarded_port(process) == 8052
    assert any("using gateway <NATPMPMapper" in line for line in process.lines)
    assert reach(lab, 8052) == "HELLO h1"
    theirs = lab.run("h1", ["natpmpc", "-g", "198.51.100.1"], timeout=20).stdout
    assert f"Public IP address : {ROUTER_WAN}" in theirs
    process.signal(signal.SIGTERM)
    assert process.wait(30) == -signal.SIGTERM
    wait_rule(lab, f"{H1}:8052", False, 1)


def test_two_hosts_one_port_each_reachable_and_advertising_its_own(
    lab: Lab, tmp_path: Path
) -> None:
    lab.start_miniupnpd(natpmp=True, upnp=False)
    first = lab.spawn("h1", [
        TWISTD, "-n", "--pidfile=", "--logfile=-", "ssdp", "--state-file",
        str(tmp_path / "h1.json"), "--product", "blockchain", "--forward", "8048",
    ])  # fmt: skip
    assert forwarded_port(first) == 8048
    second = lab.spawn("h2", [
        TWISTD, "-n", "--pidfile=", "--logfile=-", "ssdp", "--state-file",
        str(tmp_path / "h2.json"), "--product", "blockchain", "--forward", "8048",
    ])  # fmt: skip
    other = forwarded_port(second)
    assert other != 8048
    greet(lab, "h1", 8048)
    greet(lab, "h2", 8048)
    assert reach(lab, 8048) == "HELLO h1"
    assert reach(lab, other) == "HELLO h2"
    # a third LAN host sees each node with the public address it really got
    done = lab.run("router", [PYTHON, str(TOOLS / "find_peers.py"), "blockchain", "main", "5",
                              "2"], timeout=40)  # fmt: skip
    peers = {p["host"]: p["external"] for p in json.loads(done.stdout.strip().splitlines()[-1])}
    assert peers == {H1: [ROUTER_WAN, 8048], H2: [ROUTER_WAN, other]}


@pytest.mark.parametrize("method", ["auto", "upnp"])
def test_an_ipv6_pinhole_lets_the_wan_host_in_only_while_the_node_runs(
    method: str, tmp_path: Path
) -> None:
    # auto: PCP MAP for h1's own global address; upnp: IGD2 AddPinhole over IPv6
    require_lab("miniupnpd", "nft")
    with Lab(hosts=2, router=True, ipv6=True) as lab:
        lab.start_miniupnpd(natpmp=True)
        h1 = lab.hosts6["h1"]
        greet(lab, "h1", 8048)
        dropped = lab.run("wan", [PYTHON, str(TOOLS / "tcp_connect.py"), h1, "8048"], 20)
        assert dropped.stdout.startswith("ERROR timed out")  # the firewall drops it
        process = node(lab, "h1", tmp_path, "--forward", "8048", "--nat-method", method)
        process.wait_for_line(lambda line: f"forwarding [{h1}]:8048 (TCP)" in line, 30)
        expected = "<PCPMapper gateway 2001:db8:5100::1" if method == "auto" else (
            "<FirewallControl at http://[2001:db8:5100::1]:5000/")  # fmt: skip
        assert any(f"using gateway {expected}" in line for line in process.lines)
        rule = "0x20010db8510000000000000000000011"  # h1's address in the accept rule
        assert rule in lab.nft_chain("miniupnpd")
        reached = lab.run("wan", [PYTHON, str(TOOLS / "tcp_connect.py"), h1, "8048"], 20)
        assert reached.stdout.strip() == "HELLO h1"
        # the IPv4 mapping is made beside the pinhole and either may be said first: the peers
        # are asked once both are (a line before the pinhole's is behind wait_for_line's cursor)
        ipv4 = f"forwarding {ROUTER_WAN}:8048 (TCP)"
        if not any(ipv4 in line for line in process.lines):
            process.wait_for_line(lambda line: ipv4 in line, 30)
        # LAN peers learn both public addresses from its SSDP messages
        done = lab.run("h2", [PYTHON, str(TOOLS / "find_peers.py"), "blockchain", "main", "5",
                              "1"], timeout=40)  # fmt: skip
        (peer,) = json.loads(done.stdout.strip().splitlines()[-1])
        assert peer["external"] == [ROUTER_WAN, 8048]
        assert peer["external6"] == [[h1, 8048]]
        process.signal(signal.SIGTERM)
        assert process.wait(30) == -signal.SIGTERM
        assert rule not in lab.nft_chain("miniupnpd")
        again = lab.run("wan", [PYTHON, str(TOOLS / "tcp_connect.py"), h1, "8048"], 20)
        assert again.stdout.startswith("ERROR timed out")


def test_the_cli_opens_reports_and_closes_ipv6_pinholes() -> None:
    require_lab("miniupnpd", "nft")
    with Lab(hosts=1, router=True, ipv6=True) as lab:
        lab.start_miniupnpd(natpmp=True)
        h1 = lab.hosts6["h1"]
        rule = "0x20010db8510000000000000000000011"

        def cli(*argv: str) -> list[dict[str, object]]:
            done = lab.run("h1", [CLI, "--json", "nat", "pinhole", *argv], timeout=30)
            assert done.returncode == 0, done.stderr
            rows: list[dict[str, object]] = json.loads(done.stdout)
            return rows

        (status,) = cli("status")
        assert (status["address"], status["method"]) == (h1, "pcp")
        (added,) = cli("add", "8060", "--lease", "120")
        assert (added["method"], added["port"], added["lease"]) == ("pcp", 8060, 120)
        assert rule in lab.nft_chain("miniupnpd")
        (opened,) = cli("add", "8061", "--method", "upnp")
        assert opened["method"] == "igd2-pinhole" and isinstance(opened["unique_id"], int)
        assert "dport 8061" in lab.nft_chain("miniupnpd")
        (removed,) = cli("remove", str(opened["unique_id"]))
        assert removed["removed"] == opened["unique_id"]
        assert "dport 8061" not in lab.nft_chain("miniupnpd")
        assert "dport 8060" in lab.nft_chain("miniupnpd")  # the PCP one lives out its lease


def test_diagnose_finds_pcp_with_igd_off_and_opens_a_test_pinhole() -> None:
    require_lab("miniupnpd", "nft")
    with Lab(hosts=1, router=True, ipv6=True) as lab:
        lab.start_miniupnpd(natpmp=True, upnp=False)
        done = lab.run("h1", [CLI, "--json", "diagnose", "--timeout", "1"], timeout=90)
        assert done.returncode == 0, done.stdout + done.stderr
        report = json.loads(done.stdout)
        assert report["reachable"] is True
        found: dict[str, list[dict[str, str]]] = {}
        for finding in report["findings"]:
            found.setdefault(finding["topic"], []).append(finding)
        assert found["pcp"][0]["verdict"] == "ok" and "epoch" in found["pcp"][0]["detail"]
        assert found["natpmp"][0]["verdict"] == "ok"
        assert found["upnp"][0]["verdict"] == "info"  # IGD is off: named, not fatal
        assert found["gateway"][0]["detail"] == "forwarding through pcp"
        (external,) = found["external address"]
        assert external["verdict"] == "ok" and ROUTER_WAN in external["detail"]
        (mapping,) = found["test mapping"]
        assert mapping["verdict"] == "ok" and "through pcp" in mapping["detail"]
        (pinhole,) = found["ipv6 pinhole"]
        assert pinhole["verdict"] == "ok" and lab.hosts6["h1"] in pinhole["detail"]
        assert "through pcp" in pinhole["detail"]
        assert "198.51.100.11" not in lab.nft_chain("prerouting_miniupnpd")  # cleaned up
