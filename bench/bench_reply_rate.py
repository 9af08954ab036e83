"""
Replies per second to unicast M-SEARCH: ``twistd -n ssdp`` (reply limits raised) beside
the bare Twisted floor (a DatagramProtocol that answers every datagram with a fixed
reply), one at a time on h1 of a two-host lab, blasted from h2 (lab_scripts/blast.py:
unique searches, a window of unanswered ones, 50 ms of silence counted as lost).
With --minissdpd, miniupnpd's SSDP daemon in C (Debian's minissdpd 1.6.0, unpacked by
debian_tools, never installed) answers too, its one service told through its socket.
Rounds interleaved, ours and the bare floor in turn first; medians, and the median of
each round's ratio. Needs root and ip(8).

Usage: python bench/bench_reply_rate.py [COUNT] [ROUNDS] [WINDOW] [--minissdpd]
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from debian_tools import library_path, unpacked  # noqa: E402
from netlab import Lab, lab_unavailable_reason  # noqa: E402

PY = sys.executable
TWISTD = str(Path(PY).with_name("twistd"))
BLAST = str(HERE / "lab_scripts" / "blast.py")
BARE = str(HERE / "lab_scripts" / "bare_responder.py")
SERVICE = str(HERE / "lab_scripts" / "minissdpd_service.py")


def blast(lab: Lab, host: str, count: int, window: int) -> dict[str, float]:
    done = lab.run("h2", [PY, BLAST, host, str(count), str(window)], timeout=600)
    assert done.returncode == 0, done.stderr
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def start_minissdpd(lab: Lab, program: Path, n: int) -> Path:
    """minissdpd on h1 (it makes itself a daemon: its pid file says which process)."""
    sock, pidfile = lab.state / f"minissdpd{n}.sock", lab.state / f"minissdpd{n}.pid"
    argv = [str(program), "-i", "eth0", "-s", str(sock), "-p", str(pidfile)]
    done = lab.run("h1", ["env", f"LD_LIBRARY_PATH={library_path('minissdpd')}", *argv],
                   timeout=30)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    deadline = time.monotonic() + 10
    while not (sock.exists() and pidfile.exists() and pidfile.read_text().strip()):
        assert time.monotonic() < deadline, "minissdpd did not start"
        time.sleep(0.05)
    told = lab.run("h1", [PY, SERVICE, str(sock)], timeout=30)
    assert told.returncode == 0, told.stdout + told.stderr
    return pidfile


def stop_minissdpd(pidfile: Path) -> None:
    pid = int(pidfile.read_text().split()[0])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists():
        assert time.monotonic() < deadline, f"minissdpd {pid} still running"
        time.sleep(0.05)


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--minissdpd"]
    count = int(args[0]) if len(args) > 0 else 100_000
    rounds = int(args[1]) if len(args) > 1 else 3
    window = int(args[2]) if len(args) > 2 else 64
    minissdpd = None
    if "--minissdpd" in sys.argv:
        minissdpd = unpacked("minissdpd", "usr/sbin/minissdpd", ("libnfnetlink0",))
        if minissdpd is None:
            sys.exit("bench_reply_rate: minissdpd's package could not be downloaded")
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
        if minissdpd is not None:
            results["minissdpd 1.6.0 (C)"] = []
        for n in range(rounds):
            if minissdpd is not None:
                pidfile = start_minissdpd(lab, minissdpd, n)
                try:
                    deadline = time.monotonic() + 30
                    while blast(lab, h1, 5, 5)["answered"] < 5:
                        assert time.monotonic() < deadline, "minissdpd never answered"
                    results["minissdpd 1.6.0 (C)"].append(blast(lab, h1, count, window))
                finally:
                    stop_minissdpd(pidfile)
            # ours and the bare floor one after the other, which goes first in turn: the
            # VM's pace drifts, and a round's two runs are minutes closer than the rounds
            order = list(responders.items())
            for name, argv in order if n % 2 == 0 else order[::-1]:
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
    ours, bare = list(rates.values())[:2]
    print(f"  ratio {ours / bare:.2f} of the bare floor (target >= 0.5, >= 40k/s, 0 lost)")
    ours_runs, bare_runs = list(results.values())[:2]
    paired = [o["per_second"] / b["per_second"] for o, b in zip(ours_runs, bare_runs, strict=True)]
    print(f"  ratio in each round {' '.join(f'{r:.2f}' for r in paired)}: "
          f"median {statistics.median(paired):.2f}")  # fmt: skip
    if minissdpd is not None:
        print(f"  ratio {ours / rates['minissdpd 1.6.0 (C)']:.2f} of minissdpd")


if __name__ == "__main__":
    main()
