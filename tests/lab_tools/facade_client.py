"""In a lab host: the blocking Client; print the first peer it queues as JSON. argv: SECONDS"""

import json
import queue
import sys

from ssdp_upnp.ssdp import Client

found = queue.Queue()
client = Client("blockchain", "main", found)
client.start()
try:
    host, port = found.get(timeout=float(sys.argv[1]))
    print(json.dumps({"peer": [host, port]}), flush=True)
except queue.Empty:
    print(json.dumps({"peer": None}), flush=True)
client.stop()
