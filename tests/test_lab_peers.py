"""
A real ``twistd -n ssdp`` node while one LAN host floods fake nodes: it is not
eclipsed (a new legitimate node is reported within one search interval), and
a flapping host grows neither the log nor the seed facade's queue.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import require_lab
from netlab import Lab, Process

pytestmark = pytest.mark.lab

TOOLS = Path(__file__).parent / "lab_tools"
PYTHON = sys.executable
TWISTD = str(Path(sys.executable).with_name("twistd"))
H3 = "198.51.100.13"


@pytest.fixture
def lab() -> Iterator[Lab]:
    require_lab()
    with Lab(hosts=3) as made:
        yield made


def node(lab: Lab, host: str, *args: str) -> Process:
    argv = [TWISTD, "-n", "--pidfile=", "--logfile=-", "ssdp", "--product", "blockchain",
            "--state-file", f"{lab.state}/{host}.json", *args]  # fmt: skip
    lab.state.mkdir(parents=True, exist_ok=True)
    process = lab.spawn(host, argv)
    process.wait_for_line(lambda line: "advertising" in line or "searching for" in line, 20)
    return process


def flood(lab: Lab, mode: str, count: int, rate: int) -> dict[str, Any]:
    done = lab.run("h2", [PYTHON, str(TOOLS / "peer_flood.py"), mode, str(count), str(rate)],
                   timeout=count / rate + 60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_flood_of_fake_nodes_does_not_eclipse_a_new_one(lab: Lab) -> None:
    watcher = node(lab, "h1", "--search-interval", "10", "--no-advertise")
    assert flood(lab, "eclipse", 100_000, 20_000)["sent"] == 100_000
    found_fake = [line for line in watcher.lines if "peer found" in line]
    assert 0 < len(found_fake) <= 16 + 1  # one host's share (and the log line's own count)
    assert any("too many peers from one source" in line for line in watcher.lines)
    node(lab, "h3", "--port", "9000", "--no-discover")
    line = watcher.wait_for_line(lambda line: f"at {H3}:9000" in line, 10 + 5)
    assert "peer found" in line


def test_a_flapping_host_grows_neither_the_log_nor_the_queue(lab: Lab) -> None:
    watcher = node(lab, "h1", "--no-advertise")
    queue = lab.spawn("h3", [PYTHON, str(TOOLS / "facade_queue.py"), "25"])
    queue.wait_for_line(lambda line: '"started"' in line, 20)
    before = sum(len(line) + 1 for line in watcher.lines)
    flood(lab, "flap", 100_000, 10_000)
    logged = sum(len(line) + 1 for line in watcher.lines) - before
    assert logged < 64 * 1024, "\n".join(watcher.lines[-20:])
    queued = json.loads(queue.wait_for_line(lambda line: '"queued"' in line, 40))["queued"]
    # 50,000 appearances of 1,000 uuids: each is queued once (its first), not at every flap
    assert queued <= 1000
