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
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

LAN_PREFIX = "198.51.100"
LAN_BITS = 24
ROUTER_LAN = f"{LAN_PREFIX}.1"
WAN_PREFIX = "203.0.113"
UPSTREAM = f"{WAN_PREFIX}.1"  # the fake internet host, runs STUN
ROUTER_WAN = f"{WAN_PREFIX}.2"  # the gateway's external address
MINIUPNPD_HTTP_PORT = 5000
STUN_PORT = 3478
# IPv6 (Lab(ipv6=True)): the documentation prefix, routed LAN <-> WAN by the router
LAN6_PREFIX = "2001:db8:5100"
ROUTER_LAN6 = f"{LAN6_PREFIX}::1"
UPSTREAM6 = "2001:db8:113::1"
ROUTER_WAN6 = "2001:db8:113::2"
TOOLS = Path(__file__).parent / "lab_tools"


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


class Process:
    """
    A process started in a lab host. A thread drains its output all the time
    (a daemon that logs a lot would otherwise block on a full pipe) into
    C{lines}; L{wait_for_line} waits on that, bounded.
    """

    def __init__(self, host: str, argv: list[str], popen: subprocess.Popen[bytes]) -> None:
        self.host = host
        self.argv = argv
        self.popen = popen
        self.lines: list[str] = []
        self._consumed = 0
        self._changed = threading.Condition()
        self._ended = False
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.popen.stdout is not None
        partial = b""
        fd = self.popen.stdout.fileno()
        while chunk := os.read(fd, 65536):
            partial += chunk
            *complete, partial = partial.split(b"\n")
            with self._changed:
                self.lines.extend(raw.decode("utf-8", "replace") for raw in complete)
                self._changed.notify_all()
        with self._changed:
            if partial:
                self.lines.append(partial.decode("utf-8", "replace"))
            self._ended = True
            self._changed.notify_all()

    def _match(self, predicate: Callable[[str], bool]) -> str | None:
        """The first line after the last match that satisfies C{predicate}, if any."""
        for index in range(self._consumed, len(self.lines)):
            if predicate(self.lines[index]):
                self._consumed = index + 1
                return self.lines[index]
        return None

    def wait_for_line(self, predicate: Callable[[str], bool], timeout: float) -> str:
        """Wait until an output line satisfies C{predicate}; fail after C{timeout} seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while (found := self._match(predicate)) is None:
                left = deadline - time.monotonic()
                if left <= 0 or self._ended:
                    output = "\n".join(self.lines[-40:])
                    raise AssertionError(
                        f"{self.argv[0]} on {self.host}: no matching line within {timeout}s"
                        f" (exit status {self.popen.poll()}); last output:\n{output}"
                    )
                self._changed.wait(left)
            return found

    def peak_rss_kb(self) -> int:
        """The process's peak resident set so far (VmHWM), in KiB."""
        with open(f"/proc/{self.popen.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        raise AssertionError("no VmHWM")

    def signal(self, sig: int) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(sig)

    def wait(self, timeout: float) -> int:
        """Wait for the exit and the end of its output; return the status."""
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()
            raise AssertionError(
                f"{self.argv[0]} on {self.host} did not exit in {timeout}s"
            ) from None
        self._reader.join(timeout)
        return self.popen.returncode


class Lab:
    """
    A LAN of C{hosts} namespaces on one bridge. Use as a context manager, or
    call L{up} and L{down}; L{down} removes everything even after a failure.

    With C{router=True} the bridge lives in a router namespace (198.51.100.1)
    with a WAN link to an upstream namespace (203.0.113.1, a STUN responder,
    no forwarding, no default route); the router forwards and masquerades, drops
    LAN traffic to anything but the lab's WAN prefix, and L{start_miniupnpd}
    runs miniupnpd on it. Hosts then route via the router.
    """

    def __init__(
        self,
        hosts: int = 3,
        router: bool = False,
        ipv6: bool = False,
        wan: str = WAN_PREFIX,
        ipv4: bool = True,
    ) -> None:
        assert ipv4 or (ipv6 and not router), "an IPv6-only lab has no router"
        self.prefix = f"su{os.getpid() % 100000}{uuid.uuid4().hex[:4]}-"
        self.router = router
        self.ipv6 = ipv6
        #: hosts have IPv4 addresses (Lab(ipv4=False, ipv6=True): an IPv6-only LAN)
        self.ipv4 = ipv4
        # the router's WAN link: TEST-NET-3 by default; 100.64.0 puts it behind a "CGNAT"
        self.wan_prefix = wan
        self.upstream_ip = f"{wan}.1"
        self.router_wan = f"{wan}.2"
        self.hosts6 = {f"h{i}": f"{LAN6_PREFIX}::{10 + i}" for i in range(1, hosts + 1)}
        self.switch = f"{self.prefix}router" if router else f"{self.prefix}lan"
        self.upstream = f"{self.prefix}wan"
        self.hosts = {f"h{i}": f"{LAN_PREFIX}.{10 + i}" for i in range(1, hosts + 1)}
        self.namespaces: list[str] = []
        self.processes: list[Process] = []
        self.state = Path(f"/tmp/ssdp-upnp-lab.{self.prefix.rstrip('-')}")
        self.miniupnpd: Process | None = None

    def ns(self, host: str) -> str:
        if host == "router":
            return self.switch
        return f"{self.prefix}{host}"

    def _add_ns(self, name: str) -> None:
        _ip("netns", "add", name)
        self.namespaces.append(name)
        etc = Path("/etc/netns") / name
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "resolv.conf").write_text("# ssdp_upnp test lab: no DNS\nnameserver 127.0.0.1\n")
        _ip("-n", name, "link", "set", "lo", "up")
        if self.ipv6:
            for setting in ("all.disable_ipv6=0", "default.disable_ipv6=0", "all.accept_dad=0",
                            "default.accept_dad=0"):  # fmt: skip
                self._sysctl(name, f"net.ipv6.conf.{setting}")
        else:  # an IPv4 LAN: no link-local IPv6 address appears a second after the start
            for setting in ("all.disable_ipv6=1", "default.disable_ipv6=1"):
                self._sysctl(name, f"net.ipv6.conf.{setting}")

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
                if self.ipv4:
                    _ip("-n", ns, "addr", "add", f"{address}/{LAN_BITS}", "dev", "eth0")
                _ip("-n", ns, "link", "set", "eth0", "multicast", "on", "up")
                if self.ipv4:
                    _ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0")
                if self.ipv6:
                    _ip("-n", ns, "addr", "add", f"{self.hosts6[host]}/64", "dev", "eth0", "nodad")
                if self.router:
                    _ip("-n", ns, "route", "add", "default", "via", ROUTER_LAN, "dev", "eth0")
                    if self.ipv6:
                        _ip("-n", ns, "-6", "route", "add", "default", "via", ROUTER_LAN6, "dev",
                            "eth0")  # fmt: skip
            if self.router:
                self._router_up()
        except BaseException:
            self.down()
            raise
        return self

    def _router_up(self) -> None:
        router, upstream = self.switch, self.upstream
        self.state.mkdir(parents=True, exist_ok=True)
        _ip("-n", router, "addr", "add", f"{ROUTER_LAN}/{LAN_BITS}", "dev", "br0")
        _ip("-n", router, "route", "add", "224.0.0.0/4", "dev", "br0")
        self._add_ns(upstream)
        _ip("-n", router, "link", "add", "rwan0", "type", "veth", "peer", "name", "wan0",
            "netns", upstream)  # fmt: skip
        _ip("-n", upstream, "addr", "add", f"{self.upstream_ip}/24", "dev", "wan0")
        _ip("-n", upstream, "link", "set", "wan0", "up")
        _ip("-n", router, "addr", "add", f"{self.router_wan}/24", "dev", "rwan0")
        _ip("-n", router, "link", "set", "rwan0", "up")
        _ip("-n", router, "route", "add", "default", "via", self.upstream_ip, "dev", "rwan0")
        if self.ipv6:
            _ip("-n", router, "addr", "add", f"{ROUTER_LAN6}/64", "dev", "br0", "nodad")
            _ip("-n", upstream, "addr", "add", f"{UPSTREAM6}/64", "dev", "wan0", "nodad")
            _ip("-n", router, "addr", "add", f"{ROUTER_WAN6}/64", "dev", "rwan0", "nodad")
            _ip("-n", router, "-6", "route", "add", "default", "via", UPSTREAM6, "dev", "rwan0")
            # the WAN host reaches the LAN's prefix through the router, and nothing else
            _ip("-n", upstream, "-6", "route", "add", f"{LAN6_PREFIX}::/64", "via", ROUTER_WAN6,
                "dev", "wan0")  # fmt: skip
            self._sysctl(router, "net.ipv6.conf.all.forwarding=1")
        self._sysctl(upstream, "net.ipv4.ip_forward=0")
        self._sysctl(router, "net.ipv4.ip_forward=1")
        rules = self.state / "router.nft"
        rules.write_text(ROUTER_NFT.format(wan=f"{self.wan_prefix}.0/24"))
        subprocess.run(["ip", "netns", "exec", router, "nft", "-f", str(rules)], check=True,
                       capture_output=True)  # fmt: skip
        responder = str(TOOLS / "stun_responder.py")
        stun = self.spawn("wan", [sys.executable, responder, self.upstream_ip, str(STUN_PORT)])
        stun.wait_for_line(lambda line: "stun responder on" in line, 10)

    @staticmethod
    def _sysctl(ns: str, setting: str) -> None:
        subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", setting], check=True)

    def start_miniupnpd(
        self,
        igd1: bool = False,
        timeout: float = 30,
        secure: bool = True,
        natpmp: bool = False,
        upnp: bool = True,
    ) -> Process:
        """Start miniupnpd on the router (secure mode unless not C{secure}, STUN-enabled;
        PCP and NAT-PMP with C{natpmp}, UPnP IGD unless not C{upnp}) and wait until it
        serves."""
        assert self.router, "miniupnpd needs Lab(router=True)"
        conf = self.state / "miniupnpd.conf"
        conf.write_text(MINIUPNPD_CONF.format(
            state=self.state, port=MINIUPNPD_HTTP_PORT, stun=self.upstream_ip, stun_port=STUN_PORT,
            lan=f"{LAN_PREFIX}.0/{LAN_BITS}", igd1="yes" if igd1 else "no",
            secure="yes" if secure else "no", natpmp="yes" if natpmp else "no",
            upnp="yes" if upnp else "no",
        ))  # fmt: skip
        (self.state / "upnp.leases").unlink(missing_ok=True)
        # without /dev/log, miniupnpd -d copies each log line to /dev/console (slow on a VM):
        # `ip netns exec` gives it a private mount namespace, so point that at /dev/null
        argv = [
            "sh",
            "-c",
            'mount --bind /dev/null /dev/console 2>/dev/null; exec "$0" "$@"',
            "/usr/sbin/miniupnpd",
            "-d",
            "-f",
            str(conf),
            "-P",
            str(self.state / "m.pid"),
        ]
        process = self.spawn("router", argv)  # fmt: skip
        process.wait_for_line(lambda line: "Listening for NAT-PMP" in line
                              or "HTTP listening on port" in line, timeout)  # fmt: skip
        self.miniupnpd = process
        if upnp:
            self.wait_tcp("router", MINIUPNPD_HTTP_PORT, timeout)
        if natpmp:
            self.wait_udp("router", 5351, timeout)
        return process

    def stop_miniupnpd(self, sig: int = signal.SIGTERM) -> None:
        if self.miniupnpd is not None:
            self.miniupnpd.signal(sig)
            self.miniupnpd.wait(15)
            self.miniupnpd = None

    def wait_tcp(self, host: str, port: int, timeout: float) -> None:
        """Wait (bounded) until something listens on TCP C{port} in C{host}'s namespace."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            listening = subprocess.run(
                ["ip", "netns", "exec", self.ns(host), "ss", "-Hltn", f"sport = :{port}"],
                capture_output=True, text=True,
            )  # fmt: skip
            if listening.stdout.strip():
                return
            time.sleep(0.05)
        raise AssertionError(f"nothing listens on TCP {port} in {host} after {timeout}s")

    def wait_udp(self, host: str, port: int, timeout: float) -> None:
        """Wait (bounded) until a socket is bound to UDP C{port} in C{host}'s namespace."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            bound = subprocess.run(
                ["ip", "netns", "exec", self.ns(host), "ss", "-Hlun", f"sport = :{port}"],
                capture_output=True, text=True,
            )  # fmt: skip
            if bound.stdout.strip():
                return
            time.sleep(0.05)
        raise AssertionError(f"nothing bound to UDP {port} in {host} after {timeout}s")

    def link_local(self, host: str, link: str = "eth0") -> str | None:
        """C{host}'s link-local IPv6 address on C{link} (without its zone), or None."""
        shown = self.run(host, ["ip", "-6", "-o", "addr", "show", "dev", link, "scope", "link"],
                         10)  # fmt: skip
        fields = shown.stdout.split()
        return fields[3].split("/")[0] if len(fields) > 3 else None

    def nft_chain(self, chain: str) -> str:
        """The router's nftables chain C{chain} (inet filter), as nft lists it."""
        done = subprocess.run(
            ["ip", "netns", "exec", self.switch, "nft", "list", "chain", "inet", "filter", chain],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return done.stdout

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
        self,
        host: str,
        argv: Sequence[str],
        timeout: float,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run C{argv} in C{host}'s namespace to completion (bounded by C{timeout})."""
        return subprocess.run(
            ["ip", "netns", "exec", self.ns(host), *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )

    def down(self) -> None:
        for process in self.processes:
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGKILL)
            try:
                process.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
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
        shutil.rmtree(self.state, ignore_errors=True)
        try:
            Path("/etc/netns").rmdir()
        except OSError:
            pass

    def __enter__(self) -> Lab:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.down()


ROUTER_NFT = """\
flush ruleset
table inet filter {{
	chain forward {{
		type filter hook forward priority 0; policy drop;
		ct state established,related accept
		iifname "br0" oifname "rwan0" ip daddr {wan} accept
		iifname "br0" oifname "rwan0" counter drop
		jump miniupnpd
	}}
	chain miniupnpd {{
	}}
	chain prerouting {{
		type nat hook prerouting priority -100; policy accept;
		jump prerouting_miniupnpd
	}}
	chain postrouting {{
		type nat hook postrouting priority 100; policy accept;
		jump postrouting_miniupnpd
		oifname "rwan0" masquerade
	}}
	chain prerouting_miniupnpd {{
	}}
	chain postrouting_miniupnpd {{
	}}
}}
"""

MINIUPNPD_CONF = """\
ext_ifname=rwan0
listening_ip=br0
http_port={port}
enable_upnp={upnp}
enable_natpmp={natpmp}
secure_mode={secure}
system_uptime=yes
notify_interval=30
clean_ruleset_interval=600
lease_file={state}/upnp.leases
minissdpdsocket={state}/minissdpd.sock
uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b
friendly_name=ssdp_upnp test router
force_igd_desc_v1={igd1}
ext_perform_stun=yes
ext_stun_host={stun}
ext_stun_port={stun_port}
upnp_table_name=filter
upnp_nat_table_name=filter
upnp_forward_chain=miniupnpd
upnp_nat_chain=prerouting_miniupnpd
upnp_nat_postrouting_chain=postrouting_miniupnpd
allow 1024-65535 {lan} 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
"""
