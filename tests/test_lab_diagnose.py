"""``ssdp-upnp diagnose`` in the lab: a real miniupnpd, no router at all, a docker0 beside eth0."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from conftest import require_lab
from netlab import ROUTER_WAN, Lab

pytestmark = pytest.mark.lab

CLI = [sys.executable, "-m", "ssdp_upnp"]


def diagnose(lab: Lab, *argv: str) -> tuple[int, dict[str, Any]]:
    done = lab.run("h1", [*CLI, "--json", "diagnose", *argv], timeout=60)
    assert done.stdout, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return done.returncode, report


def by_topic(report: dict[str, Any], topic: str) -> list[dict[str, Any]]:
    return [f for f in report["findings"] if f["topic"] == topic]


def test_with_a_real_router_the_node_is_reachable() -> None:
    require_lab("miniupnpd", "nft")
    with Lab(hosts=2, router=True) as lab:
        lab.start_miniupnpd()
        code, report = diagnose(lab)
    assert code == 0 and report["reachable"] is True
    (gateway,) = by_topic(report, "gateway")
    assert gateway["verdict"] == "ok" and "IGD2" in gateway["detail"]
    (external,) = by_topic(report, "external address")
    assert external["verdict"] == "ok" and ROUTER_WAN in external["detail"]
    (mapping,) = by_topic(report, "test mapping")
    assert mapping["verdict"] == "ok" and "added" in mapping["detail"]
    (search,) = by_topic(report, "search")
    assert "other UPnP device" in search["detail"] and "0 other" not in search["detail"]


def test_without_a_router_it_says_so_and_fails() -> None:
    require_lab()
    with Lab(hosts=2) as lab:
        code, report = diagnose(lab, "--timeout", "1")
    assert code == 1 and report["reachable"] is False
    (gateway,) = by_topic(report, "gateway")
    assert gateway["verdict"] == "fail" and "no UPnP IGD" in gateway["detail"]
    assert gateway["advice"]


def test_a_docker_bridge_is_named() -> None:
    require_lab()
    with Lab(hosts=2) as lab:
        ns = lab.ns("h1")
        subprocess.run(
            ["ip", "-n", ns, "link", "add", "docker0", "type", "veth", "peer", "name", "vethd0"],
            check=True,
        )  # fmt: skip (no dummy module everywhere)
        subprocess.run(["ip", "-n", ns, "addr", "add", "172.17.0.1/16", "dev", "docker0"],
                       check=True)  # fmt: skip
        for link in ("docker0", "vethd0"):
            subprocess.run(["ip", "-n", ns, "link", "set", link, "up"], check=True)
        code, report = diagnose(lab, "--timeout", "1")
        _, chosen = diagnose(lab, "--timeout", "1", "--interface", "docker0")
    warned = [f for f in by_topic(chosen, "interfaces") if f["verdict"] == "warn"]
    assert [f["detail"].split()[0] for f in warned] == ["docker0"], chosen
    assert "--interface" in warned[0]["advice"]
    # skipped by default, and why
    skipped = [f for f in by_topic(report, "interfaces") if "docker0" in f["detail"]]
    assert [f["verdict"] for f in skipped] == ["info"] and "container" in skipped[0]["detail"]
    used = [f for f in by_topic(report, "interfaces") if f["verdict"] == "ok"]
    assert [f["detail"].split()[0] for f in used] == ["eth0"]


@pytest.mark.parametrize(("wan", "named"), [("100.64.0", "CGNAT"), ("10.0.0", "double NAT")])
def test_a_router_behind_another_nat_maps_but_is_named_unreachable(wan: str, named: str) -> None:
    # the router's own WAN address is shared (100.64.0.0/10: the ISP's CGNAT) or private
    # (RFC 1918: a second router beyond it); every method is on
    require_lab("miniupnpd", "nft")
    with Lab(hosts=1, router=True, wan=wan) as lab:
        lab.start_miniupnpd(natpmp=True)
        code, report = diagnose(lab, "--timeout", "1")
        status = lab.run("h1", [*CLI, "--json", "nat", "status"], timeout=60)
    assert code == 1 and report["reachable"] is False
    for method in ("pcp", "natpmp", "upnp"):
        (answered,) = by_topic(report, method)
        assert answered["verdict"] == "ok", answered
    (gateway,) = by_topic(report, "gateway")
    assert gateway["detail"] == "forwarding through pcp"  # the best of the three
    (external,) = by_topic(report, "external address")
    assert external["verdict"] == "fail" and f"{wan}.2" in external["detail"]
    assert named in external["detail"] and external["advice"]
    (mapping,) = by_topic(report, "test mapping")
    assert mapping["verdict"] == "ok"  # the router maps: it is the address that is not public
    nat = json.loads(status.stdout)
    assert (nat["external_ip"], nat["double_nat"]) == (f"{wan}.2", True)
