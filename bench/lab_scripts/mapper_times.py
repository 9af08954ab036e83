"""
In a lab host: time one cold mapping through a method of the ladder. Prints
one JSON line: {"method", "find", "add", "total"} in seconds.
argv: METHOD (auto | pcp | natpmp | upnp) PORT
"""

import json
import sys
import time

from twisted.internet.defer import Deferred
from twisted.internet.task import react

from ssdp_upnp.lan import lan_interfaces
from ssdp_upnp.nat_ladder import find_mapper


async def main(reactor, method, port):
    interfaces = lan_interfaces()
    start = time.perf_counter()
    mapper = await find_mapper(reactor, interfaces, method=method, timeout=10)
    found = time.perf_counter()
    await mapper.add_mapping(int(port), int(port), "TCP", lease=600)
    done = time.perf_counter()
    await mapper.delete_mapping(int(port), "TCP")
    await mapper.close()
    print(json.dumps({"method": str(mapper.method), "find": found - start, "add": done - found,
                      "total": done - start}))  # fmt: skip


react(lambda reactor: Deferred.fromCoroutine(main(reactor, *sys.argv[1:])))
