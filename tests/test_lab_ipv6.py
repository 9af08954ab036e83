"""
SSDP over IPv6 with real sockets (issue 11), inside namespaces each test makes
and removes (netlab.py): an IPv6-only LAN, a dual-stack LAN with nodes of one
family each, GSSDP over IPv6 and the real miniupnpd found over IPv6 when IPv4
SSDP is blocked on the bridge. IPv6 multicast does not work on loopback: the
hosts' veth links to the lab's bridge carry it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import require_lab
from netlab import ROUTER_LAN6, Lab
from test_lab_ssdp import PRODUCT_ST, _gssdp_missing, find_peers, twistd

pytestmark = pytest.mark.lab

TOOLS = Path(__file__).parent / "lab_tools"
PYTHON = sys.executable
H1, H2 = "198.51.100.11", "198.51.100.12"


def link_local(lab: Lab, host: str) -> str:
    """C{host}'s link-local address on eth0."""
    address = lab.link_local(host)
    assert address is not None, f"{host} has no link-local address on eth0"
    return address


@pytest.fixture
def lab6() -> Iterator[Lab]:
    """Two hosts on an IPv6-only LAN: link-local and global addresses, no IPv4 at all."""
    require_lab()
    with Lab(hosts=2, ipv6=True, ipv4=False) as made:
        yield made


@pytest.fixture
def dual() -> Iterator[Lab]:
    """Three dual-stack hosts."""
    require_lab()
    with Lab(hosts=3, ipv6=True) as made:
        yield made


def peers_on(lab: Lab, host: str, timeout: float, wanted: int, families: str = "46") -> list[Any]:
    argv = [PYTHON, str(TOOLS / "find_peers.py"), "blockchain", "main", str(timeout),
            str(wanted), families]  # fmt: skip
    done = lab.run(host, argv, timeout=timeout + 20)
    assert done.returncode == 0, done.stdout + done.stderr
    result: list[Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_ipv6_only_lan_node_is_found_and_its_byebye_removes_it(lab6: Lab, tmp_path: Path) -> None:
    lab = lab6
    ll1 = link_local(lab, "h1")
    watcher = twistd(lab, "h2", tmp_path / "b.json", "--product", "blockchain",
                     "--no-advertise", "--search-interval", "5")  # fmt: skip
    node = twistd(lab, "h1", tmp_path / "a.json", "--product", "blockchain", "--port", "8048",
                  "--no-discover", "--max-age", "1800")  # fmt: skip
    uuid = json.loads((tmp_path / "a.json").read_text())["uuid"]
    found = watcher.wait_for_line(lambda line: "peer found" in line and uuid in line, 20)
    assert f"[{ll1}%eth0]:8048" in found
    # a second discovery, through the Deferred API, sees the same node the same way
    (peer,) = find_peers(lab, "h2", "blockchain", "main", timeout=6, wanted=1)
    assert (peer["uuid"], peer["host"], peer["port"]) == (uuid, f"{ll1}%eth0", 8048)
    assert peer["addresses"] == [f"{ll1}%eth0"]
    # the LOCATION names the link-local address it was sent from, without a zone
    assert peer["location"].startswith(f"http://[{ll1}]:")
    # served on that address: a client adds the zone of the link it heard the node on
    port = int(peer["location"].split("]:")[1].split("/")[0])
    fetch = ("import http.client, sys;"
             " c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=10);"
             " c.request('GET', '/description.xml'); r = c.getresponse();"
             " print(r.status); print(r.read().decode())")  # fmt: skip
    fetched = lab.run("h2", [PYTHON, "-c", fetch, f"{ll1}%eth0", str(port)], timeout=20)
    assert fetched.stdout.startswith("200\n"), fetched.stdout + fetched.stderr
    assert f"<UDN>uuid:{uuid}</UDN>" in fetched.stdout
    node.signal(signal.SIGTERM)
    assert node.wait(20) == -signal.SIGTERM
    # max-age is 1800 s: only the byebye can remove the peer within seconds
    lost = watcher.wait_for_line(lambda line: "peer lost" in line, 10)
    assert "(byebye)" in lost and uuid in lost


def test_dual_stack_node_is_one_peer_with_both_addresses(dual: Lab, tmp_path: Path) -> None:
    lab = dual
    ll1 = link_local(lab, "h1")
    twistd(lab, "h1", tmp_path / "a.json", "--product", "blockchain", "--port", "8048",
           "--no-discover")  # fmt: skip
    uuid = json.loads((tmp_path / "a.json").read_text())["uuid"]
    peers = peers_on(lab, "h2", timeout=4, wanted=0)
    assert len(peers) == 1, peers
    (peer,) = peers
    assert peer["uuid"] == uuid and peer["port"] == 8048
    # IPv4 first, and the IPv4 LOCATION with it
    assert peer["host"] == H1 and peer["addresses"] == [H1, f"{ll1}%eth0"]
    assert peer["location"].startswith(f"http://{H1}:")


def test_dual_stack_node_is_found_once_and_its_byebyes_remove_it_once(
    dual: Lab, tmp_path: Path
) -> None:
    lab = dual
    watcher = twistd(lab, "h2", tmp_path / "b.json", "--product", "blockchain",
                     "--no-advertise", "--search-interval", "5")  # fmt: skip
    node = twistd(lab, "h1", tmp_path / "a.json", "--product", "blockchain", "--port", "8048",
                  "--no-discover", "--max-age", "1800")  # fmt: skip
    uuid = json.loads((tmp_path / "a.json").read_text())["uuid"]
    ll1 = link_local(lab, "h1")
    at = (f"at {H1}:8048", f"at [{ll1}%eth0]:8048")  # the log names the address heard first
    found = watcher.wait_for_line(lambda line: "peer found" in line and uuid in line, 20)
    assert any(a in found for a in at)
    node.signal(signal.SIGTERM)
    assert node.wait(20) == -signal.SIGTERM
    lost = watcher.wait_for_line(lambda line: "peer lost" in line and uuid in line, 10)
    assert "(byebye)" in lost and any(a in lost for a in at)
    # one appearance, one departure: the second family's byebye finds nothing left to remove
    watcher.signal(signal.SIGTERM)
    watcher.wait(20)
    assert sum("peer found" in line and uuid in line for line in watcher.lines) == 1
    assert sum("peer lost" in line and uuid in line for line in watcher.lines) == 1


def test_dual_stack_discovery_finds_an_ipv4_only_and_an_ipv6_only_node(
    dual: Lab, tmp_path: Path
) -> None:
    lab = dual
    ll3 = link_local(lab, "h3")
    twistd(lab, "h1", tmp_path / "a.json", "--product", "blockchain", "--port", "8048",
           "--no-discover", "--ipv4-only")  # fmt: skip
    twistd(lab, "h3", tmp_path / "c.json", "--product", "blockchain", "--port", "8050",
           "--no-discover", "--ipv6-only")  # fmt: skip
    peers = peers_on(lab, "h2", timeout=4, wanted=0)
    assert sorted((p["addresses"], p["port"]) for p in peers) == [
        ([H1], 8048), ([f"{ll3}%eth0"], 8050),
    ]  # fmt: skip
    # and a discovery of one family sees only the node of that family
    assert [p["port"] for p in peers_on(lab, "h2", timeout=3, wanted=0, families="4")] == [8048]
    assert [p["port"] for p in peers_on(lab, "h2", timeout=3, wanted=0, families="6")] == [8050]


def test_gssdp_over_ipv6_sees_the_node(lab6: Lab, tmp_path: Path) -> None:
    if (reason := _gssdp_missing()) is not None:
        pytest.skip(reason)
    lab = lab6
    ll1, ll2 = link_local(lab, "h1"), link_local(lab, "h2")
    twistd(lab, "h1", tmp_path / "a.json", "--product", "blockchain", "--port", "8048",
           "--no-discover")  # fmt: skip
    uuid = json.loads((tmp_path / "a.json").read_text())["uuid"]
    done = lab.run(
        "h2",
        ["/usr/bin/python3", str(TOOLS / "gssdp_browse.py"), "eth0", PRODUCT_ST, "5", ll2],
        timeout=30,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    available = [e for e in events if e["event"] == "available"]
    assert [e["usn"] for e in available] == [f"uuid:{uuid}::{PRODUCT_ST}"], events
    (location,) = available[0]["locations"]
    assert location.startswith(f"http://[{ll1}]:") and location.endswith("/description.xml")


BLOCK_IPV4_SSDP = """
table bridge ssdp4 {
    chain forward { type filter hook forward priority 0; ether type ip udp dport 1900 drop; }
    chain input { type filter hook input priority 0; ether type ip udp dport 1900 drop; }
}
"""


def test_find_gateway_finds_miniupnpd_over_ipv6_when_ipv4_ssdp_is_blocked(
    tmp_path: Path,
) -> None:
    require_lab("miniupnpd", "nft")
    with Lab(hosts=1, router=True, ipv6=True) as lab:
        lab.start_miniupnpd()
        rules = tmp_path / "block.nft"
        rules.write_text(BLOCK_IPV4_SSDP)
        subprocess.run(["ip", "netns", "exec", lab.ns("router"), "nft", "-f", str(rules)],
                       check=True, capture_output=True)  # fmt: skip
        # with IPv4 only, nothing is found: the block holds
        blocked = lab.run("h1", [PYTHON, str(TOOLS / "nat_tool.py"), "--families", "4", "status"],
                          timeout=40)  # fmt: skip
        assert blocked.returncode == 1, blocked.stdout + blocked.stderr
        assert json.loads(blocked.stdout.splitlines()[-1])["error"] == "NoGatewayFound"
        done = lab.run("h1", [PYTHON, str(TOOLS / "nat_tool.py"), "status"], timeout=40)
        assert done.returncode == 0, done.stdout + done.stderr
        result = json.loads(done.stdout.splitlines()[-1])
        assert f"http://[{ROUTER_LAN6}]:5000/" in result["where"]
        assert result["result"]["status"] == "Connected"
        # the mapping it would make is for our IPv4 address on that link
        assert result["local"] == H1


AIO_VERSION = "0.49.0"


@pytest.fixture(scope="session")
def aio_upnp_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """async_upnp_client's command line, installed from PyPI into a venv made for the tests."""
    venv = tmp_path_factory.mktemp("aio-venv")
    made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True,
                          text=True)  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"cannot make a venv for async-upnp-client: {made.stderr.strip()[-200:]}")
    pip = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", f"async-upnp-client=={AIO_VERSION}"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if pip.returncode != 0:
        pytest.skip(f"cannot install async-upnp-client {AIO_VERSION}: {pip.stderr.strip()[-300:]}")
    return venv / "bin" / "upnp-client"


def test_async_upnp_client_search_over_ipv6_sees_the_node(
    lab6: Lab, tmp_path: Path, aio_upnp_client: Path
) -> None:
    lab = lab6
    ll1, ll2 = link_local(lab, "h1"), link_local(lab, "h2")
    index = lab.run("h2", ["cat", "/sys/class/net/eth0/ifindex"], 10).stdout.strip()
    twistd(lab, "h1", tmp_path / "a.json", "--product", "blockchain", "--port", "8048",
           "--no-discover")  # fmt: skip
    uuid = json.loads((tmp_path / "a.json").read_text())["uuid"]
    done = lab.run(
        "h2",
        [str(aio_upnp_client), "--timeout", "3", "search", "--bind", f"{ll2}%{index}",
         "--search_target", PRODUCT_ST],
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    answers = [
        {str(k).lower(): v for k, v in json.loads(line).items()}
        for line in done.stdout.splitlines()
        if line.startswith("{")
    ]
    ours = [a for a in answers if a.get("usn") == f"uuid:{uuid}::{PRODUCT_ST}"]
    assert ours, done.stdout + done.stderr
    # our LOCATION has no zone; async_upnp_client adds the one of the link it heard us on
    assert ours[0]["_location_original"].startswith(f"http://[{ll1}]:")
    assert ours[0]["location"].startswith(f"http://[{ll1}%{index}]:")
    # the node's own headers reach a third-party parser intact
    assert ours[0]["product.ssdp-upnp.org"] == "blockchain"
    assert ours[0]["port.ssdp-upnp.org"] == "8048"


def test_container_bridges_and_tunnels_are_skipped_over_ipv6_too(dual: Lab, tmp_path: Path) -> None:
    lab = dual
    ns = lab.ns("h1")
    subprocess.run(["ip", "-n", ns, "link", "add", "docker0", "type", "veth", "peer", "name",
                    "vethd0"], check=True)  # fmt: skip
    # a wg0-named link (this kernel has no dummy links: a veth pair stands in)
    subprocess.run(["ip", "-n", ns, "link", "add", "wg0", "type", "veth", "peer", "name",
                    "vethw0"], check=True)  # fmt: skip
    subprocess.run(["ip", "-n", ns, "addr", "add", "fd66::2/64", "dev", "wg0", "nodad"],
                   check=True)  # fmt: skip
    for link in ("docker0", "vethd0", "wg0", "vethw0"):
        subprocess.run(["ip", "-n", ns, "link", "set", link, "up"], check=True)
    deadline = time.monotonic() + 10
    while not all(lab.link_local("h1", link) for link in ("docker0", "vethd0", "vethw0")):
        assert time.monotonic() < deadline, "no link-local address on the veth pair"
        time.sleep(0.1)
    node = twistd(lab, "h1", tmp_path / "a.json", "--product", "blockchain", "--no-discover")
    (running,) = [line for line in node.lines if "running on" in line]
    ll1 = link_local(lab, "h1")
    # eth0's three addresses and nothing else (the kernel lists the IPv6 ones in either order)
    used = running.split("running on ", 1)[1].split(";", 1)[0].split(", ")
    assert sorted(used) == sorted(["eth0 (198.51.100.11)", f"eth0 ({ROUTER_LAN6[:-1]}11)",
                                   f"eth0 ({ll1})"])  # fmt: skip
    for link in ("docker0", "vethd0", "vethw0"):
        assert f"skipping {link} ({lab.link_local('h1', link)}): a container" in running
    assert "skipping wg0 (fd66::2): a container bridge or a tunnel" in running
    (advertising,) = [line for line in node.lines if "advertising blockchain node" in line]
    assert advertising.count("http://") == 3 and "fd66::2" not in advertising


def test_the_node_follows_ipv6_addresses_coming_and_going(dual: Lab, tmp_path: Path) -> None:
    lab = dual
    node = twistd(lab, "h1", tmp_path / "a.json", "--product", "blockchain", "--no-discover",
                  "--rescan-interval", "1")  # fmt: skip
    subprocess.run(["ip", "-n", lab.ns("h1"), "addr", "add", "fd12:3456::11/64", "dev", "eth0",
                    "nodad"], check=True)  # fmt: skip
    came = node.wait_for_line(lambda line: "now advertising on eth0" in line, 10)
    assert "http://[fd12:3456::11]:" in came
    # a searcher writing from that prefix is answered from it, with it
    subprocess.run(["ip", "-n", lab.ns("h2"), "addr", "add", "fd12:3456::12/64", "dev", "eth0",
                    "nodad"], check=True)  # fmt: skip
    argv = [PYTHON, str(TOOLS / "unicast_search.py"), "fd12:3456::11", "1"]
    done = lab.run("h2", argv, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["answered"] == 1 and answer["first"]["from"] == "fd12:3456::11"
    assert "LOCATION: http://[fd12:3456::11]:" in answer["first"]["text"]
    subprocess.run(["ip", "-n", lab.ns("h1"), "addr", "del", "fd12:3456::11/64", "dev", "eth0"],
                   check=True)  # fmt: skip
    gone = node.wait_for_line(lambda line: "no longer advertising on eth0" in line, 10)
    assert "fd12:3456::11" in gone


GET_ONCE = """
import sys
from twisted.internet.defer import Deferred
from twisted.internet.task import react
from ssdp_upnp._http import default_http_client, http_request

async def main(reactor):
    status, body = await http_request(reactor, default_http_client(reactor), "GET", sys.argv[1])
    print(status, body.decode())

react(lambda reactor: Deferred.fromCoroutine(main(reactor)))
"""


def test_the_gateway_http_client_reaches_a_link_local_literal_with_its_zone(
    lab6: Lab, tmp_path: Path
) -> None:
    # our own connect to http://[fe80::...%25eth0]/: the zone is the interface's index
    (tmp_path / "d.xml").write_text("hello")
    server = lab6.spawn("h2", [PYTHON, "-m", "http.server", "--bind", "::", "--directory",
                               str(tmp_path), "8000"])  # fmt: skip
    lab6.wait_tcp("h2", 8000, 20)
    url = f"http://[{link_local(lab6, 'h2')}%25eth0]:8000/d.xml"
    done = lab6.run("h1", [PYTHON, "-c", GET_ONCE, url], timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.split() == ["200", "hello"]
    # without the zone a link-local address names no link: no connection, a typed error
    done = lab6.run("h1", [PYTHON, "-c", GET_ONCE, url.replace("%25eth0", "")], timeout=30)
    assert done.returncode != 0, done.stdout
    assert "GatewayHTTPError: GET http://[fe80::" in done.stderr, done.stderr
    assert "no connection: ConnectError" in done.stderr, done.stderr
    server.signal(signal.SIGTERM)
    server.wait(10)
