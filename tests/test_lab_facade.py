"""
The seed's blocking API (ssdp_upnp.ssdp) with real sockets, in namespaces:
the seed's sample program unchanged in its three modes, and the thread rules.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import pytest

from conftest import require_lab
from netlab import ROUTER_WAN, Lab

pytestmark = pytest.mark.lab

TOOLS = Path(__file__).parent / "lab_tools"
PYTHON = sys.executable
SAMPLE = str(TOOLS / "seed_sample.py")


def test_seed_sample_program_in_its_three_modes(tmp_path: Path) -> None:
    require_lab("miniupnpd", "nft")
    env = {"XDG_STATE_HOME": str(tmp_path)}
    with Lab(hosts=2, router=True) as lab:
        lab.start_miniupnpd()
        server = lab.spawn("h1", [PYTHON, SAMPLE, "server"], env=env)
        # start() returned and the main thread ended: the server must still be serving
        server.wait_for_line(lambda line: "advertising blockchain node" in line, 20)
        client = lab.spawn("h2", [PYTHON, SAMPLE, "client"], env=env)
        assert client.wait(30) == 0
        assert any(line.endswith("sample: ('198.51.100.11', 8048)") for line in client.lines), (
            client.lines
        )
        nat = lab.run("h1", [PYTHON, SAMPLE, "nat"], timeout=60)
        assert nat.stdout.strip() == f"('{ROUTER_WAN}', 8015)", nat.stdout + nat.stderr
        assert "dnat ip to 198.51.100.11:8011" in lab.nft_chain("prerouting_miniupnpd")
        assert server.popen.poll() is None
        server.signal(signal.SIGTERM)
        assert server.wait(20) == 0
        assert not any("Traceback" in line for line in server.lines), server.lines


def test_thread_rules(tmp_path: Path) -> None:
    require_lab()
    with Lab(hosts=1) as lab:
        process = lab.spawn("h1", [PYTHON, str(TOOLS / "facade_threads.py")])
        try:
            code = process.wait(120)
        except Exception as e:  # a hang: say at which step, with what it printed
            raise AssertionError(f"facade_threads hung: {process.lines[-20:]}") from e
        assert code == 0, "\n".join(process.lines[-80:])
        found = json.loads(next(line for line in reversed(process.lines) if line.startswith("{")))
        assert not any("Traceback" in line for line in process.lines), process.lines
    assert found["stop_before_start"] == "ok"
    assert found["cycles"] == [True, True, True]
    assert found["sockets_after_cycles"] == 0
    assert found["concurrent_start_sockets"] == 1  # six start() calls, one server
    assert found["concurrent_stop_sockets"] == 0
    assert found["client_run_sockets"] == 1 and found["run_returned"]
    assert found["keyboard_interrupt"] == "raised"
    assert found["sockets_after_interrupt"] == 0
    assert found["inside_reactor"].startswith("FacadeError: ")
    assert found["last_call_wins"] == [True] * 20
    assert found["last_call_wins_threads"] and found["sockets_after_last_wins"] == 0
    assert found["threads_left"] == ["ssdp_upnp reactor"]
    assert found["sockets_left"] == 0
