"""
Every benchmark in one run, each beside its references, ratios printed by each:
the command behind bench/README.md's tables. The lab ones need root and ip(8) (each
builds and removes its own namespaces); the decode one runs in the anchors' venv
(bench/anchors.py: async-upnp-client, ssdpy and miniupnpc from PyPI).

Usage: python bench/run_all.py [--quick] [NAME ...]   (--quick: fewer rounds)
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: name: (script, arguments, quick arguments)
BENCHES: dict[str, tuple[str, list[str], list[str]]] = {
    "decode": ("bench_decode.py", ["--anchors", "40"], ["--anchors", "5"]),
    "msearch": ("bench_msearch.py", ["2"], ["0.5"]),
    "peers": ("bench_peers.py", [], ["2000"]),
    "startup": ("bench_startup.py", ["8"], ["3"]),
    "cli": ("bench_cli.py", ["15"], ["5"]),
    "reply_rate": (
        "bench_reply_rate.py",
        ["100000", "6", "64", "--minissdpd"],
        ["20000", "1", "64", "--minissdpd"],
    ),
    "discovery": ("bench_discovery.py", ["20"], ["5"]),
    "igd": ("bench_igd.py", ["8", "--anchors"], ["3", "--anchors"]),
    "soap_floors": ("bench_soap_floors.py", ["150"], ["30"]),
    "nat_methods": ("bench_nat_methods.py", ["10"], ["3"]),
    "reliability": ("bench_reliability.py", [], ["amplification"]),
}


def main() -> None:
    args = sys.argv[1:]
    quick = "--quick" in args
    names = [a for a in args if a != "--quick"] or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        sys.exit(f"run_all: no bench {', '.join(unknown)}; there are {', '.join(BENCHES)}")
    failed = []
    for name in names:
        script, full, short = BENCHES[name]
        argv = [sys.executable, str(HERE / script), *(short if quick else full)]
        print(f"\n=== {name}: {' '.join(argv[1:])}", flush=True)
        start = time.monotonic()
        done = subprocess.run(argv)
        print(f"=== {name}: exit {done.returncode} in {time.monotonic() - start:.0f} s", flush=True)
        if done.returncode != 0:
            failed.append(name)
    if failed:
        sys.exit(f"run_all: failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
