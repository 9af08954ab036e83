"""
In a lab host: time ssdp_upnp's IGD client. Prints one JSON line.
argv: cold | warm N | paired N
  cold: find_gateway (SSDP + description + GetStatusInfo) then AddPortMapping, timed apart
  warm: one find_gateway, then N (AddPortMapping, DeletePortMapping) calls (SOAP only), each timed
  paired: as warm, each (add, delete) of ours next to the raw floor's (raw_igd.py's blocking
          POSTs, in this process, the reactor waiting meanwhile), which goes first in turn:
          the router's own pace, which drifts over a run, is then the same for both
"""

import json
import sys
import time
from pathlib import Path

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
    times = {"add": [], "delete": [], "raw add": [], "raw delete": []}

    async def ours():
        t = time.perf_counter()
        await gateway.add_mapping(8048, 8048, "TCP")
        t1 = time.perf_counter()
        await gateway.delete_mapping(8048, "TCP")
        times["add"].append(t1 - t)
        times["delete"].append(time.perf_counter() - t1)

    def raw(url, me):
        t = time.perf_counter()
        raw_igd.add(url, me)
        t1 = time.perf_counter()
        raw_igd.delete(url)
        times["raw add"].append(t1 - t)
        times["raw delete"].append(time.perf_counter() - t1)

    if mode == "paired":
        sys.path.insert(0, str(Path(__file__).parent))
        import raw_igd

        url, me = raw_igd.find()
        for i in range(int(n)):
            if i % 2:
                raw(url, me)
            await ours()
            if not i % 2:
                raw(url, me)
    else:
        for _ in range(int(n)):
            await ours()
    print(json.dumps({key: value for key, value in times.items() if value}))


react(lambda reactor: Deferred.fromCoroutine(main(reactor, *sys.argv[1:])))
