"""
Faults in a namespace lab with a real miniupnpd: a hung or killed router, a
dead node's mapping, sharing port 1900 with miniupnpd, an interface that goes
down and up.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import require_lab
from netlab import MINIUPNPD_HTTP_PORT, ROUTER_LAN, Lab

pytestmark = pytest.mark.lab

TOOLS = Path(__file__).parent / "lab_tools"
PYTHON = sys.executable
TWISTD = str(Path(sys.executable).with_name("twistd"))
URL = f"http://{ROUTER_LAN}:{MINIUPNPD_HTTP_PORT}/rootDesc.xml"
H1 = "198.51.100.11"


@pytest.fixture
def lab() -> Iterator[Lab]:
    require_lab("miniupnpd", "nft")
    with Lab(hosts=2, router=True) as made:
        made.start_miniupnpd()
        yield made


def nat(lab: Lab, *argv: str) -> dict[str, Any]:
    done = lab.run("h1", [PYTHON, str(TOOLS / "nat_tool.py"), *argv], timeout=60)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, done.stdout + done.stderr
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def test_hung_router_fails_the_call_within_its_timeout(lab: Lab) -> None:
    assert lab.miniupnpd is not None
    lab.miniupnpd.signal(signal.SIGSTOP)  # accepts connections (the kernel does), answers nothing
    try:
        result = nat(lab, "--url", URL, "status")
    finally:
        lab.miniupnpd.signal(signal.SIGCONT)
    assert result["error"] in ("GatewayHTTPError", "NoGatewayFound"), result
    assert "no complete answer in 8" in result["message"]
    assert result["elapsed"] < 8 + 2


def test_killed_router_is_a_clear_error_at_once(lab: Lab) -> None:
    lab.stop_miniupnpd(signal.SIGKILL)
    result = nat(lab, "--url", URL, "status")
    assert result["error"] == "GatewayHTTPError"
    assert "ConnectionRefusedError" in result["message"]
    assert result["elapsed"] < 2
    searched = nat(lab, "status")  # and by SSDP: nobody answers
    assert searched["error"] == "NoGatewayFound" and searched["elapsed"] < 5


def test_a_dead_nodes_mapping_ends_with_its_lease(lab: Lab) -> None:
    # a node that added a mapping and then died (SIGKILL): nobody renews or deletes it
    lease = 20
    added = nat(lab, "--url", URL, "add", "8060", "8060", "TCP", H1, str(lease))
    assert added["result"]["lease"] == lease
    assert "198.51.100.11:8060" in lab.nft_chain("prerouting_miniupnpd")
    start = time.monotonic()
    while "198.51.100.11:8060" in lab.nft_chain("prerouting_miniupnpd"):
        assert time.monotonic() - start < lease + 30, "miniupnpd kept an expired mapping"
        time.sleep(1)
    assert nat(lab, "--url", URL, "get", "8060", "TCP")["result"] is None


def test_advertiser_shares_port_1900_with_miniupnpd(lab: Lab, tmp_path: Path) -> None:
    node = lab.spawn("router", [TWISTD, "-n", "--pidfile=", "--logfile=-", "ssdp", "--product",
                                "blockchain", "--interface", "br0", "--no-discover",
                                "--state-file", str(tmp_path / "n.json")])  # fmt: skip
    node.wait_for_line(lambda line: "advertising" in line, 20)
    done = lab.run("h1", [PYTHON, str(TOOLS / "find_peers.py"), "blockchain", "main", "5", "1"],
                   timeout=40)  # fmt: skip
    peers = json.loads(done.stdout.strip().splitlines()[-1])
    assert [(p["host"], p["port"]) for p in peers] == [(ROUTER_LAN, 8048)]
    # and miniupnpd still answers its searches
    assert nat(lab, "status")["result"]["status"] == "Connected"


def test_interface_down_and_up(lab: Lab, tmp_path: Path) -> None:
    node = lab.spawn("h1", [TWISTD, "-n", "--pidfile=", "--logfile=-", "ssdp", "--product",
                            "blockchain", "--no-discover", "--state-file",
                            str(tmp_path / "n.json")])  # fmt: skip
    node.wait_for_line(lambda line: "advertising" in line, 20)
    lab.run("h1", ["ip", "link", "set", "eth0", "down"], timeout=10)
    lab.run("h1", ["ip", "link", "set", "eth0", "up"], timeout=10)
    # the address is configured statically here, so it comes back with the link
    done = lab.run("h2", [PYTHON, str(TOOLS / "find_peers.py"), "blockchain", "main", "5", "1"],
                   timeout=40)  # fmt: skip
    peers = json.loads(done.stdout.strip().splitlines()[-1])
    assert [(p["host"], p["port"]) for p in peers] == [(H1, 8048)]
    assert node.popen.poll() is None


def test_node_follows_an_address_change(lab: Lab, tmp_path: Path) -> None:
    node = lab.spawn("h1", [TWISTD, "-n", "--pidfile=", "--logfile=-", "ssdp", "--product",
                            "blockchain", "--rescan-interval", "1", "--state-file",
                            str(tmp_path / "n.json")])  # fmt: skip
    node.wait_for_line(lambda line: "advertising" in line, 20)
    # the host is renumbered (DHCP, say): the old address goes, a new one comes
    lab.run("h1", ["ip", "addr", "del", f"{H1}/24", "dev", "eth0"], timeout=10)
    lab.run("h1", ["ip", "addr", "add", "198.51.100.21/24", "dev", "eth0"], timeout=10)
    lab.run("h1", ["ip", "route", "add", "default", "via", ROUTER_LAN], timeout=10)
    node.wait_for_line(lambda line: "now advertising on eth0" in line, 10)
    done = lab.run("h2", [PYTHON, str(TOOLS / "find_peers.py"), "blockchain", "main", "5", "1"],
                   timeout=40)  # fmt: skip
    peers = json.loads(done.stdout.strip().splitlines()[-1])
    assert [(p["host"], p["port"]) for p in peers] == [("198.51.100.21", 8048)]
    assert peers[0]["location"].startswith("http://198.51.100.21:")
