"""In a lab host: the blocking Client, its queue unread; after SECONDS print its length."""

import json
import queue
import sys
import time

from ssdp_upnp.ssdp import Client

found = queue.Queue()
client = Client("blockchain", "main", found)
client.start()
print(json.dumps({"started": True}), flush=True)
time.sleep(float(sys.argv[1]))
print(json.dumps({"queued": found.qsize()}), flush=True)
client.stop()
