"""
Amplification in a namespace lab: floods of ssdp:all M-SEARCH at a twistd
node, from one source, from a hundred, and from off the subnet. Figures for
RELIABILITY.md come from bench/bench_flood.py; here the bounds are checked.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import require_lab
from netlab import Lab

pytestmark = pytest.mark.lab

TOOLS = Path(__file__).parent / "lab_tools"
PYTHON = sys.executable
TWISTD = str(Path(sys.executable).with_name("twistd"))
H1, H2 = "198.51.100.11", "198.51.100.12"
# the advertiser's limits (SSDPAdvertiser defaults)
PER_SOURCE_BURST, PER_SOURCE_RATE = 40, 20
TOTAL_BURST, TOTAL_RATE = 400, 200


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    require_lab()
    with Lab(hosts=3) as made:
        node = made.spawn("h1", [TWISTD, "-n", "--pidfile=", "--logfile=-", "ssdp", "--product",
                                 "blockchain", "--no-discover", "--state-file",
                                 f"{made.state}/node.json"])  # fmt: skip
        node.wait_for_line(lambda line: "advertising" in line, 20)
        made.node = node  # type: ignore[attr-defined]
        yield made


def flood(lab: Lab, seconds: float, rate: float, *sources: str) -> dict[str, Any]:
    argv = [PYTHON, str(TOOLS / "flood.py"), str(seconds), str(rate), *sources]
    done = lab.run("h2", argv, timeout=seconds + 60)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def assert_one_source_limited(result: dict[str, Any]) -> None:
    """What a 5 s, 50/s flood from one source earns: its bucket, and MX capped."""
    assert result["searches_sent"] >= 240
    # the bucket: a burst, then its rate, while searches arrive (5 s)
    assert 0 < result["replies_received"] <= PER_SOURCE_BURST + PER_SOURCE_RATE * 6
    assert result["bytes_received"] / result["bytes_sent"] < 3.0
    # MX 120 was asked for: every reply came within 5 s of the last search
    assert result["last_reply_after_flood"] <= 5.5


def test_one_source_is_limited_and_mx_is_capped(lab: Lab) -> None:
    assert_one_source_limited(flood(lab, 5, 50, H2))


def test_legitimate_peer_is_answered_during_a_flood(lab: Lab) -> None:
    attack = subprocess.Popen(
        ["ip", "netns", "exec", lab.ns("h2"), PYTHON, str(TOOLS / "flood.py"), "8", "100", H2],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        argv = [PYTHON, str(TOOLS / "find_peers.py"), "blockchain", "main", "6", "1"]
        found = lab.run("h3", argv, timeout=60)
        assert found.returncode == 0, found.stderr
        peers = json.loads(found.stdout.strip().splitlines()[-1])
        assert [(p["host"], p["port"]) for p in peers] == [(H1, 8048)]
    finally:
        attack.communicate(timeout=60)


def test_many_sources_are_bounded_in_total(lab: Lab) -> None:
    sources = [f"198.51.100.{i}" for i in range(100, 200)]
    for source in sources:
        subprocess.run(["ip", "-n", lab.ns("h2"), "addr", "add", f"{source}/24", "dev", "eth0"],
                       check=True)  # fmt: skip
    try:
        result = flood(lab, 5, 5, *sources)
    finally:
        for source in sources:
            subprocess.run(["ip", "-n", lab.ns("h2"), "addr", "del", f"{source}/24", "dev",
                            "eth0"], check=False)  # fmt: skip
    assert result["searches_sent"] >= 2400
    assert result["replies_received"] <= TOTAL_BURST + TOTAL_RATE * 6
    assert result["max_replies_per_source"] <= PER_SOURCE_BURST + PER_SOURCE_RATE * 6
    assert result["bytes_received"] / result["bytes_sent"] < 3.0
    # the node's memory stays bounded (a Python with Twisted, lxml and treq is ~55 MiB)
    assert lab.node.peak_rss_kb() < 100 * 1024  # type: ignore[attr-defined]


def test_off_subnet_source_gets_nothing(lab: Lab) -> None:
    # the node could reach 10.99.0.5 (a route via h2), but it is not on its subnet
    subprocess.run(["ip", "-n", lab.ns("h2"), "addr", "add", "10.99.0.5/32", "dev", "eth0"],
                   check=True)  # fmt: skip
    subprocess.run(["ip", "-n", lab.ns("h1"), "route", "add", "10.99.0.0/16", "via", H2],
                   check=True)  # fmt: skip
    result = flood(lab, 2, 20, "10.99.0.5")
    assert result["searches_sent"] >= 38
    assert result["replies_received"] == 0
    # and the same host from its on-subnet address is answered (the check is the sender's subnet)
    assert flood(lab, 1, 2, H2)["replies_received"] > 0


H2_6 = "2001:db8:5100::12"


@pytest.fixture(scope="module")
def lab6() -> Iterator[Lab]:
    """A dual-stack LAN with a node on h1; the floods come over IPv6 (ff02::c)."""
    require_lab()
    with Lab(hosts=2, ipv6=True) as made:
        node = made.spawn("h1", [TWISTD, "-n", "--pidfile=", "--logfile=-", "ssdp", "--product",
                                 "blockchain", "--no-discover", "--state-file",
                                 f"{made.state}/node.json"])  # fmt: skip
        node.wait_for_line(lambda line: "advertising" in line, 20)
        yield made


def test_ipv6_sources_are_limited_as_ipv4_ones(lab6: Lab) -> None:
    for source in (H2_6, f"{lab6.link_local('h2')}%eth0"):
        assert_one_source_limited(flood(lab6, 5, 50, source))


def test_off_link_ipv6_source_gets_nothing(lab6: Lab) -> None:
    # routable from the node (via h2), but outside every prefix of its link
    subprocess.run(["ip", "-n", lab6.ns("h2"), "addr", "add", "2001:db8:99::5/128", "dev", "eth0",
                    "nodad"], check=True)  # fmt: skip
    subprocess.run(["ip", "-n", lab6.ns("h1"), "-6", "route", "add", "2001:db8:99::/64", "via",
                    H2_6], check=True)  # fmt: skip
    result = flood(lab6, 2, 20, "2001:db8:99::5")
    assert result["searches_sent"] >= 38
    assert result["replies_received"] == 0
    assert flood(lab6, 1, 2, H2_6)["replies_received"] > 0
