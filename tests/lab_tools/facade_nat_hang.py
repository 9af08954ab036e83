"""
In a lab host, the seed API against a router that hangs mid-way:
add 8011->8015, print, wait for the file GO (the test stops the router meanwhile),
add 8012->8070 (it times out), print, keep running HOLD seconds.
argv: URL GO HOLD
"""

import json
import os
import sys
import time

from ssdp_upnp.ssdp import Nat

url, go, hold = sys.argv[1], sys.argv[2], float(sys.argv[3])
nat = Nat(lease=600, timeout=6, description_url=url)
print(json.dumps({"first": nat.addPortForward(8011, 8015)}), flush=True)
while not os.path.exists(go):
    time.sleep(0.1)
print(json.dumps({"second": nat.addPortForward(8012, 8070)}), flush=True)
time.sleep(hold)
print(json.dumps({"done": True}), flush=True)
