"""
A throwaway LAN of network namespaces for tests with real sockets.

Every namespace gets a unique prefix per lab, so a lab left behind by a crash
never collides with the next. The LAN is a bridge inside its own namespace;
each host is a namespace with one veth (``eth0``) whose peer is created
straight inside the bridge's namespace, so no lab interface ever exists in the
host's namespace, and nothing routes out of the lab: hosts have no default
route and resolve no names (``/etc/netns/<ns>/resolv.conf`` points at
127.0.0.1). Addresses are from TEST-NET-2 (RFC 5737).

Everything real-socket runs in subprocesses under ``ip netns exec``; the test
process itself never opens a socket in the host's namespace.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

LAN_PREFIX = "198.51.100"
LAN_BITS = 24


class LabUnavailable(Exception):
    """Namespaces cannot be made here (not root, no ip(8), no CAP_SYS_ADMIN)."""


def lab_unavailable_reason() -> str | None:
    if os.geteuid() != 0:
        return "network-namespace lab needs root (ip netns add)"
    if shutil.which("ip") is None:
        return "network-namespace lab needs ip(8) from iproute2"
    probe = f"su-probe-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    return None


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


@dataclass
class Process:
    """A process started in a lab host, its output collected line by line."""

    host: str
    argv: list[str]
    popen: subprocess.Popen[bytes]
    lines: list[str] = field(default_factory=list)
    _partial: bytes = b""
    _consumed: int = 0

    def _match(self, predicate: Callable[[str], bool]) -> str | None:
        """The first line after the last match that satisfies C{predicate}, if any."""
        for index in range(self._consumed, len(self.lines)):
            if predicate(self.lines[index]):
                self._consumed = index + 1
                return self.lines[index]
        return None

    def wait_for_line(self, predicate: Callable[[str], bool], timeout: float) -> str:
        """Read output until a line satisfies C{predicate}; fail after C{timeout} seconds."""
        if (found := self._match(predicate)) is not None:
            return found
        deadline = time.monotonic() + timeout
        assert self.popen.stdout is not None
        fd = self.popen.stdout.fileno()
        with selectors.DefaultSelector() as sel:
            sel.register(fd, selectors.EVENT_READ)
            while (left := deadline - time.monotonic()) > 0:
                if not sel.select(left):
                    continue
                # os.read, not readline: a buffered reader would hide lines from select()
                chunk = os.read(fd, 65536)
                if not chunk:
                    break  # the process ended
                self._partial += chunk
                *complete, self._partial = self._partial.split(b"\n")
                for raw in complete:
                    self.lines.append(raw.decode("utf-8", "replace"))
                if (found := self._match(predicate)) is not None:
                    return found
        output = "\n".join(self.lines[-40:])
        raise AssertionError(
            f"{self.argv[0]} on {self.host}: no matching line within {timeout}s"
            f" (exit status {self.popen.poll()}); last output:\n{output}"
        )

    def signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """Wait for the exit (reading the rest of the output); return the status."""
        try:
            out, _ = self.popen.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.communicate()
            raise AssertionError(
                f"{self.argv[0]} on {self.host} did not exit in {timeout}s"
            ) from None
        rest = self._partial + out
        self._partial = b""
        self.lines.extend(rest.decode("utf-8", "replace").splitlines())
        return self.popen.returncode


class Lab:
    """
    A LAN of C{hosts} namespaces on one bridge. Use as a context manager, or
    call L{up} and L{down}; L{down} removes everything even after a failure.
    """

    def __init__(self, hosts: int = 3) -> None:
        self.prefix = f"su{os.getpid() % 100000}{uuid.uuid4().hex[:4]}-"
        self.switch = f"{self.prefix}lan"
        self.hosts = {f"h{i}": f"{LAN_PREFIX}.{10 + i}" for i in range(1, hosts + 1)}
        self.namespaces: list[str] = []
        self.processes: list[Process] = []

    def ns(self, host: str) -> str:
        return f"{self.prefix}{host}"

    def _add_ns(self, name: str) -> None:
        _ip("netns", "add", name)
        self.namespaces.append(name)
        etc = Path("/etc/netns") / name
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "resolv.conf").write_text("# ssdp_upnp test lab: no DNS\nnameserver 127.0.0.1\n")
        _ip("-n", name, "link", "set", "lo", "up")

    def up(self) -> Lab:
        try:
            self._add_ns(self.switch)
            _ip("-n", self.switch, "link", "add", "br0", "type", "bridge", "stp_state", "0",
                "mcast_snooping", "0")  # fmt: skip
            _ip("-n", self.switch, "link", "set", "br0", "up")
            # bridged frames must not go through the switch namespace's IP firewall
            for table in ("iptables", "ip6tables", "arptables"):
                knob = f"/proc/sys/net/bridge/bridge-nf-call-{table}"
                subprocess.run(
                    ["ip", "netns", "exec", self.switch, "sh", "-c",
                     f"[ -e {knob} ] && echo 0 > {knob} || true"],
                    check=True,
                )  # fmt: skip
            for host, address in self.hosts.items():
                ns = self.ns(host)
                self._add_ns(ns)
                port = f"p{host}"
                _ip("-n", self.switch, "link", "add", port, "type", "veth", "peer", "name",
                    "eth0", "netns", ns)  # fmt: skip
                _ip("-n", self.switch, "link", "set", port, "master", "br0", "up")
                _ip("-n", ns, "addr", "add", f"{address}/{LAN_BITS}", "dev", "eth0")
                _ip("-n", ns, "link", "set", "eth0", "multicast", "on", "up")
                _ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0")
        except BaseException:
            self.down()
            raise
        return self

    def spawn(self, host: str, argv: Sequence[str], env: dict[str, str] | None = None) -> Process:
        """Start C{argv} in C{host}'s namespace, stdout and stderr merged."""
        popen = subprocess.Popen(
            ["ip", "netns", "exec", self.ns(host), *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        process = Process(host, list(argv), popen)
        self.processes.append(process)
        return process

    def run(
        self, host: str, argv: Sequence[str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        """Run C{argv} in C{host}'s namespace to completion (bounded by C{timeout})."""
        return subprocess.run(
            ["ip", "netns", "exec", self.ns(host), *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def down(self) -> None:
        for process in self.processes:
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGKILL)
            try:
                process.popen.communicate(timeout=10)
            except (subprocess.TimeoutExpired, ValueError):
                pass
        self.processes.clear()
        for ns in reversed(self.namespaces):
            # a namespace is removed even if a stray process of ours is still in it
            pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
            for pid in pids.stdout.split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
            shutil.rmtree(Path("/etc/netns") / ns, ignore_errors=True)
        self.namespaces.clear()
        try:
            Path("/etc/netns").rmdir()
        except OSError:
            pass

    def __enter__(self) -> Lab:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.down()
