"""
Run inside a lab namespace: GET a node's description over HTTP and print what
it says as JSON (parsed with ssdp_upnp's hardened reader). argv: URL
"""

import json
import sys
import urllib.request

from ssdp_upnp.description import read_node_description

with urllib.request.urlopen(sys.argv[1], timeout=5) as response:
    body = response.read(256 * 1024)
    content_type = response.headers.get("content-type")
node = read_node_description(body)
print(
    json.dumps(
        {**node.__dict__, "service_types": list(node.service_types), "content_type": content_type}
    )
)
