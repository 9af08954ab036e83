"""In a lab host: time one discover(wanted=1); print the seconds as JSON. argv: MX"""

import json
import os
import sys
import time

from twisted.internet.defer import Deferred
from twisted.internet.task import react

from ssdp_upnp import discover, select_interfaces, system_interfaces

#: the address families to use: SSDP_FAMILIES=4, 6 or 46 (the default)
FAMILIES = [int(f) for f in os.environ.get("SSDP_FAMILIES", "46")]


async def main(reactor, mx):
    interfaces = select_interfaces(system_interfaces(), families=FAMILIES)
    start = time.perf_counter()
    peers = await discover(
        reactor, "blockchain", "main", interfaces=interfaces, timeout=10, wanted=1, mx=int(mx)
    )
    print(json.dumps({"seconds": time.perf_counter() - start, "found": len(peers)}), flush=True)


react(lambda reactor: Deferred.fromCoroutine(main(reactor, *sys.argv[1:])))
