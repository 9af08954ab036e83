"""The ssdp-upnp command line against the lab: real peers, a real router, JSON shapes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import require_lab
from netlab import ROUTER_LAN, ROUTER_WAN, Lab

pytestmark = pytest.mark.lab

CLI = [sys.executable, "-m", "ssdp_upnp"]
H1, H2 = "198.51.100.11", "198.51.100.12"


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    require_lab("miniupnpd", "nft")
    with Lab(hosts=2, router=True) as made:
        made.start_miniupnpd()
        node = made.spawn("h1", CLI + ["advertise", "--product", "blockchain", "--port", "8048",
                                       "--node-id", "n1", "--state-file",
                                       f"{made.state}/cli-node.json"])  # fmt: skip
        node.wait_for_line(lambda line: line.startswith("locations"), 20)
        yield made
        node.signal(signal.SIGTERM)
        assert node.wait(20) == 0


def cli(lab: Lab, *argv: str, host: str = "h2") -> subprocess.CompletedProcess[str]:
    return lab.run(host, CLI + list(argv), timeout=60)


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_search_lists_every_answer_once(lab: Lab) -> None:
    rows = as_json(cli(lab, "--json", "search", "--timeout", "2"))
    assert set(rows[0]) == {"host", "location", "seen_as", "server", "st", "usn"}
    ours = [r for r in rows if r["host"] == H1]
    assert {r["st"] for r in ours} == {
        "upnp:rootdevice", "urn:ssdp-upnp-org:device:blockchain:1",
        "urn:ssdp-upnp-org:service:blockchain:1", ours[0]["usn"].split("::")[0],
    }  # fmt: skip
    router = [r for r in rows if r["host"] == ROUTER_LAN]
    # miniupnpd answers each search twice (its v4 and v6 sockets): listed once
    assert len(router) == len({r["usn"] for r in router}) >= 10
    table = cli(lab, "search", "--st", "upnp:rootdevice", "--timeout", "2")
    assert table.returncode == 0
    assert table.stdout.splitlines()[0].split() == ["HOST", "ST", "USN", "LOCATION", "SERVER"]
    assert len(table.stdout.splitlines()) == 3  # header, the router, our node


def test_peers(lab: Lab) -> None:
    peers = as_json(cli(lab, "peers", "--product", "blockchain", "--json"))
    assert [(p["host"], p["port"], p["node_id"]) for p in peers] == [(H1, 8048, "n1")]
    assert set(peers[0]) == {"host", "port", "uuid", "node_id", "network", "location", "external"}
    assert as_json(cli(lab, "peers", "--product", "otherchain", "--json", "--timeout", "1")) == []


def test_nat_commands(lab: Lab) -> None:
    status = as_json(cli(lab, "--json", "nat", "status"))
    assert status["status"] == "Connected" and status["external_ip"] == ROUTER_WAN
    assert status["local_address"] == H2 and status["double_nat"] is False
    assert cli(lab, "nat", "external-ip").stdout.strip() == ROUTER_WAN
    added = as_json(cli(lab, "nat", "add", "9050", "19050", "--udp", "--json"))
    assert (added["external_ip"], added["external_port"], added["protocol"]) == (
        ROUTER_WAN, 19050, "UDP",
    )  # fmt: skip
    listed = as_json(cli(lab, "--json", "nat", "list"))
    assert [(m["external_port"], m["internal_client"], m["internal_port"]) for m in listed] == [
        (19050, H2, 9050)
    ]
    removed = cli(lab, "nat", "remove", "19050", "--udp")
    assert removed.returncode == 0 and "removed UDP 19050" in removed.stdout
    again = cli(lab, "nat", "remove", "19050", "--udp")
    assert again.returncode == 1 and "714" in again.stderr
    refused = cli(lab, "nat", "add", "8048", "--gateway-url", "http://198.51.100.1:5000/nope.xml")
    assert refused.returncode == 1 and refused.stderr.startswith("ssdp-upnp: ")


def test_no_gateway_is_exit_status_one() -> None:
    require_lab()
    with Lab(hosts=1) as bare:
        done = bare.run("h1", CLI + ["nat", "status", "--timeout", "1.5"], timeout=30)
    assert done.returncode == 1
    assert "no usable gateway found: no answer to the IGD searches" in done.stderr
    assert "Traceback" not in done.stderr
