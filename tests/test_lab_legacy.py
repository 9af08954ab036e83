"""
A network upgraded one node at a time: PyPI's ssdp-upnp 0.1.0 (in a venv of
the test's own, with its miniupnpc and colorlog) beside ours, in namespaces.
New server <-> old client and old server <-> new client (the blocking Client,
``ssdp-upnp peers``, ``twistd -n ssdp``) find each other; old <-> old still works.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import require_lab
from netlab import MINIUPNPD_HTTP_PORT, ROUTER_LAN, ROUTER_WAN, Lab, Process

pytestmark = pytest.mark.lab

TOOLS = Path(__file__).parent / "lab_tools"
PYTHON = sys.executable
TWISTD = str(Path(sys.executable).with_name("twistd"))
CLI = str(Path(sys.executable).with_name("ssdp-upnp"))
H1, H2 = "198.51.100.11", "198.51.100.12"


@pytest.fixture(scope="module")
def seed_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A venv with ssdp-upnp 0.1.0 from PyPI (the test skips, saying why, without PyPI)."""
    require_lab()
    venv = tmp_path_factory.mktemp("seed") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    python = str(venv / "bin" / "python")
    try:
        done = subprocess.run(
            [python, "-m", "pip", "install", "-q", "--disable-pip-version-check",
             "ssdp-upnp==0.1.0"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.skip("PyPI did not answer in 300 s: ssdp-upnp 0.1.0 cannot be installed")
    if done.returncode != 0:
        pytest.skip(f"ssdp-upnp 0.1.0 cannot be installed from PyPI: {done.stderr[-300:]}")
    return python


@pytest.fixture
def lab() -> Iterator[Lab]:
    with Lab(hosts=2) as made:
        yield made


def seed(lab: Lab, host: str, python: str, *args: str) -> Process:
    # -I: the seed's venv alone (neither this checkout nor PYTHON* variables on its path)
    process = lab.spawn(host, [python, "-I", str(TOOLS / "seed_010.py"), *args])
    line = process.wait_for_line(lambda line: line.startswith('{"seed"'), 20)
    assert "/venv/" in json.loads(line)["seed"], line
    return process


def twistd(lab: Lab, host: str, state: Path, *args: str) -> Process:
    argv = [TWISTD, "-n", "--pidfile=", "--logfile=-", "ssdp", "--state-file", str(state), *args]
    process = lab.spawn(host, argv)
    process.wait_for_line(lambda line: "advertising" in line or "searching for" in line, 20)
    return process


def peer_line(line: str) -> bool:
    return line.startswith('{"peer"')


def test_an_old_client_finds_a_new_server(lab: Lab, seed_python: str, tmp_path: Path) -> None:
    twistd(lab, "h1", tmp_path / "a.json", "--product", "blockchain", "--port", "8048",
           "--no-discover")  # fmt: skip
    client = seed(lab, "h2", seed_python, "client", "blockchain", "main", "25")
    found = json.loads(client.wait_for_line(peer_line, 25))
    assert found == {"peer": [H1, "8048"]}  # 0.1.0 queues the port as text


def test_no_legacy_hides_a_new_server_from_an_old_client(
    lab: Lab, seed_python: str, tmp_path: Path
) -> None:
    twistd(lab, "h1", tmp_path / "a.json", "--product", "blockchain", "--port", "8048",
           "--no-discover", "--no-legacy")  # fmt: skip
    client = seed(lab, "h2", seed_python, "client", "blockchain", "main", "12")
    assert client.wait(30) == 0
    assert not [line for line in client.lines if peer_line(line)]


def test_new_clients_find_an_old_server(lab: Lab, seed_python: str, tmp_path: Path) -> None:
    seed(lab, "h1", seed_python, "server", "8048", "blockchain", "main").wait_for_line(
        lambda line: '"serving"' in line, 10
    )
    # the blocking Client of the seed API: queued as (host, port), the host it answered from
    done = lab.run("h2", [PYTHON, str(TOOLS / "facade_client.py"), "20"], timeout=40)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"peer": [H1, 8048]}, (
        done.stdout + done.stderr
    )
    # the command line marks it legacy
    done = lab.run("h2", [CLI, "--json", "peers", "--product", "blockchain", "--timeout", "4"],
                   timeout=30)  # fmt: skip
    rows: list[dict[str, Any]] = json.loads(done.stdout)
    assert [(r["host"], r["port"], r["legacy"], r["uuid"]) for r in rows] == [
        (H1, 8048, True, "")
    ], done.stdout + done.stderr
    table = lab.run("h2", [CLI, "peers", "--product", "blockchain", "--timeout", "4"], timeout=30)
    assert "(legacy 0.1.0 node)" in table.stdout
    # twistd logs it as a peer; with --no-legacy it does not see it
    node = twistd(lab, "h2", tmp_path / "b.json", "--product", "blockchain", "--port", "9000")
    line = node.wait_for_line(lambda line: "peer found" in line, 20)
    assert f"at {H1}:8048" in line
    done = lab.run("h2", [CLI, "--json", "peers", "--product", "blockchain", "--timeout", "4",
                          "--no-legacy"], timeout=30)  # fmt: skip
    assert [r["host"] for r in json.loads(done.stdout)] == [H2]  # only the new node on h2


def test_old_nodes_still_find_each_other(lab: Lab, seed_python: str) -> None:
    seed(lab, "h1", seed_python, "server", "8048", "blockchain", "main").wait_for_line(
        lambda line: '"serving"' in line, 10
    )
    client = seed(lab, "h2", seed_python, "client", "blockchain", "main", "25")
    found = json.loads(client.wait_for_line(peer_line, 25))
    # 0.1.0 queues what its LOCATION says: the hostname's address, not one on the LAN
    assert found["peer"][1] == "8048"


def test_the_seed_api_keeps_its_forward_while_the_program_runs() -> None:
    """Nat(lease=120): forwarded 150 s on (upnpc's lease-120 mapping is gone), then removed."""
    require_lab("miniupnpd", "upnpc", "nft")
    with Lab(hosts=2, router=True) as lab:
        lab.start_miniupnpd()
        url = f"http://{ROUTER_LAN}:{MINIUPNPD_HTTP_PORT}/rootDesc.xml"
        program = lab.spawn("h1", [PYTHON, str(TOOLS / "facade_nat.py"), "120", "8011", "8015",
                                   "165"])  # fmt: skip
        added = json.loads(program.wait_for_line(lambda line: '"added"' in line, 30))
        assert added == {"added": [ROUTER_WAN, 8015]}
        by_upnpc = lab.run("h1", ["upnpc", "-u", url, "-e", "lease-test", "-a", H1, "9120",
                                  "9120", "TCP", "120"], timeout=30)  # fmt: skip
        assert "is redirected to internal" in by_upnpc.stdout, by_upnpc.stdout
        started = time.monotonic()
        greeter = lab.spawn("h1", [PYTHON, str(TOOLS / "tcp_listen.py"), "8011", "HELLO h1"])
        greeter.wait_for_line(lambda line: line == "listening", 10)
        # miniupnpd ends upnpc's mapping with its lease; ours is renewed at half of it
        while f"{H1}:9120" in lab.nft_chain("prerouting_miniupnpd"):
            assert time.monotonic() - started < 150, "miniupnpd kept an expired mapping"
            time.sleep(1)
        time.sleep(max(0.0, 150 - (time.monotonic() - started)))
        assert f"dnat ip to {H1}:8011" in lab.nft_chain("prerouting_miniupnpd")
        reached = lab.run("wan", [PYTHON, str(TOOLS / "tcp_connect.py"), ROUTER_WAN, "8015"], 20)
        assert reached.stdout.strip() == "HELLO h1"
        removed = json.loads(program.wait_for_line(lambda line: '"removed"' in line, 60))
        assert removed == {"removed": True}
        assert f"{H1}:8011" not in lab.nft_chain("prerouting_miniupnpd")
