"""
In a lab host: time ssdp_upnp's IGD client. Prints one JSON line.
argv: cold | warm N
  cold: find_gateway (SSDP + description + GetStatusInfo) then AddPortMapping, timed apart
  warm: one find_gateway, then N (AddPortMapping, DeletePortMapping) calls (SOAP only), each timed
"""

import json
import sys
import time

from twisted.internet.defer import Deferred
from twisted.internet.task import react

import ssdp_upnp.gateway  # noqa: F401  (loaded before the timing, as the raw floor's are)
from ssdp_upnp.gateway_discovery import find_gateway
from ssdp_upnp.lan import select_interfaces, system_interfaces


async def main(reactor, mode, n="10"):
    interfaces = select_interfaces(system_interfaces())
    start = time.perf_counter()
    gateway = await find_gateway(reactor, interfaces, timeout=10)
    found = time.perf_counter()
    if mode == "cold":
        await gateway.add_mapping(8048, 8048, "TCP")
        done = time.perf_counter()
        print(json.dumps({"find": found - start, "add": done - found, "total": done - start}))
        return
    adds, deletes = [], []
    for _ in range(int(n)):
        t = time.perf_counter()
        await gateway.add_mapping(8048, 8048, "TCP")
        t1 = time.perf_counter()
        await gateway.delete_mapping(8048, "TCP")
        adds.append(t1 - t)
        deletes.append(time.perf_counter() - t1)
    print(json.dumps({"add": adds, "delete": deletes}))


react(lambda reactor: Deferred.fromCoroutine(main(reactor, *sys.argv[1:])))
