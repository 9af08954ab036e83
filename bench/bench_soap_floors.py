"""
Where a warm SOAP call's time goes on Twisted's reactor, against the real miniupnpd
(root, ip(8), miniupnpd): GetExternalIPAddress through our Gateway, Twisted's own HTTP/1.1
client protocol alone, a bare Twisted Protocol, and a blocking socket, rounds interleaved
in one process (lab_scripts/soap_floors.py), three processes.

Usage: python bench/bench_soap_floors.py [N]
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from netlab import Lab, lab_unavailable_reason  # noqa: E402

SCRIPT = str(HERE / "lab_scripts" / "soap_floors.py")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 150
    if (reason := lab_unavailable_reason()) is not None:
        sys.exit(f"bench_soap_floors: {reason}")
    runs: list[dict[str, float]] = []
    with Lab(hosts=1, router=True) as lab:
        lab.start_miniupnpd()
        for _ in range(3):
            done = lab.run("h1", [sys.executable, SCRIPT, str(n)], timeout=600)
            assert done.returncode == 0, done.stdout + done.stderr
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    blocking = statistics.median(r["blocking"] for r in runs)
    print(f"GetExternalIPAddress, {n} calls a stack in each of 3 processes (median of medians):")
    for stack in runs[0]:
        ms = statistics.median(r[stack] for r in runs)
        print(f"  {stack:14s} {ms:6.3f} ms  {ms / blocking:5.2f} x blocking")


if __name__ == "__main__":
    main()
