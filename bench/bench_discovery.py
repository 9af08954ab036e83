"""
Discovery time across a real (namespace) LAN. Needs root and ip(8); builds
its own lab (tests/netlab.py) and removes it.

1. search: an advertiser runs on h1; h2 runs discover(wanted=1) N times, each
   in a fresh process, timed from the first M-SEARCH to the answer (MX 1 and 2);
2. announce: discovery runs on h2 first; an advertiser starts on h1; timed from
   the advertiser's start to h2's peer_added (NOTIFY alive, both clocks are
   the machine's clock);
3. byebye: the advertiser on h1 gets SIGTERM; timed to h2's peer_removed.

Each is measured over IPv4 and over IPv6 (ff02::c) in the same run, on one
dual-stack LAN (SSDP_FAMILIES tells the lab scripts which family to use).

Usage: python bench/bench_discovery.py [N]
"""

from __future__ import annotations

import json
import signal
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from netlab import Lab, Process, lab_unavailable_reason  # noqa: E402

SCRIPTS = HERE / "lab_scripts"
PY = sys.executable


def summary(label: str, values: list[float]) -> None:
    ms = sorted(v * 1000 for v in values)
    print(
        f"{label:44s} n={len(ms):3d}  median {statistics.median(ms):7.1f} ms"
        f"  min {ms[0]:7.1f}  max {ms[-1]:7.1f}"
    )


def field(process: Process, key: str, timeout: float) -> float:
    line = process.wait_for_line(lambda line: line.startswith("{") and key in line, timeout)
    return float(json.loads(line)[key])


def run_family(lab: Lab, n: int, families: str) -> None:
    env = {"SSDP_FAMILIES": families}
    label = {"4": "IPv4", "6": "IPv6"}[families]
    advertiser = lab.spawn("h1", [PY, str(SCRIPTS / "advertise.py")], env=env)
    field(advertiser, "started", 20)
    for mx in (1, 2):
        times = []
        for _ in range(n):
            done = lab.run("h2", [PY, str(SCRIPTS / "search_once.py"), str(mx)], timeout=30,
                           env=env)  # fmt: skip
            result = json.loads(done.stdout.strip().splitlines()[-1])
            assert result["found"] == 1, done.stdout + done.stderr
            times.append(result["seconds"])
        summary(f"{label} search: discover(wanted=1), MX {mx}", times)
    advertiser.signal(signal.SIGTERM)
    advertiser.wait(20)

    announce, byebye = [], []
    for _ in range(n):
        watcher = lab.spawn("h2", [PY, str(SCRIPTS / "watch.py")], env=env)
        field(watcher, "ready", 20)
        time.sleep(1.0)  # let the watcher's own first search round pass
        advertiser = lab.spawn("h1", [PY, str(SCRIPTS / "advertise.py")], env=env)
        started = field(advertiser, "started", 20)
        announce.append(field(watcher, "found", 20) - started)
        # read before the signal: read after, it can come late (the bench descheduled while
        # the two others run), which once gave a byebye 3 ms before its SIGTERM
        stopped = time.time()
        advertiser.signal(signal.SIGTERM)
        byebye.append(field(watcher, "lost", 20) - stopped)
        advertiser.wait(20)
        watcher.signal(signal.SIGTERM)
        watcher.wait(20)
    summary(f"{label} announce: advertiser start -> peer_added", announce)
    summary(f"{label} byebye: SIGTERM -> peer_removed", byebye)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    if (reason := lab_unavailable_reason()) is not None:
        sys.exit(f"bench_discovery: {reason}")
    # one dual-stack LAN; each family is measured alone, IPv4 then IPv6, in the same run
    with Lab(hosts=2, ipv6=True) as lab:
        for families in ("4", "6"):
            run_family(lab, n, families)


if __name__ == "__main__":
    main()
