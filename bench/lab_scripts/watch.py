"""In a lab host: run discovery; print the wall-clock time at which each peer appears."""

import json
import os
import time

from twisted.internet import reactor

from ssdp_upnp import DiscoveryService, select_interfaces, system_interfaces

#: the address families to use: SSDP_FAMILIES=4, 6 or 46 (the default)
FAMILIES = [int(f) for f in os.environ.get("SSDP_FAMILIES", "46")]


class Print:
    def peer_added(self, peer):
        print(json.dumps({"found": time.time(), "host": peer.host}), flush=True)

    def peer_removed(self, peer, reason):
        print(json.dumps({"lost": time.time(), "reason": reason.value}), flush=True)


service = DiscoveryService(
    "blockchain",
    "main",
    reactor,
    select_interfaces(system_interfaces(), families=FAMILIES),
    search_interval=3600,
)
service.observe(Print())
service.startService()
print(json.dumps({"ready": time.time()}), flush=True)
reactor.run()
