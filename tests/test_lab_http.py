"""
The description server of a real ``twistd -n ssdp`` node under attack from the
LAN, in namespaces: slowloris under systemd's descriptor limit, a 200 MiB
body, 60,000 pipelined requests, an off-link source. A legitimate GET is
answered throughout, and the node keeps advertising.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
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
HTTP_PORT = 8049


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    require_lab()
    with Lab(hosts=3) as made:
        command = (f"ulimit -n 1024; exec {TWISTD} -n --pidfile= --logfile=- ssdp --product"
                   f" blockchain --http-port {HTTP_PORT} --rescan-interval 2 --state-file"
                   f" {made.state}/node.json")  # fmt: skip
        node = made.spawn("h1", ["sh", "-c", command])
        node.wait_for_line(lambda line: "advertising" in line, 20)
        made.node = node  # type: ignore[attr-defined]
        yield made


def attack(lab: Lab, *argv: str, host: str = "h2", timeout: float = 120) -> dict[str, Any]:
    done = lab.run(host, [PYTHON, str(TOOLS / "http_attack.py"), *argv], timeout=timeout)
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def still_advertising(lab: Lab) -> None:
    node = lab.node  # type: ignore[attr-defined]
    assert not any("no usable interface" in line or "no longer advertising" in line
                   for line in node.lines), "\n".join(node.lines[-20:])  # fmt: skip
    assert attack(lab, "get", H1, str(HTTP_PORT), host="h3")["status"] == 200


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_slowloris_takes_no_more_than_its_share(lab: Lab) -> None:
    node = lab.node  # type: ignore[attr-defined]
    watcher = lab.spawn("h3", [PYTHON, str(TOOLS / "http_attack.py"), "watch", H1,
                               str(HTTP_PORT), "22"])  # fmt: skip
    at_rest = descriptors(node.popen.pid)
    peak: list[int] = [at_rest]
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.2):
            peak.append(descriptors(node.popen.pid))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = attack(lab, "slowloris", H1, str(HTTP_PORT))
    finally:
        sampling.set()
        sampler.join()
    print(f"descriptors: {at_rest} at rest, {max(peak)} at most under slowloris")
    assert max(peak) < at_rest + 64 + 8, peak  # its caps, whatever the 1,100 connections
    # per source at most 8 are held, and none for more than the 5 s request deadline
    assert result["held"] == 0, result
    watched = json.loads(watcher.wait_for_line(lambda line: line.startswith("{"), 40))
    assert len(watched["legit"]) >= 15 and set(watched["legit"]) == {200}, watched
    still_advertising(lab)


def test_a_request_body_is_refused_before_it_is_stored(lab: Lab) -> None:
    result = attack(lab, "body", H1, str(HTTP_PORT))
    print(f"body: {result['sent']} bytes sent before the connection closed")
    assert result["answer"].startswith("HTTP/1.1 405"), result
    assert result["sent"] < 209715200  # the server closed the connection long before
    still_advertising(lab)


def test_pipelined_requests_get_one_answer(lab: Lab) -> None:
    node = lab.node  # type: ignore[attr-defined]
    before = node.peak_rss_kb()
    assert attack(lab, "pipeline", H1, str(HTTP_PORT))["answers"] == 1
    print(f"peak RSS: {before} KiB before, {node.peak_rss_kb()} KiB after 60,000 pipelined GETs")
    assert node.peak_rss_kb() - before < 10 * 1024
    still_advertising(lab)


def test_an_off_link_source_gets_no_description(lab: Lab) -> None:
    subprocess.run(["ip", "-n", lab.ns("h2"), "addr", "add", "10.98.0.5/32", "dev", "eth0"],
                   check=True)  # fmt: skip
    subprocess.run(["ip", "-n", lab.ns("h1"), "route", "add", "10.98.0.0/16", "via", H2],
                   check=True)  # fmt: skip
    assert attack(lab, "get", H1, str(HTTP_PORT), "10.98.0.5")["status"] == "closed"
    assert attack(lab, "get", H1, str(HTTP_PORT), H2)["status"] == 200
