"""
Real sockets, real multicast, real third-party peers: inside network
namespaces that each test makes and removes (see netlab.py). Skipped with a
reason where namespaces cannot be made (not root, no ip(8)).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from netlab import Lab, Process

pytestmark = pytest.mark.lab

TOOLS = Path(__file__).parent / "lab_tools"
PYTHON = sys.executable
TWISTD = str(Path(sys.executable).with_name("twistd"))
H1, H2, H3 = "198.51.100.11", "198.51.100.12", "198.51.100.13"
PRODUCT_ST = "urn:ssdp-upnp-org:device:blockchain:1"


def twistd(lab: Lab, host: str, state: Path, *args: str) -> Process:
    """Start ``twistd -n ssdp ARGS`` on C{host} and wait until it runs."""
    argv = [TWISTD, "-n", "--pidfile=", "--logfile=-", "ssdp", "--state-file", str(state), *args]
    process = lab.spawn(host, argv)
    process.wait_for_line(lambda line: "advertising" in line or "searching for" in line, 20)
    return process


def find_peers(lab: Lab, host: str, product: str, network: str, timeout: float,
               wanted: int = 0) -> list[dict[str, Any]]:  # fmt: skip
    argv = [PYTHON, str(TOOLS / "find_peers.py"), product, network, str(timeout), str(wanted)]
    done = lab.run(host, argv, timeout=timeout + 20)
    assert done.returncode == 0, done.stdout + done.stderr
    result: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_twistd_node_is_found_by_the_discovery_api(lab: Lab, tmp_path: Path) -> None:
    twistd(lab, "h1", tmp_path / "a.json", "--product", "blockchain", "--port", "8048",
           "--no-discover")  # fmt: skip
    peers = find_peers(lab, "h2", "blockchain", "main", timeout=6, wanted=1)
    assert [(p["host"], p["port"], p["product"], p["network"]) for p in peers] == [
        (H1, 8048, "blockchain", "main")
    ]
    uuid = json.loads((tmp_path / "a.json").read_text())["uuid"]
    assert peers[0]["uuid"] == uuid
    assert peers[0]["location"].startswith(f"http://{H1}:")


def _gssdp_missing() -> str | None:
    probe = subprocess.run(
        ["/usr/bin/python3", "-c", "import gi; gi.require_version('GSSDP', '1.6')"],
        capture_output=True,
    ) if Path("/usr/bin/python3").exists() else None  # fmt: skip
    if probe is None or probe.returncode != 0:
        return "GSSDP 1.6 introspection (python3-gi, gir1.2-gssdp-1.6) is not installed"
    return None


def test_gssdp_sees_the_node_and_its_description_parses(lab: Lab, tmp_path: Path) -> None:
    if (reason := _gssdp_missing()) is not None:
        pytest.skip(reason)
    twistd(lab, "h1", tmp_path / "a.json", "--product", "blockchain", "--port", "8048",
           "--node-id", "node-one", "--no-discover")  # fmt: skip
    uuid = json.loads((tmp_path / "a.json").read_text())["uuid"]
    done = lab.run(
        "h2",
        ["/usr/bin/python3", str(TOOLS / "gssdp_browse.py"), "eth0", PRODUCT_ST, "4"],
        timeout=30,
    )
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert done.returncode == 0, done.stdout + done.stderr
    available = [e for e in events if e["event"] == "available"]
    assert [e["usn"] for e in available] == [f"uuid:{uuid}::{PRODUCT_ST}"], events
    (location,) = available[0]["locations"]
    assert location.startswith(f"http://{H1}:") and location.endswith("/description.xml")
    fetched = lab.run("h2", [PYTHON, str(TOOLS / "fetch_description.py"), location], timeout=20)
    assert fetched.returncode == 0, fetched.stderr
    description = json.loads(fetched.stdout)
    assert description["udn"] == f"uuid:{uuid}"
    assert description["device_type"] == PRODUCT_ST
    assert (description["product"], description["network"], description["port"]) == (
        "blockchain", "main", 8048,
    )  # fmt: skip
    assert description["node_id"] == "node-one"
    assert description["content_type"].startswith("text/xml")


def test_sigterm_sends_byebye_and_the_peer_is_dropped_at_once(lab: Lab, tmp_path: Path) -> None:
    watcher = twistd(lab, "h2", tmp_path / "b.json", "--product", "blockchain",
                     "--no-advertise", "--search-interval", "5")  # fmt: skip
    node = twistd(lab, "h1", tmp_path / "a.json", "--product", "blockchain", "--port", "8048",
                  "--no-discover", "--max-age", "1800")  # fmt: skip
    watcher.wait_for_line(lambda line: "peer found" in line and f"{H1}:8048" in line, 20)
    node.signal(signal.SIGTERM)
    # twistd stops its services, then exits by the signal it received
    assert node.wait(20) == -signal.SIGTERM
    assert any("Server Shut Down." in line for line in node.lines)
    # max-age is 1800 s: only the byebye can remove the peer within seconds
    line = watcher.wait_for_line(lambda line: "peer lost" in line, 10)
    assert "(byebye)" in line and f"{H1}:8048" in line


def test_two_advertisers_on_one_host_both_answer(lab: Lab, tmp_path: Path) -> None:
    twistd(lab, "h1", tmp_path / "a.json", "--product", "blockchain", "--port", "8048",
           "--no-discover")  # fmt: skip
    twistd(lab, "h1", tmp_path / "b.json", "--product", "blockchain", "--port", "8049",
           "--no-discover")  # fmt: skip
    peers = find_peers(lab, "h2", "blockchain", "main", timeout=6, wanted=2)
    assert sorted((p["host"], p["port"]) for p in peers) == [(H1, 8048), (H1, 8049)]
    assert len({p["uuid"] for p in peers}) == 2


def test_other_products_and_networks_are_not_reported(lab: Lab, tmp_path: Path) -> None:
    twistd(lab, "h1", tmp_path / "a.json", "--product", "blockchain", "--port", "8048",
           "--no-discover")  # fmt: skip
    twistd(lab, "h3", tmp_path / "b.json", "--product", "otherchain", "--port", "8050",
           "--no-discover")  # fmt: skip
    twistd(lab, "h3", tmp_path / "c.json", "--product", "blockchain", "--network", "testnet",
           "--port", "8051", "--no-discover")  # fmt: skip
    peers = find_peers(lab, "h2", "blockchain", "main", timeout=4)
    assert [(p["host"], p["port"]) for p in peers] == [(H1, 8048)]
    # the others are there, for those who ask for them
    assert [(p["host"], p["port"]) for p in find_peers(lab, "h2", "otherchain", "main", 4)] == [
        (H3, 8050)
    ]
    testnet = find_peers(lab, "h2", "blockchain", "testnet", 4)
    assert [(p["host"], p["port"]) for p in testnet] == [(H3, 8051)]


def test_lab_is_removed_afterwards(tmp_path: Path) -> None:
    from conftest import require_lab

    require_lab()
    lab = Lab(hosts=2).up()
    names = list(lab.namespaces)
    lab.spawn("h1", ["sleep", "60"])
    lab.down()
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(name in listed for name in names)
    assert not any((Path("/etc/netns") / name).exists() for name in names)
    assert shutil.which("ip")


def unicast_searches(lab: Lab, host: str, count: int) -> dict[str, Any]:
    done = lab.run(host, [PYTHON, str(TOOLS / "unicast_search.py"), H1, str(count)],
                   timeout=10 + 3 * count)  # fmt: skip
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_unicast_search_is_answered(lab: Lab, tmp_path: Path) -> None:
    twistd(lab, "h1", tmp_path / "a.json", "--product", "blockchain", "--port", "8048",
           "--no-discover")  # fmt: skip
    first = unicast_searches(lab, "h2", 1)["first"]
    lines = [first["from"], *first["text"].splitlines()]
    assert lines[0] == H1 and lines[1] == "HTTP/1.1 200 OK"
    assert "ST: upnp:rootdevice" in lines


def test_unicast_search_is_answered_every_time_beside_discovery(lab: Lab, tmp_path: Path) -> None:
    """One socket on 1900 per node: with discovery running too, 40 unicast searches, 40 answers."""
    twistd(lab, "h1", tmp_path / "a.json", "--product", "blockchain", "--port", "8048")
    assert unicast_searches(lab, "h2", 40)["answered"] == 40


def test_container_bridges_and_tunnels_are_skipped_and_said_so(lab: Lab, tmp_path: Path) -> None:
    ns = lab.ns("h1")
    for name, peer, cidr in (("docker0", "vethd0", "172.17.0.1/16"),
                             ("wg0", "vethw0", "10.66.0.2/24")):  # fmt: skip
        subprocess.run(["ip", "-n", ns, "link", "add", name, "type", "veth", "peer", "name", peer],
                       check=True)  # fmt: skip
        subprocess.run(["ip", "-n", ns, "addr", "add", cidr, "dev", name], check=True)
        for link in (name, peer):
            subprocess.run(["ip", "-n", ns, "link", "set", link, "up"], check=True)
    node = twistd(lab, "h1", tmp_path / "a.json", "--product", "blockchain", "--no-discover")
    (running,) = [line for line in node.lines if "running on" in line]
    assert "running on eth0 (198.51.100.11)" in running
    assert "skipping docker0 (172.17.0.1): a container bridge or a tunnel" in running
    assert "skipping wg0 (10.66.0.2)" in running
    (advertising,) = [line for line in node.lines if "advertising blockchain node" in line]
    assert "198.51.100.11" in advertising and "172.17.0.1" not in advertising
    # named, it is used
    chosen = twistd(lab, "h1", tmp_path / "b.json", "--product", "blockchain", "--port", "9000",
                    "--no-discover", "--interface", "docker0")  # fmt: skip
    assert any("advertising" in line and "172.17.0.1" in line for line in chosen.lines)


def test_twistd_says_an_unknown_interface_or_a_damaged_state_file_in_one_line(
    lab: Lab, tmp_path: Path
) -> None:
    damaged = tmp_path / "damaged.json"
    damaged.write_text("[]")
    for args, said in (
        (["-i", "wlan9", "--state-file", str(tmp_path / "s.json")],
         "twistd ssdp: error: no IPv4 or IPv6 interface 'wlan9'"),
        (["--state-file", str(damaged)], "twistd ssdp: error: "),
    ):  # fmt: skip
        done = lab.run("h1", [TWISTD, "-n", "--pidfile=", "--logfile=-", "ssdp", "--product",
                              "blockchain", *args], timeout=60)  # fmt: skip
        assert done.returncode == 1, done.stdout + done.stderr
        assert said in done.stderr and "Traceback" not in done.stdout + done.stderr
    assert "damaged" in done.stderr
