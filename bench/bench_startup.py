"""
Start-up and idle memory of ``twistd -n ssdp`` beside Twisted's own floor, in
one namespace lab run (root, ip(8)); interleaved rounds, medians.

1. exec -> first NOTIFY on the wire: a sniffer on h2 (a plain socket in the
   group) notes when the first NOTIFY from h1 arrives; t0 is taken just before
   the exec on h1. Beside ours: a minimal twistd application (a .tac whose one
   service sends one NOTIFY from startService), Twisted's own floor.
2. idle RSS (VmRSS) 3 s after start: ``twistd -n ssdp --product blockchain``
   beside an empty twistd (a .tac with nothing in it).

Usage: python bench/bench_startup.py [ROUNDS]
"""

from __future__ import annotations

import functools
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
TWISTD = str(Path(sys.executable).with_name("twistd"))

SNIFFER = r"""
import json, socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("", 1900))
mreq = struct.pack("4s4s", socket.inet_aton("239.255.255.250"), socket.inet_aton(sys.argv[1]))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
print("ready", flush=True)
while True:
    data, addr = s.recvfrom(4096)
    if data.startswith(b"NOTIFY") and addr[0] == sys.argv[2]:
        print(json.dumps({"notify": time.time()}), flush=True)
"""

MINIMAL_TAC = """
import socket
from twisted.application import service
from twisted.internet import reactor
from twisted.internet.protocol import DatagramProtocol

NOTIFY = (b"NOTIFY * HTTP/1.1\\r\\nHOST: 239.255.255.250:1900\\r\\nNT: upnp:rootdevice\\r\\n"
          b"NTS: ssdp:alive\\r\\nUSN: uuid:00000000-0000-0000-0000-000000000001\\r\\n"
          b"LOCATION: http://198.51.100.11:1/\\r\\nCACHE-CONTROL: max-age=1800\\r\\n\\r\\n")


class Once(service.Service):
    def startService(self):
        super().startService()
        port = reactor.listenMulticast(0, DatagramProtocol())
        port.setTTL(2)
        port.write(NOTIFY, ("239.255.255.250", 1900))


application = service.Application("minimal")
Once().setServiceParent(application)
"""

#: the same floor without TLS, as ``twistd ssdp`` runs (Twisted then loads no pyOpenSSL)
MINIMAL_NO_TLS_TAC = 'import sys\nsys.modules.setdefault("OpenSSL", None)\n' + MINIMAL_TAC

EMPTY_TAC = """
from twisted.application import service
application = service.Application("empty")
"""


def after(line: str, started: float) -> bool:
    """A sniffer line for a NOTIFY heard after C{started}."""
    return line.startswith("{") and json.loads(line)["notify"] > started


def rss_kb(pid: int) -> int:
    """VmRSS of a process (``ip netns exec`` execs the command: its pid is the command's)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    if (reason := lab_unavailable_reason()) is not None:
        sys.exit(f"bench_startup: {reason}")
    with Lab(hosts=2) as lab:
        h1, h2 = lab.hosts["h1"], lab.hosts["h2"]
        lab.state.mkdir(parents=True, exist_ok=True)
        (lab.state / "minimal.tac").write_text(MINIMAL_TAC)
        (lab.state / "empty.tac").write_text(EMPTY_TAC)
        (lab.state / "minimal-no-tls.tac").write_text(MINIMAL_NO_TLS_TAC)
        sniffer = lab.spawn("h2", [PY, "-c", SNIFFER, h2, h1])
        sniffer.wait_for_line(lambda line: line == "ready", 10)
        commands = {
            "twistd -n ssdp": [TWISTD, "-n", "--pidfile=", "--logfile=/dev/null", "ssdp",
                               "--product", "blockchain", "--no-discover", "--state-file",
                               str(lab.state / "s.json")],
            "minimal .tac (one NOTIFY)": [TWISTD, "-n", "--pidfile=", "--logfile=/dev/null",
                                          "-y", str(lab.state / "minimal.tac")],
            "minimal .tac, no TLS": [TWISTD, "-n", "--pidfile=", "--logfile=/dev/null",
                                     "-y", str(lab.state / "minimal-no-tls.tac")],
        }  # fmt: skip
        first: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(rounds):
            for name, argv in commands.items():
                started = time.time()
                process = lab.spawn("h1", argv)
                line = sniffer.wait_for_line(functools.partial(after, started=started), 30)
                first[name].append(json.loads(line)["notify"] - started)
                process.signal(signal.SIGTERM)
                process.wait(20)
        idle: dict[str, list[int]] = {"twistd -n ssdp": [], "empty twistd (.tac)": []}
        idle_argv = {
            "twistd -n ssdp": commands["twistd -n ssdp"],
            "empty twistd (.tac)": [TWISTD, "-n", "--pidfile=", "--logfile=/dev/null", "-y",
                                    str(lab.state / "empty.tac")],
        }  # fmt: skip
        for _ in range(max(3, rounds // 3)):
            for name, argv in idle_argv.items():
                process = lab.spawn("h1", argv)
                time.sleep(3.0)  # idle: started, announced, nothing else to do
                idle[name].append(rss_kb(process.popen.pid))
                process.signal(signal.SIGTERM)
                process.wait(20)
    ours, floor, floor_no_tls = (statistics.median(first[n]) * 1000 for n in commands)
    print(f"exec -> first NOTIFY, {rounds} rounds (medians):")
    for name in commands:
        print(f"  {name:28s} {statistics.median(first[name]) * 1000:7.1f} ms")
    print(
        f"  ratio {ours / floor:.2f} (target <= 1.3); against the floor without TLS "
        f"{ours / floor_no_tls:.2f}"
    )
    ours_kb, empty_kb = (statistics.median(idle[n]) for n in idle)
    print("idle VmRSS after 3 s (medians):")
    for name in idle:
        print(f"  {name:28s} {statistics.median(idle[name]) / 1024:6.1f} MiB")
    print(f"  difference {(ours_kb - empty_kb) / 1024:.1f} MiB (target <= 6 MiB)")


if __name__ == "__main__":
    main()
