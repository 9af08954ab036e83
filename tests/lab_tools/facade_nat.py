"""
In a lab host, a long-running program of the seed API: Nat(lease=LEASE).addPortForward,
then after HOLD seconds removePortForward; each result printed as JSON.
argv: LEASE INTERNAL EXTERNAL HOLD
"""

import json
import sys
import time

from ssdp_upnp.ssdp import Nat

lease, internal, external, hold = (int(a) for a in sys.argv[1:5])
nat = Nat(lease=lease)
print(json.dumps({"added": nat.addPortForward(internal, external)}), flush=True)
time.sleep(hold)
print(json.dumps({"removed": nat.removePortForward(external)}), flush=True)
