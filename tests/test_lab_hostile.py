"""
Hostile gateways and peers in a namespace lab: a fake router on h3 serves
nasty documents; our client on h1 must fail with a typed error within its
time, keep its memory bounded, read no file and contact no third host (h2).
"""

from __future__ import annotations

import json
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
H1, H2, H3 = "198.51.100.11", "198.51.100.12", "198.51.100.13"
TIMEOUT = 8  # nat_tool's find_gateway timeout (and each HTTP exchange's)
MAX_RSS_KB = 150 * 1024


@pytest.fixture
def lab() -> Iterator[Lab]:
    require_lab()
    with Lab(hosts=3) as made:
        third = made.spawn("h2", [PYTHON, str(TOOLS / "tcp_listen.py"), "5000"])
        third.wait_for_line(lambda line: line == "listening", 10)
        made.third = third  # type: ignore[attr-defined]
        yield made
        assert not any(line.startswith("connection") for line in third.lines), third.lines


def attack(lab: Lab, mode: str, *command: str) -> tuple[dict[str, Any], list[str]]:
    hostile = lab.spawn("h3", [PYTHON, str(TOOLS / "hostile.py"), mode, H3, H2])
    hostile.wait_for_line(lambda line: line == "hostile gateway ready", 10)
    done = lab.run("h1", [PYTHON, str(TOOLS / "nat_tool.py"), *(command or ("status",))],
                   timeout=TIMEOUT + 30)  # fmt: skip
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, done.stdout + done.stderr
    return json.loads(lines[-1]), hostile.lines


@pytest.mark.parametrize(
    "mode, why",
    [
        ("xxe", "DOCTYPE is refused"),
        ("laughs", "DOCTYPE is refused"),
        ("doctype", "DOCTYPE is refused"),
        ("big", "over 262144"),
        ("endless", "over 262144"),
        ("trickle", "no complete answer in 8"),
        ("redirect", "redirect (302) refused"),
        ("endless-head", "response head over 65536 bytes"),
        ("cut", "body cut short after 100 bytes"),
        ("bad-chunk", "bad chunk size"),
        ("third-host", "no answer"),
        ("overlong", "no answer"),
        ("soap-garbage", "HTTP 500 without a SOAP fault"),
        ("soap-fault-nocode", "nope"),
    ],
)
def test_hostile_gateway(lab: Lab, mode: str, why: str) -> None:
    result, served = attack(lab, mode)
    assert result["error"] == "NoGatewayFound", result
    assert why in result["message"], result["message"]
    assert "root:x:0:0" not in result["message"]  # no file was read into anything
    assert result["elapsed"] < TIMEOUT + 3
    assert result["maxrss_kb"] < MAX_RSS_KB
    if mode in ("third-host", "overlong"):
        assert not any(line.startswith(("GET", "POST")) for line in served)


def test_huge_port_mapping_list(lab: Lab) -> None:
    result, _ = attack(lab, "huge-list", "list")
    assert result["error"] == "InvalidGatewayResponse"
    assert "more than 1024 port mappings" in result["message"]
    assert result["maxrss_kb"] < MAX_RSS_KB


def test_subscribe_to_our_description_server_is_refused(lab: Lab, tmp_path: Path) -> None:
    node = lab.spawn("h1", [TWISTD, "-n", "--pidfile=", "--logfile=-", "ssdp", "--product",
                            "blockchain", "--no-discover", "--state-file",
                            str(tmp_path / "n.json")])  # fmt: skip
    line = node.wait_for_line(lambda line: "advertising" in line, 20)
    location = line.split("at ['", 1)[1].split("'", 1)[0]
    script = (
        "import http.client, sys, urllib.parse\n"
        "u = urllib.parse.urlsplit(sys.argv[1])\n"
        "for path in (u.path, '/evt', '/control'):\n"
        "    c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)\n"
        "    c.request('SUBSCRIBE', path, headers={'CALLBACK': '<http://198.51.100.12:5000/>',"
        " 'NT': 'upnp:event', 'TIMEOUT': 'Second-300'})\n"
        "    print(c.getresponse().status)\n"
    )
    done = lab.run("h3", [PYTHON, "-c", script, location], timeout=30)
    # the description refuses the method; there is no eventing URL to subscribe to
    assert done.stdout.split() == ["405", "404", "404"], done.stdout + done.stderr
    # (the fixture checks that nothing called back to the CALLBACK host, h2)
