"""
The IGD client against a real miniupnpd (Debian miniupnpd-nftables), in a
namespace lab with a router, a WAN side and a STUN responder (netlab.py).
Skipped with a reason where namespaces cannot be made or miniupnpd is missing.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import require_lab
from netlab import MINIUPNPD_HTTP_PORT, ROUTER_LAN, ROUTER_WAN, Lab

pytestmark = pytest.mark.lab

TOOLS = Path(__file__).parent / "lab_tools"
PYTHON = sys.executable
TWISTD = str(Path(sys.executable).with_name("twistd"))
URL = f"http://{ROUTER_LAN}:{MINIUPNPD_HTTP_PORT}/rootDesc.xml"
H1, H2 = "198.51.100.11", "198.51.100.12"


@pytest.fixture(params=["igd2", "igd1"])
def router_lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    require_lab("miniupnpd", "upnpc", "nft")
    with Lab(hosts=2, router=True) as lab:
        lab.start_miniupnpd(igd1=request.param == "igd1")
        lab.igd1 = request.param == "igd1"  # type: ignore[attr-defined]
        yield lab


def nat(lab: Lab, *argv: str, host: str = "h1") -> dict[str, Any]:
    done = lab.run(host, [PYTHON, str(TOOLS / "nat_tool.py"), *argv], timeout=40)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, done.stdout + done.stderr
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def upnpc(lab: Lab, *argv: str) -> str:
    done = lab.run("h1", ["upnpc", "-u", URL, *argv], timeout=30)
    return done.stdout + done.stderr


def test_add_reaches_the_lan_host_and_delete_closes_it(router_lab: Lab) -> None:
    lab = router_lab
    found = nat(lab, "external-ip")
    assert found["result"] == {"ip": ROUTER_WAN, "double_nat": False}
    assert found["igd2"] is not getattr(lab, "igd1")  # noqa: B009
    assert found["local"] == H1
    added = nat(lab, "add", "8048", "8048", "TCP")
    assert added["result"]["external_port"] == 8048
    # the rule is in the router's nftables chains
    assert "dnat ip to 198.51.100.11:8048" in lab.nft_chain("prerouting_miniupnpd")
    # a third-party client sees it, with our description
    listing = upnpc(lab, "-l")
    assert "8048->198.51.100.11:8048" in listing and "ssdp_upnp-test" in listing
    # and the internet side reaches the LAN host through it
    greeter = lab.spawn("h1", [PYTHON, str(TOOLS / "tcp_listen.py"), "8048", "HELLO h1"])
    greeter.wait_for_line(lambda line: line == "listening", 10)
    reached = lab.run("wan", [PYTHON, str(TOOLS / "tcp_connect.py"), ROUTER_WAN, "8048"], 20)
    assert reached.stdout.strip() == "HELLO h1"
    assert nat(lab, "delete", "8048", "TCP")["result"] is None
    assert "8048" not in lab.nft_chain("prerouting_miniupnpd")
    closed = lab.run("wan", [PYTHON, str(TOOLS / "tcp_connect.py"), ROUTER_WAN, "8048"], 20)
    assert closed.stdout.startswith("ERROR")


def test_our_list_shows_what_upnpc_added(router_lab: Lab) -> None:
    lab = router_lab
    assert "is redirected to internal" in upnpc(lab, "-a", H1, "9100", "9100", "UDP")
    listed = nat(lab, "list")["result"]
    assert [(m["external_port"], m["protocol"], m["internal_client"]) for m in listed] == [
        (9100, "UDP", H1)
    ]
    assert listed[0]["description"] == "libminiupnpc"


def test_another_hosts_address_is_refused_typed(router_lab: Lab) -> None:
    refused = nat(router_lab, "add", "8049", "8049", "TCP", H2)
    # miniupnpd's secure mode answers 718 for another client (606 on some routers)
    assert refused["error"] in ("ConflictInMappingEntry", "NotAuthorized"), refused
    assert "8049" not in router_lab.nft_chain("prerouting_miniupnpd")


def test_service_recreates_mappings_after_a_router_restart_and_cleans_up(
    router_lab: Lab, tmp_path: Path
) -> None:
    lab = router_lab
    node = lab.spawn("h1", [
        TWISTD, "-n", "--pidfile=", "--logfile=-", "ssdp", "--state-file",
        str(tmp_path / "s.json"), "--product", "blockchain", "--forward", "8048",
        "--forward", "9000:19000/udp", "--check-interval", "2", "--lease", "600",
    ])  # fmt: skip
    node.wait_for_line(lambda line: "forwarding 203.0.113.2:8048" in line, 30)
    node.wait_for_line(lambda line: "forwarding 203.0.113.2:19000" in line, 30)
    chain = lab.nft_chain("prerouting_miniupnpd")
    assert "198.51.100.11:8048" in chain and "198.51.100.11:9000" in chain
    # LAN peers learn the node's public address from its SSDP messages
    done = lab.run("h2", [PYTHON, str(TOOLS / "find_peers.py"), "blockchain", "main", "5", "1"],
                   timeout=40)  # fmt: skip
    (peer,) = json.loads(done.stdout.strip().splitlines()[-1])
    assert (peer["host"], peer["port"], peer["external"]) == (H1, 8048, [ROUTER_WAN, 8048])
    # the router dies and comes back with an empty table
    lab.stop_miniupnpd(signal.SIGKILL)
    lab.run("router", ["nft", "flush", "chain", "inet", "filter", "prerouting_miniupnpd"], 10)
    lab.run("router", ["nft", "flush", "chain", "inet", "filter", "miniupnpd"], 10)
    assert "8048" not in lab.nft_chain("prerouting_miniupnpd")
    lab.start_miniupnpd(igd1=getattr(lab, "igd1"))  # noqa: B009
    node.wait_for_line(lambda line: "gone from the gateway; re-creating" in line
                       or "using gateway" in line, 60)  # fmt: skip
    listed = []
    for _ in range(40):
        listed = nat(lab, "list")["result"]
        if {m["external_port"] for m in listed} >= {8048, 19000}:
            break
    assert {(m["external_port"], m["protocol"]) for m in listed} == {(8048, "TCP"), (19000, "UDP")}
    # a clean stop leaves nothing behind
    node.signal(signal.SIGTERM)
    assert node.wait(30) == -signal.SIGTERM
    assert nat(lab, "list")["result"] == []
    assert "198.51.100.11" not in lab.nft_chain("prerouting_miniupnpd")


def test_gateway_found_by_a_direct_search_when_multicast_is_lost(router_lab: Lab) -> None:
    lab = router_lab
    # multicast from h1 goes nowhere; only the search sent straight to the default gateway
    # (read from /proc/net/route) can reach miniupnpd
    for rule in ("add table ip lost",
                 "add chain ip lost out { type filter hook output priority 0 ; policy accept ; }",
                 "add rule ip lost out ip daddr 239.255.255.250 counter drop"):  # fmt: skip
        done = lab.run("h1", ["nft", rule], timeout=10)
        assert done.returncode == 0, done.stderr
    found = nat(lab, "external-ip")
    dropped = lab.run("h1", ["nft", "list", "table", "ip", "lost"], timeout=10).stdout
    assert "packets 0 " not in dropped  # the multicast searches were sent, and lost
    assert found["result"]["ip"] == ROUTER_WAN, found
