"""
Run PyPI's ssdp-upnp 0.1.0 (installed in the test's own venv) in a lab host.

    seed_010.py server PORT PRODUCT NETWORK     serves until killed
    seed_010.py client PRODUCT NETWORK SECONDS  prints each peer it queues, as JSON
"""

import json
import queue
import sys
import time

import ssdp_upnp.ssdp as seed

assert not hasattr(seed, "NodeConfig"), "this must be 0.1.0, not the package under test"
print(json.dumps({"seed": seed.__file__}), flush=True)

if sys.argv[1] == "server":
    server = seed.Server(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    server.start()
    print(json.dumps({"serving": True}), flush=True)
    while True:
        time.sleep(1)
else:
    found = queue.Queue()
    client = seed.Client(sys.argv[2], sys.argv[3], found)
    client.daemon = True
    client.start()
    deadline = time.monotonic() + float(sys.argv[4])
    while time.monotonic() < deadline:
        try:
            ip, port = found.get(timeout=0.5)
        except queue.Empty:
            continue
        print(json.dumps({"peer": [ip, port]}), flush=True)
    client.stop()
