"""
Cold mapping through each method of the ladder against the real miniupnpd
(PCP, NAT-PMP and UPnP IGD2 all on), ours beside natpmpc and upnpc, rounds
interleaved in one lab run. Needs root, ip(8), miniupnpd-nftables, miniupnpc
and natpmpc; builds its own lab (tests/netlab.py).

in process: find the method (ANNOUNCE / address request / SSDP + description)
and add one mapping, timed inside one Python process; whole command: the
process from exec to exit (Python's start included).

Usage: python bench/bench_nat_methods.py [N]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from netlab import MINIUPNPD_HTTP_PORT, ROUTER_LAN, Lab, lab_unavailable_reason  # noqa: E402

PY = sys.executable
CLI = str(Path(sys.executable).with_name("ssdp-upnp"))
SCRIPT = str(HERE / "lab_scripts" / "mapper_times.py")
URL = f"http://{ROUTER_LAN}:{MINIUPNPD_HTTP_PORT}/rootDesc.xml"
H1 = "198.51.100.11"


def summary(label: str, seconds: list[float]) -> float:
    ms = sorted(s * 1000 for s in seconds)
    median = statistics.median(ms)
    print(f"{label:52s} n={len(ms):3d} median {median:8.1f} ms  min {ms[0]:8.1f}"
          f"  max {ms[-1]:8.1f}")  # fmt: skip
    return median


def timed(lab: Lab, argv: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = lab.run("h1", argv, timeout=60)
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stdout + done.stderr
    return elapsed, done.stdout


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    if (reason := lab_unavailable_reason()) is not None:
        sys.exit(f"bench_nat_methods: {reason}")
    inproc: dict[str, dict[str, list[float]]] = {}
    whole: dict[str, list[float]] = {}
    with Lab(hosts=1, router=True) as lab:
        lab.start_miniupnpd(natpmp=True)
        for round_ in range(n):
            port = str(20000 + round_ * 10)
            for i, method in enumerate(("auto", "pcp", "natpmp", "upnp")):
                _, out = timed(lab, [PY, SCRIPT, method, str(int(port) + i)])
                result = json.loads(out.strip().splitlines()[-1])
                times = inproc.setdefault(f"{method} ({result['method']})", {})
                for key in ("find", "add", "total"):
                    times.setdefault(key, []).append(result[key])
            commands = {
                "ours: ssdp-upnp nat add (auto)": [CLI, "nat", "add", str(int(port) + 5)],
                "ours: ssdp-upnp nat add --method natpmp": [
                    CLI, "nat", "add", str(int(port) + 6), "--method", "natpmp"],
                "ours: ssdp-upnp nat add --method upnp": [
                    CLI, "nat", "add", str(int(port) + 7), "--method", "upnp"],
                "natpmpc -a (NAT-PMP)": [
                    "natpmpc", "-g", ROUTER_LAN, "-a", str(int(port) + 8), str(int(port) + 8),
                    "tcp", "600"],
                "upnpc -i -a (SSDP discovery)": [
                    "upnpc", "-i", "-a", H1, str(int(port) + 9), str(int(port) + 9), "TCP"],
                "upnpc -u URL -a (no discovery)": [
                    "upnpc", "-u", URL, "-a", H1, str(int(port) + 4), str(int(port) + 4),
                    "TCP"],
            }  # fmt: skip
            for label, argv in commands.items():
                elapsed, _ = timed(lab, argv)
                whole.setdefault(label, []).append(elapsed)
    print("in process (find + add), cold:")
    for label, times in inproc.items():
        summary(f"  {label}: find", times["find"])
        summary(f"  {label}: add", times["add"])
        summary(f"  {label}: total", times["total"])
    print("whole command:")
    medians = {label: summary(f"  {label}", times) for label, times in whole.items()}
    upnpc = medians["upnpc -i -a (SSDP discovery)"]
    natpmpc = medians["natpmpc -a (NAT-PMP)"]
    for ours in ("auto", "--method natpmp", "--method upnp"):
        median = medians[f"ours: ssdp-upnp nat add {ours}".replace("add auto", "add (auto)")]
        print(
            f"ssdp-upnp nat add {ours}: {median / upnpc:.3f} x upnpc -i -a (target 0.2 for"
            f" upnp), {median / natpmpc:.1f} x natpmpc -a (target 60 for PCP)"
        )


if __name__ == "__main__":
    main()
