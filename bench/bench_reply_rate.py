"""
Replies per second to unicast M-SEARCH: ``twistd -n ssdp`` (reply limits raised) beside
the bare Twisted floor (a DatagramProtocol that answers every datagram with a fixed
reply), one at a time on h1 of a two-host lab, blasted from h2 (lab_scripts/blast.py:
unique searches, a window of unanswered ones, 50 ms of silence counted as lost).
Rounds interleaved; medians. Needs root and ip(8).

Usage: python bench/bench_reply_rate.py [COUNT] [ROUNDS] [WINDOW]
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

from netlab import Lab, lab_unavailable_reason  # noqa: E402

PY = sys.executable
TWISTD = str(Path(PY).with_name("twistd"))
BLAST = str(HERE / "lab_scripts" / "blast.py")
BARE = str(HERE / "lab_scripts" / "bare_responder.py")


def blast(lab: Lab, host: str, count: int, window: int) -> dict[str, float]:
    done = lab.run("h2", [PY, BLAST, host, str(count), str(window)], timeout=600)
    assert done.returncode == 0, done.stderr
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    window = int(sys.argv[3]) if len(sys.argv) > 3 else 64
    if (reason := lab_unavailable_reason()) is not None:
        sys.exit(f"bench_reply_rate: {reason}")
    with Lab(hosts=2) as lab:
        h1 = lab.hosts["h1"]
        lab.state.mkdir(parents=True, exist_ok=True)
        responders = {
            "twistd -n ssdp (limits raised)": [
                TWISTD, "-n", "--pidfile=", "--logfile=/dev/null", "ssdp", "--product",
                "blockchain", "--port", "8048", "--no-discover", "--ipv4-only",
                "--replies-per-second", "100000", "--total-replies-per-second", "1000000",
                "--state-file", str(lab.state / "s.json"),
            ],
            "bare Twisted DatagramProtocol": [PY, BARE],
        }  # fmt: skip
        results: dict[str, list[dict[str, float]]] = {name: [] for name in responders}
        for _ in range(rounds):
            for name, argv in responders.items():
                process = lab.spawn("h1", argv)
                deadline = time.monotonic() + 30
                while blast(lab, h1, 5, 5)["answered"] < 5:  # up and answering
                    assert time.monotonic() < deadline, f"{name} never answered"
                results[name].append(blast(lab, h1, count, window))
                process.signal(signal.SIGTERM)
                process.wait(20)
    print(f"{count:,} unique unicast M-SEARCH per run, window {window}, {rounds} rounds:")
    rates = {}
    for name, runs in results.items():
        rates[name] = statistics.median(r["per_second"] for r in runs)
        lost = [int(r["lost"]) for r in runs]
        print(f"  {name:34s} {rates[name]:10,.0f} replies/s   lost per run {lost}")
    ours, bare = rates.values()
    print(f"  ratio {ours / bare:.2f} of the bare floor (target >= 0.5, >= 40k/s, 0 lost)")


if __name__ == "__main__":
    main()
