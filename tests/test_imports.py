"""A node that maps no port loads no HTTP client, TLS or XML parser (the NAT side loads them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("lxml", "treq", "twisted.web.client", "OpenSSL", "cryptography", "twisted.web.server",
         # TimerService's module pulls in the client service and automat (30 ms at start)
         "twisted.application.internet", "automat")  # fmt: skip

NODE = """
import json, sys
import ssdp_upnp, ssdp_upnp.tap, ssdp_upnp.cli
from ssdp_upnp.description import build_device_description, build_scpd
from ssdp_upnp.node import NodeInfo
from ssdp_upnp.node_service import NodeConfig
options = ssdp_upnp.tap.Options()
options.parseOptions(["--product", "blockchain", "--port", "8048"])
node = NodeInfo.create("1b4e28ba-2fa1-11d2-883f-0016d3cca427", "blockchain", "main", 8048)
build_device_description(node), build_scpd()
ssdp_upnp.cli.parser().parse_args(["peers", "--product", "blockchain"])
before = sorted(m for m in %r if m in sys.modules)
from ssdp_upnp.gateway import Gateway  # the NAT side, on demand
after = sorted(m for m in %r if m in sys.modules)
print(json.dumps([before, after]))
"""


def test_the_ssdp_side_loads_no_nat_side() -> None:
    done = subprocess.run([sys.executable, "-c", NODE % (HEAVY, HEAVY)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    before, after = json.loads(done.stdout)
    assert before == []
    # the gateway's URLs are IP literals: our own HTTP client, no treq or twisted.web
    assert after == ["lxml"]


SEARCH_FIRST = """
import json, sys
from twisted.internet.defer import succeed
from twisted.internet.testing import MemoryReactorClock
from ssdp_upnp import nat_ladder
from ssdp_upnp.lan import Interface

def loaded():
    return sorted(m for m in %r if m in sys.modules)

class Port:
    def __init__(self, protocol):
        self.sent = []
        protocol.makeConnection(self)
    def write(self, data, addr):
        self.sent.append((data.split(b"\\r\\n")[0].decode(), loaded()))
    def setTTL(self, ttl):
        pass
    def setOutgoingInterface(self, address):
        return succeed(None)
    def stopListening(self):
        return None

class Reactor(MemoryReactorClock):
    ports = []
    def listenMulticast(self, port, protocol, interface="", maxPacketSize=8192,
                        listenMultiple=False):
        self.ports.append(Port(protocol))
        return self.ports[-1]

reactor = Reactor()
d = nat_ladder.find_mapper(reactor, [Interface.parse("eth0", "198.51.100.11/24")],
                           method="upnp")
reactor.advance(0)  # the next turn of the reactor: long before a gateway answers
print(json.dumps([[port.sent[0] for port in Reactor.ports], loaded()]))
d.cancel()
"""


def test_a_gateway_search_is_sent_before_the_description_side_loads() -> None:
    # lxml loads while the gateways wait to answer, not before the search
    done = subprocess.run([sys.executable, "-c", SEARCH_FIRST % (HEAVY,)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    (first,), after = json.loads(done.stdout.strip().splitlines()[-1])
    assert first == ["M-SEARCH * HTTP/1.1", []]  # sent with nothing heavy loaded yet
    assert after == ["lxml"]


PCP_RUN = """
import json, struct, sys
from twisted.internet.testing import MemoryReactorClock
from ssdp_upnp import nat_ladder
from ssdp_upnp.lan import Interface

class Port:
    def __init__(self, protocol, interface):
        self.protocol, self.interface, self.sent = protocol, interface, []
        protocol.makeConnection(self)
    def write(self, data, addr):
        self.sent.append((data, addr))
    def stopListening(self):
        return None

class Reactor(MemoryReactorClock):
    ports = []
    def listenUDP(self, port, protocol, interface="", maxPacketSize=8192):
        self.ports.append(Port(protocol, interface))
        return self.ports[-1]

nat_ladder.udp_gateway = lambda interfaces: ("198.51.100.1", "198.51.100.11")
reactor = Reactor()
d = nat_ladder.find_mapper(reactor, [Interface.parse("eth0", "198.51.100.11/24")])
for port in list(Reactor.ports):
    for data, addr in port.sent:
        if data[0] == 2:  # the ANNOUNCE: answer it as a PCP server
            port.protocol.datagramReceived(struct.pack("!BBBBII12s", 2, 0x80, 0, 0, 0, 9, b""),
                                           ("198.51.100.1", 5351))
found = []
d.addCallback(found.append)
reactor.advance(1)
print(json.dumps([found[0].method, sorted(m for m in %r if m in sys.modules)]))
"""


def test_a_pcp_gateway_costs_no_http_client_tls_or_xml() -> None:
    done = subprocess.run([sys.executable, "-c", PCP_RUN % (HEAVY,)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    method, heavy = json.loads(done.stdout)
    assert method == "pcp" and heavy == []


USAGE = """
import json, sys
from ssdp_upnp import cli
codes = []
for argv in (["--help"], ["nat", "add", "70000"], ["search", "--timeout", "-1"]):
    try:
        cli.main(argv)
    except SystemExit as e:
        codes.append(e.code)
print(json.dumps([codes, sorted({m.split(".")[0] for m in sys.modules} & {"twisted", "treq",
                                                                         "lxml", "OpenSSL"})]))
"""


def test_help_and_usage_errors_import_no_twisted() -> None:
    done = subprocess.run([sys.executable, "-c", USAGE], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    codes, heavy = json.loads(done.stdout.strip().splitlines()[-1])
    assert codes == [0, 2, 2] and heavy == []


HELP = """
import json, sys
from ssdp_upnp import cli
codes = []
for argv in (["--help"], ["peers", "--product", "b@d"], ["advertise", "--product", "b",
             "--port", "8048", "--uuid", "nope"], ["search", "--interface", "wlan9"]):
    try:
        cli.main(argv)
    except SystemExit as e:
        codes.append(e.code)
print(json.dumps([codes, sorted(m for m in sys.modules if m in %r)]))
"""
#: what --help, a bad product or uuid and an interface this host has not need not load
#: (each tens of ms on a slow host)
LIGHT = ("typing", "dataclasses", "ifaddr", "ctypes", "zope.interface", "ssdp_upnp.message",
         "ssdp_upnp.node", "ssdp_upnp.lan", "ssdp_upnp.mapping", "ipaddress")  # fmt: skip


def test_help_and_name_errors_load_only_the_parser() -> None:
    done = subprocess.run([sys.executable, "-c", HELP % (LIGHT,)], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    codes, loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert codes == [0, 2, 2, 2] and loaded == []


COMMAND = """
import json, sys
import twisted.internet.task as task

def react(main, argv=()):
    # what react does first: install the reactor (nothing is run, nothing is sent)
    from twisted.internet import reactor
    import twisted.web.client  # the gateway side, as a nat command loads it

task.react = react
from ssdp_upnp import cli
cli.main(["peers", "--product", "blockchain"])
print(json.dumps([sys.modules.get("OpenSSL", "absent"), "cryptography" in sys.modules,
                  "twisted.internet.reactor" in sys.modules]))
"""


def test_a_command_runs_twisted_without_tls() -> None:
    done = subprocess.run([sys.executable, "-c", COMMAND], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [None, False, True]


TWISTD_NODE = """
import json, sys
from ssdp_upnp import _twistd, tap
from ssdp_upnp.lan import Interface
options = tap.Options()
options.parseOptions(["--product", "blockchain", "--state-file", sys.argv[1]])
# what twistd does: the plugin's makeService on the global reactor (nothing is started,
# nothing is sent), on an interface given here instead of the host's
made, eth0 = tap.makeService, Interface.parse("eth0", "198.51.100.11/24")
tap.makeService = lambda config: made(config, available=[eth0])
node = _twistd.makeService(options)
print(json.dumps([sys.modules.get("OpenSSL", "absent"), "cryptography" in sys.modules,
                  "twisted.internet.reactor" in sys.modules, node.running]))
"""


def test_twistd_ssdp_runs_twisted_without_tls(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", TWISTD_NODE, str(tmp_path / "state.json")],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [None, False, True, 0]
