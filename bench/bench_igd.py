"""
Add-mapping latency against a real miniupnpd, ours beside upnpc, in one lab run.
Needs root, ip(8), miniupnpd-nftables and miniupnpc; builds its own lab (tests/netlab.py).

cold: gateway discovery (SSDP) + description + SOAP; warm: the SOAP call only.
Whole-command times include process start (Python's ~0.3 s for ours). The floor
(lab_scripts/raw_igd.py) does the same exchanges on plain sockets with no checks;
each ratio is ours over it, from the same run. Warm calls are timed twice: in
separate processes, chunks interleaved; and paired in one process, each call of
ours next to one of the floor's (the router's pace drifts over a run, and an add's
~2 ms is mostly its nftables work, so pairs compare like with like).

With --anchors, async-upnp-client's cold mapping (lab_scripts/aio_igd.py, in the
anchors' venv: bench/anchors.py) is timed in the same rounds.

Usage: python bench/bench_igd.py [N] [--anchors]
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
SCRIPT = str(HERE / "lab_scripts" / "igd_times.py")
RAW = str(HERE / "lab_scripts" / "raw_igd.py")
AIO = str(HERE / "lab_scripts" / "aio_igd.py")
URL = f"http://{ROUTER_LAN}:{MINIUPNPD_HTTP_PORT}/rootDesc.xml"


def summary(label: str, seconds: list[float], floor: list[float] | None = None) -> None:
    ms = sorted(s * 1000 for s in seconds)
    ratio = ""
    if floor:
        ratio = f"  {statistics.median(seconds) / statistics.median(floor):5.2f} x floor"
    print(f"{label:58s} n={len(ms):3d} median {statistics.median(ms):8.2f} ms"
          f"  min {ms[0]:8.2f}  max {ms[-1]:8.2f}{ratio}")  # fmt: skip


def timed(lab: Lab, argv: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = lab.run("h1", argv, timeout=60)
    elapsed = time.perf_counter() - start
    assert done.returncode == 0, done.stdout + done.stderr
    return elapsed, done.stdout


def delete(lab: Lab) -> None:
    lab.run("h1", ["upnpc", "-u", URL, "-d", "8048", "TCP"], timeout=30)


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--anchors"]
    n = int(args[0]) if args else 10
    if (reason := lab_unavailable_reason()) is not None:
        sys.exit(f"bench_igd: {reason}")
    aio = None
    if "--anchors" in sys.argv:
        from anchors import anchor_python

        aio = anchor_python()
    with Lab(hosts=1, router=True) as lab:
        lab.start_miniupnpd()
        ours_find, ours_add, ours_total, ours_cmd = [], [], [], []
        raw_find, raw_add, raw_total = [], [], []
        status_find, status_total = [], []  # the floor doing our GetStatusInfo too
        upnpc_i, upnpc_u = [], []
        aio_find, aio_add, aio_total = [], [], []
        for _ in range(n):
            _, out = timed(lab, [PY, RAW, "cold"])
            result = json.loads(out.strip().splitlines()[-1])
            raw_find.append(result["find"])
            raw_add.append(result["add"])
            raw_total.append(result["total"])
            delete(lab)
            _, out = timed(lab, [PY, RAW, "cold-status"])
            result = json.loads(out.strip().splitlines()[-1])
            status_find.append(result["find"])
            status_total.append(result["total"])
            delete(lab)
            elapsed, out = timed(lab, [PY, SCRIPT, "cold"])
            result = json.loads(out.strip().splitlines()[-1])
            ours_find.append(result["find"])
            ours_add.append(result["add"])
            ours_total.append(result["total"])
            ours_cmd.append(elapsed)
            delete(lab)
            if aio is not None:
                _, out = timed(lab, [str(aio), AIO, "198.51.100.11"])
                result = json.loads(out.strip().splitlines()[-1])
                aio_find.append(result["find"])
                aio_add.append(result["add"])
                aio_total.append(result["total"])
                delete(lab)
            elapsed, out = timed(lab, ["upnpc", "-i", "-a", "198.51.100.11", "8048", "8048", "TCP"])
            assert "is redirected" in out, out
            upnpc_i.append(elapsed)
            delete(lab)
            elapsed, out = timed(lab, ["upnpc", "-u", URL, "-a", "198.51.100.11", "8048", "8048",
                                       "TCP"])  # fmt: skip
            assert "is redirected" in out, out
            upnpc_u.append(elapsed)
            delete(lab)
        warm: dict[str, list[float]] = {"add": [], "delete": []}
        raw_warm: dict[str, list[float]] = {"add": [], "delete": []}
        for _ in range(6):  # interleaved chunks
            for script, into in ((SCRIPT, warm), (RAW, raw_warm)):
                _, out = timed(lab, [PY, script, "warm", str(max(n, 50) // 2)])
                for key, times in json.loads(out.strip().splitlines()[-1]).items():
                    # the first call of a process pays for its imports and connections
                    into[key].extend(times[1:])
        paired: dict[str, list[float]] = {}
        for _ in range(6):  # each call of ours next to one of the floor's, in one process
            _, out = timed(lab, [PY, SCRIPT, "paired", str(max(n, 50))])
            for key, times in json.loads(out.strip().splitlines()[-1]).items():
                paired.setdefault(key, []).extend(times[1:])
        summary("raw floor cold: SSDP + description", raw_find)
        summary("raw floor cold: then AddPortMapping", raw_add)
        summary("raw floor cold: total", raw_total)
        summary("ours cold, in process: find_gateway (SSDP+desc+status)", ours_find, raw_find)
        summary("ours cold, in process: then AddPortMapping", ours_add, raw_add)
        summary("ours cold, in process: total", ours_total, raw_total)
        summary("raw floor cold + GetStatusInfo: SSDP + description + status", status_find)
        summary("raw floor cold + GetStatusInfo: total", status_total)
        summary("ours cold, in process: find_gateway, against that", ours_find, status_find)
        summary("ours cold, in process: total, against that", ours_total, status_total)
        if aio is not None:
            summary("async-upnp-client 0.49.0 cold: SSDP + description + SCPDs", aio_find)
            summary("async-upnp-client 0.49.0 cold: then AddPortMapping", aio_add)
            summary("async-upnp-client 0.49.0 cold: total", aio_total)
            summary("ours cold, in process: total, against async-upnp-client", ours_total,
                    aio_total)  # fmt: skip
        summary("ours cold, whole command (python start included)", ours_cmd)
        summary("upnpc -i -a (SSDP discovery), whole command", upnpc_i)
        summary("raw floor warm: AddPortMapping POST", raw_warm["add"])
        summary("raw floor warm: DeletePortMapping POST", raw_warm["delete"])
        summary("ours warm: AddPortMapping, in process", warm["add"], raw_warm["add"])
        summary("ours warm: DeletePortMapping, in process", warm["delete"], raw_warm["delete"])
        summary("paired in one process: raw AddPortMapping POST", paired["raw add"])
        summary("paired in one process: raw DeletePortMapping POST", paired["raw delete"])
        summary("paired in one process: ours AddPortMapping", paired["add"], paired["raw add"])
        summary("paired in one process: ours DeletePortMapping", paired["delete"],
                paired["raw delete"])  # fmt: skip
        summary("upnpc -u URL -a (no discovery), whole command", upnpc_u)


if __name__ == "__main__":
    main()
