"""
Who owns a mapping, with a real miniupnpd: a port another host took is neither
advertised nor deleted by us (secure_mode=no lets any host delete any mapping),
a second node forwarding the same port gets another one, and an add that timed
out on a hung router leaves no orphan once the router resumes.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import require_lab
from netlab import MINIUPNPD_HTTP_PORT, ROUTER_LAN, ROUTER_WAN, Lab, Process

pytestmark = pytest.mark.lab

TOOLS = Path(__file__).parent / "lab_tools"
PYTHON = sys.executable
TWISTD = str(Path(sys.executable).with_name("twistd"))
URL = f"http://{ROUTER_LAN}:{MINIUPNPD_HTTP_PORT}/rootDesc.xml"
H1, H2 = "198.51.100.11", "198.51.100.12"


def forwarding_node(lab: Lab, host: str, *args: str) -> Process:
    argv = [TWISTD, "-n", "--pidfile=", "--logfile=-", "ssdp", "--product", "blockchain",
            "--port", "8048", "--forward", "8048", "--gateway-url", URL, "--state-file",
            f"{lab.state}/{host}.json", *args]  # fmt: skip
    process = lab.spawn(host, argv)
    process.wait_for_line(lambda line: "forwarding" in line and "(TCP)" in line, 30)
    return process


def reach(lab: Lab, port: int) -> str:
    done = lab.run("wan", [PYTHON, str(TOOLS / "tcp_connect.py"), ROUTER_WAN, str(port)], 20)
    return done.stdout.strip()


def peers_seen_from(lab: Lab, host: str) -> list[dict[str, Any]]:
    done = lab.run(host, [PYTHON, str(TOOLS / "find_peers.py"), "blockchain", "main", "4"], 30)
    result: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_two_nodes_forwarding_one_port_and_a_port_taken_over() -> None:
    require_lab("miniupnpd", "upnpc", "nft")
    with Lab(hosts=3, router=True) as lab:
        lab.start_miniupnpd(secure=False)
        for host in ("h1", "h2"):
            greeter = lab.spawn(host, [PYTHON, str(TOOLS / "tcp_listen.py"), "8048",
                                       f"HELLO {host}"])  # fmt: skip
            greeter.wait_for_line(lambda line: line == "listening", 10)
        first = forwarding_node(lab, "h1", "--no-discover", "--check-interval", "3")
        second = forwarding_node(lab, "h2", "--no-discover", "--check-interval", "3")
        moved = next(line for line in second.lines if "held by another host" in line)
        other = int(moved.rsplit("forwarding ", 1)[1].split()[0])
        assert other != 8048
        # both reachable from the internet, each on its own port
        assert reach(lab, 8048) == "HELLO h1" and reach(lab, other) == "HELLO h2"
        peers = {p["host"]: p["external"] for p in peers_seen_from(lab, "h3")}
        assert peers == {H1: [ROUTER_WAN, 8048], H2: [ROUTER_WAN, other]}
        # h2 stops: h1's mapping stays
        second.signal(signal.SIGTERM)
        assert second.wait(20) == -signal.SIGTERM  # twistd ends by the signal, cleanly
        assert f"dnat ip to {H1}:8048" in lab.nft_chain("prerouting_miniupnpd")
        assert f"{H2}:8048" not in lab.nft_chain("prerouting_miniupnpd")
        # a third host takes 8048 over behind h1's back (secure mode off lets it)
        for argv in (["-d", "8048", "TCP"], ["-a", "198.51.100.13", "8048", "8048", "TCP"]):
            lab.run("h3", ["upnpc", "-u", URL, *argv], timeout=30)
        assert "198.51.100.13:8048" in lab.nft_chain("prerouting_miniupnpd")
        # h1 notices at its next check: it moves, and stops advertising the port it lost
        first.wait_for_line(lambda line: "held by another host" in line, 15)
        deadline = time.monotonic() + 20
        while True:
            external = {p["host"]: p["external"] for p in peers_seen_from(lab, "h3")}[H1]
            if external is not None and external[1] != 8048:
                break
            assert time.monotonic() < deadline, external
        # and its stop leaves the third host's mapping of 8048 in place
        first.signal(signal.SIGTERM)
        assert first.wait(20) == -signal.SIGTERM
        assert "198.51.100.13:8048" in lab.nft_chain("prerouting_miniupnpd")
        assert f"{H1}:" not in lab.nft_chain("prerouting_miniupnpd")


def test_an_add_that_timed_out_leaves_no_orphan(tmp_path: Path) -> None:
    require_lab("miniupnpd", "nft")
    with Lab(hosts=2, router=True) as lab:
        lab.start_miniupnpd()
        assert lab.miniupnpd is not None
        go = tmp_path / "go"
        program = lab.spawn("h1", [PYTHON, str(TOOLS / "facade_nat_hang.py"), URL, str(go),
                                   "45"])  # fmt: skip
        first = json.loads(program.wait_for_line(lambda line: '"first"' in line, 30))
        assert first == {"first": [ROUTER_WAN, 8015]}
        lab.miniupnpd.signal(signal.SIGSTOP)
        try:
            go.write_text("go")
            second = json.loads(program.wait_for_line(lambda line: '"second"' in line, 20))
            assert second == {"second": None}  # no answer in its time
        finally:
            lab.miniupnpd.signal(signal.SIGCONT)
        # the router now makes the mapping it was asked for; the node finds it and removes it
        deadline = time.monotonic() + 30
        seen = False
        while time.monotonic() < deadline:
            chain = lab.nft_chain("prerouting_miniupnpd")
            seen = seen or f"{H1}:8012" in chain
            if seen and f"{H1}:8012" not in chain:
                break
            time.sleep(0.5)
        else:
            raise AssertionError(f"8070 still mapped (seen: {seen}): {chain}")
        assert f"dnat ip to {H1}:8011" in lab.nft_chain("prerouting_miniupnpd")  # kept
