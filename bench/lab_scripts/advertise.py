"""In a lab host: start an advertiser; print the wall-clock time once it is started."""

import json
import time
import uuid

from twisted.internet import reactor

from ssdp_upnp import AdvertiserService, NodeInfo, select_interfaces, system_interfaces

node = NodeInfo.create(str(uuid.uuid4()), "blockchain", "main", 8048)
service = AdvertiserService(node, 1, reactor, select_interfaces(system_interfaces()))
service.startService()
# stop the service (byebye) when the reactor stops on SIGTERM
reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
print(json.dumps({"started": time.time()}), flush=True)
reactor.run()
