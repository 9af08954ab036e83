"""A node that maps no port loads no HTTP client, TLS or XML parser (the NAT side loads them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("lxml", "treq", "twisted.web.client", "OpenSSL", "cryptography", "twisted.web.server")

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
from ssdp_upnp import find_gateway  # the NAT side, on demand
after = sorted(m for m in %r if m in sys.modules)
print(json.dumps([before, after]))
"""


def test_the_ssdp_side_loads_no_nat_side() -> None:
    done = subprocess.run([sys.executable, "-c", NODE % (HEAVY, HEAVY)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    before, after = json.loads(done.stdout)
    assert before == []
    assert "lxml" in after and "twisted.web.client" in after
