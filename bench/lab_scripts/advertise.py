"""In a lab host: start an advertiser; print the wall-clock time once it is started."""

import json
import os
import time
import uuid

from twisted.internet import reactor

from ssdp_upnp import AdvertiserService, NodeInfo, select_interfaces, system_interfaces

#: the address families to use: SSDP_FAMILIES=4, 6 or 46 (the default)
FAMILIES = [int(f) for f in os.environ.get("SSDP_FAMILIES", "46")]

node = NodeInfo.create(str(uuid.uuid4()), "blockchain", "main", 8048)
service = AdvertiserService(
    node, 1, reactor, select_interfaces(system_interfaces(), families=FAMILIES)
)
service.startService()
# stop the service (byebye) when the reactor stops on SIGTERM
reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
print(json.dumps({"started": time.time()}), flush=True)
reactor.run()
