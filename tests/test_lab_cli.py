"""The ssdp-upnp command line against the lab: real peers, a real router, JSON shapes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import require_lab
from netlab import MINIUPNPD_HTTP_PORT, ROUTER_LAN, ROUTER_WAN, Lab

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
    table = cli(lab, "search", "--st", "upnp:rootdevice", "--timeout", "2", "-v")
    assert table.returncode == 0
    assert table.stdout.splitlines()[0].split() == ["HOST", "ST", "USN", "LOCATION", "SERVER"]
    assert len(table.stdout.splitlines()) == 3  # header, the router, our node
    narrow = cli(lab, "search", "--timeout", "2")
    assert narrow.stdout.splitlines()[0].split() == ["HOST", "TYPE", "UUID"]
    assert max(len(line) for line in narrow.stdout.splitlines()) < 100


def test_peers_wanted_returns_as_soon_as_found(lab: Lab) -> None:
    started = time.monotonic()
    peers = as_json(cli(lab, "peers", "--product", "blockchain", "--wanted", "1", "--timeout",
                        "30", "--json"))  # fmt: skip
    assert [p["host"] for p in peers] == [H1] and time.monotonic() - started < 10


def test_progress_only_on_a_terminal(lab: Lab) -> None:
    on_pipe = cli(lab, "search", "--timeout", "1.5")
    assert "searching..." not in on_pipe.stderr
    # the same command with its stderr on a pseudo-terminal
    script = (
        "import os, pty, subprocess, sys\n"
        "master, slave = pty.openpty()\n"
        "done = subprocess.run(sys.argv[1:], stderr=slave, stdout=subprocess.DEVNULL)\n"
        "os.close(slave)\n"
        "out = b''\n"
        "while True:\n"
        "    try:\n"
        "        chunk = os.read(master, 4096)\n"
        "    except OSError:\n"
        "        break\n"
        "    if not chunk:\n"
        "        break\n"
        "    out += chunk\n"
        "print(repr(out))\n"
    )
    done = lab.run("h2", [sys.executable, "-c", script, *CLI, "search", "--timeout", "1.5"],
                   timeout=60)  # fmt: skip
    assert "searching..." in done.stdout, done.stdout + done.stderr


def test_peers(lab: Lab) -> None:
    peers = as_json(cli(lab, "peers", "--product", "blockchain", "--json"))
    assert [(p["host"], p["port"], p["node_id"]) for p in peers] == [(H1, 8048, "n1")]
    assert set(peers[0]) == {
        "host",
        "port",
        "uuid",
        "node_id",
        "network",
        "location",
        "external",
        "external6",
        "addresses",
    }
    assert peers[0]["addresses"] == [H1]  # an IPv4 LAN
    assert peers[0]["external6"] is None  # no pinholes advertised
    assert as_json(cli(lab, "peers", "--product", "otherchain", "--json", "--timeout", "1")) == []


def test_nat_commands(lab: Lab) -> None:
    status = as_json(cli(lab, "--json", "nat", "status"))
    # this router speaks UPnP IGD only: PCP and NAT-PMP are named as silent
    methods = {row["method"]: row for row in status["methods"]}
    assert [methods["pcp"]["answered"], methods["natpmp"]["answered"]] == [False, False]
    assert methods["igd2"]["status"] == "Connected" and status["external_ip"] == ROUTER_WAN
    assert status["local_address"] == H2 and status["double_nat"] is False
    assert status["best"] == "igd2"
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


def test_nat_remove_refuses_another_hosts_mapping(lab: Lab) -> None:
    require_lab("upnpc")
    url = f"http://{ROUTER_LAN}:{MINIUPNPD_HTTP_PORT}/rootDesc.xml"
    added = lab.run("h1", ["upnpc", "-u", url, "-a", H1, "9200", "9200", "TCP"], timeout=30)
    assert "is redirected to internal" in added.stdout, added.stdout
    refused = cli(lab, "nat", "remove", "9200")
    assert refused.returncode == 1
    assert (
        refused.stderr.strip()
        == f"ssdp-upnp: remove failed: 606 TCP 9200 is forwarded to {H1}, not to us"
    )
    assert f"{H1}:9200" in lab.nft_chain("prerouting_miniupnpd")
    as_json_error = cli(lab, "--json", "nat", "remove", "9200")
    assert json.loads(as_json_error.stderr)["error"] == "NotAuthorized"
    lab.run("h1", ["upnpc", "-u", url, "-d", "9200", "TCP"], timeout=30)
