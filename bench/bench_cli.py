"""
The command line's quick exits beside ``python -c pass``, in one lab host (root, ip(8);
nothing is sent: each command stops at its arguments), rounds interleaved, medians.

``--help``, a bad product name and an interface this host does not have: each must
answer within 5 x the bare interpreter's start (issue 14).

Usage: python bench/bench_cli.py [ROUNDS]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from netlab import Lab, lab_unavailable_reason  # noqa: E402

PY = sys.executable
CLI = str(Path(sys.executable).with_name("ssdp-upnp"))
COMMANDS = {
    "python -c pass": ([PY, "-c", "pass"], 0),
    "ssdp-upnp --help": ([CLI, "--help"], 0),
    "ssdp-upnp peers --product 'b@d'": ([CLI, "peers", "--product", "b@d"], 2),
    "ssdp-upnp search --interface wlan9": ([CLI, "search", "--interface", "wlan9"], 2),
}


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    if (reason := lab_unavailable_reason()) is not None:
        sys.exit(f"bench_cli: {reason}")
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    with Lab(hosts=1) as lab:
        for _ in range(rounds):
            for name, (argv, status) in COMMANDS.items():
                start = time.perf_counter()
                done = lab.run("h1", argv, timeout=60)
                times[name].append(time.perf_counter() - start)
                assert done.returncode == status, (name, done.returncode, done.stderr)
    floor = statistics.median(times["python -c pass"])
    print(f"quick exits, {rounds} rounds (medians; each through ip netns exec):")
    for name, seconds in times.items():
        median = statistics.median(seconds)
        print(f"  {name:38s} {median * 1000:7.1f} ms  {median / floor:5.2f} x python -c pass")
    print("  target: <= 5 x python -c pass")


if __name__ == "__main__":
    main()
