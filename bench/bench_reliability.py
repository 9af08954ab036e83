"""
The figures of RELIABILITY.md, measured in namespace labs (root, ip(8),
miniupnpd-nftables). Uses the lab tools of tests/. Prints markdown rows.

Usage: python bench/bench_reliability.py [amplification|amplification6|hostile|recovery ...]
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "tests"
sys.path.insert(0, str(TESTS))

from netlab import Lab, Process, lab_unavailable_reason  # noqa: E402

TOOLS = TESTS / "lab_tools"
PY = sys.executable
TWISTD = str(Path(sys.executable).with_name("twistd"))
H2 = "198.51.100.12"


def row(*cells: object) -> None:
    print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)


def flood(lab: Lab, seconds: float, rate: float, *sources: str) -> dict[str, Any]:
    argv = [PY, str(TOOLS / "flood.py"), str(seconds), str(rate), *sources]
    done = lab.run("h2", argv, timeout=seconds + 60)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def flood_table_head() -> None:
    row("flood", "searches in", "bytes in", "replies out", "bytes out", "out/in bytes",
        "max replies/s per source", "last reply after flood")  # fmt: skip
    row(*["---"] * 8)


def start_node(lab: Lab) -> Process:
    """A twistd node on h1 that only advertises, once it does."""
    node = lab.spawn("h1", [TWISTD, "-n", "--pidfile=", "--logfile=-", "ssdp", "--product",
                            "blockchain", "--no-discover", "--state-file",
                            f"{lab.state}/n.json"])  # fmt: skip
    node.wait_for_line(lambda line: "advertising" in line, 20)
    return node


def report(label: str, result: dict[str, Any], seconds: float) -> None:
    """One row of a flood table."""
    ratio = result["bytes_received"] / max(1, result["bytes_sent"])
    after = result["last_reply_after_flood"]
    row(label, result["searches_sent"], result["bytes_sent"],
        result["replies_received"], result["bytes_received"], f"{ratio:.2f}",
        f"{result['max_replies_per_source'] / (seconds + 5):.1f}",
        "-" if after is None else f"{after:.2f} s")  # fmt: skip


def amplification() -> None:
    print("\n### Amplification (twistd node on h1, attacker on h2, ssdp:all, MX 120)\n")
    flood_table_head()
    with Lab(hosts=3) as lab:
        node = start_node(lab)

        report("1 source, 50/s, 5 s", flood(lab, 5, 50, H2), 5)
        report("1 source, 1000/s, 5 s", flood(lab, 5, 1000, H2), 5)
        sources = [f"198.51.100.{i}" for i in range(100, 200)]
        for source in sources:
            subprocess.run(["ip", "-n", lab.ns("h2"), "addr", "add", f"{source}/24", "dev",
                            "eth0"], check=True)  # fmt: skip
        report("100 sources, 5/s each, 5 s", flood(lab, 5, 5, *sources), 5)
        report("100 sources, 50/s each, 5 s", flood(lab, 5, 50, *sources), 5)
        subprocess.run(["ip", "-n", lab.ns("h2"), "addr", "add", "10.99.0.5/32", "dev", "eth0"],
                       check=True)  # fmt: skip
        subprocess.run(["ip", "-n", lab.ns("h1"), "route", "add", "10.99.0.0/16", "via", H2],
                       check=True)  # fmt: skip
        report("off-subnet source 10.99.0.5, 50/s, 5 s", flood(lab, 5, 50, "10.99.0.5"), 5)
        # a legitimate peer during a 1000/s flood
        attack = subprocess.Popen(["ip", "netns", "exec", lab.ns("h2"), PY,
                                   str(TOOLS / "flood.py"), "8", "1000", H2],
                                  stdout=subprocess.PIPE)  # fmt: skip
        time.sleep(1)
        start = time.monotonic()
        found = lab.run("h3", [PY, str(TOOLS / "find_peers.py"), "blockchain", "main", "6", "1"],
                        timeout=60)  # fmt: skip
        took = time.monotonic() - start
        attack.communicate(timeout=60)
        peers = json.loads(found.stdout.strip().splitlines()[-1])
        print(f"\nA peer on h3 searching during a 1000/s flood found {len(peers)} node(s) in"
              f" {took:.2f} s (whole command, Python start included).")  # fmt: skip
        print(f"The node's peak RSS after all the floods: {node.peak_rss_kb() / 1024:.0f} MiB.")


def amplification6() -> None:
    print("\n### Amplification over IPv6 (ff02::c; twistd node on h1, attacker on h2)\n")
    flood_table_head()
    with Lab(hosts=2, ipv6=True) as lab:
        node = start_node(lab)

        link_local = f"{lab.link_local('h2')}%eth0"
        global6 = "2001:db8:5100::12"
        report("1 global source, 50/s, 5 s", flood(lab, 5, 50, global6), 5)
        report("1 global source, 1000/s, 5 s", flood(lab, 5, 1000, global6), 5)
        report("1 link-local source, 1000/s, 5 s", flood(lab, 5, 1000, link_local), 5)
        sources = [f"2001:db8:5100::{i:x}" for i in range(0x100, 0x164)]
        for source in sources:
            subprocess.run(["ip", "-n", lab.ns("h2"), "addr", "add", f"{source}/64", "dev",
                            "eth0", "nodad"], check=True)  # fmt: skip
        report("100 sources, 5/s each, 5 s", flood(lab, 5, 5, *sources), 5)
        report("100 sources, 50/s each, 5 s", flood(lab, 5, 50, *sources), 5)
        subprocess.run(["ip", "-n", lab.ns("h2"), "addr", "add", "2001:db8:99::5/128", "dev",
                        "eth0", "nodad"], check=True)  # fmt: skip
        subprocess.run(["ip", "-n", lab.ns("h1"), "-6", "route", "add", "2001:db8:99::/64", "via",
                        global6], check=True)  # fmt: skip
        report("off-link source 2001:db8:99::5, 50/s, 5 s", flood(lab, 5, 50, "2001:db8:99::5"), 5)
        print(f"The node's peak RSS after the IPv6 floods: {node.peak_rss_kb() / 1024:.0f} MiB.")


def hostile() -> None:
    print("\n### Hostile gateway on h3, our client on h1 (find_gateway timeout 8 s)\n")
    row("attack", "outcome", "message (start)", "time", "max RSS")
    row(*["---"] * 5)
    modes = ["xxe", "laughs", "doctype", "big", "endless", "trickle", "redirect", "third-host",
             "overlong", "soap-garbage", "soap-fault-nocode", "huge-list"]  # fmt: skip
    with Lab(hosts=3) as lab:
        for mode in modes:
            hostile = lab.spawn("h3", [PY, str(TOOLS / "hostile.py"), mode, "198.51.100.13", H2])
            hostile.wait_for_line(lambda line: line == "hostile gateway ready", 10)
            command = "list" if mode == "huge-list" else "status"
            done = lab.run("h1", [PY, str(TOOLS / "nat_tool.py"), command], timeout=60)
            result = json.loads(done.stdout.strip().splitlines()[-1])
            message = result.get("message", "")
            short = message.split(": ", 2)[-1][:70]
            row(
                mode,
                result.get("error", "ok?"),
                short.replace("|", "/"),
                f"{result.get('elapsed', 0):.2f} s",
                f"{result['maxrss_kb'] / 1024:.0f} MiB",
            )
            hostile.signal(signal.SIGKILL)
            hostile.wait(10)


def recovery() -> None:
    print("\n### Router restart with an empty table (twistd --forward, --check-interval 60)\n")
    with Lab(hosts=1, router=True) as lab:
        lab.start_miniupnpd()
        node = lab.spawn("h1", [TWISTD, "-n", "--pidfile=", "--logfile=-", "ssdp", "--product",
                                "blockchain", "--no-discover", "--no-advertise", "--forward",
                                "8048", "--state-file", f"{lab.state}/n.json"])  # fmt: skip
        node.wait_for_line(lambda line: "forwarding 203.0.113.2:8048" in line, 30)
        for check_name in ("killed", "restarted"):
            if check_name == "killed":
                lab.stop_miniupnpd(signal.SIGKILL)
                for chain in ("prerouting_miniupnpd", "miniupnpd"):
                    lab.run("router", ["nft", "flush", "chain", "inet", "filter", chain], 10)
            else:
                started = time.monotonic()
                lab.start_miniupnpd()
                up = time.monotonic()
                while "198.51.100.11:8048" not in lab.nft_chain("prerouting_miniupnpd"):
                    time.sleep(0.2)
                    if time.monotonic() - up > 200:
                        print("not restored in 200 s")
                        return
                restored = time.monotonic()
                print(f"miniupnpd up again {up - started:.1f} s after its start (STUN), mapping"
                      f" restored {restored - up:.1f} s after that.")  # fmt: skip
        node.signal(signal.SIGTERM)
        node.wait(30)
        left = lab.nft_chain("prerouting_miniupnpd")
        print(f"After SIGTERM: {left.count('dnat')} mapping(s) left on the router.")


def main() -> None:
    if (reason := lab_unavailable_reason()) is not None:
        sys.exit(f"bench_reliability: {reason}")
    parts = {"amplification": amplification, "amplification6": amplification6,
             "hostile": hostile, "recovery": recovery}  # fmt: skip
    for name in sys.argv[1:] or list(parts):
        parts[name]()


if __name__ == "__main__":
    main()
