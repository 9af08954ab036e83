"""
Run inside a lab namespace: discover peers with ssdp_upnp's Deferred API and
print them as one JSON line. argv: PRODUCT NETWORK TIMEOUT [WANTED [FAMILIES]]
(FAMILIES: 4, 6 or 46, the default)
"""

import json
import sys

from twisted.internet.defer import Deferred
from twisted.internet.task import react

from ssdp_upnp import discover, select_interfaces, system_interfaces


async def main(reactor, product, network, timeout, wanted="0", families="46"):
    peers = await discover(
        reactor,
        product,
        network,
        interfaces=select_interfaces(system_interfaces(), families=[int(f) for f in families]),
        timeout=float(timeout),
        wanted=int(wanted) or None,
    )
    fields = (
        "uuid",
        "host",
        "port",
        "product",
        "network",
        "location",
        "boot_id",
        "node_id",
        "external",
        "external6",
        "addresses",
    )
    print(json.dumps([{f: getattr(p, f) for f in fields} for p in peers]), flush=True)


react(lambda reactor: Deferred.fromCoroutine(main(reactor, *sys.argv[1:])))
