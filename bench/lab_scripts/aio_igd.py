"""
In a lab host, with the anchors' interpreter: async-upnp-client's cold mapping, timed as
ours is (igd_times.py cold): one M-SEARCH for the IGD, its description (and the services'
SCPDs, which async-upnp-client reads to build the device), then AddPortMapping. Its
modules are loaded before the clock starts. Prints one JSON line.
argv: OWN_ADDRESS
"""

import asyncio
import json
import sys
import time
from datetime import timedelta
from ipaddress import IPv4Address

from async_upnp_client.aiohttp import AiohttpRequester
from async_upnp_client.client_factory import UpnpFactory
from async_upnp_client.profiles.igd import IgdDevice
from async_upnp_client.search import SsdpSearchListener

IGD2 = "urn:schemas-upnp-org:device:InternetGatewayDevice:2"


async def main(own: str) -> None:
    start = time.perf_counter()
    found: asyncio.Future = asyncio.get_running_loop().create_future()

    def on_response(headers) -> None:
        if not found.done() and headers.get("location"):
            found.set_result(headers["location"])

    listener = SsdpSearchListener(callback=on_response, source=(own, 0), search_target=IGD2,
                                  timeout=2)  # fmt: skip
    await listener.async_start()
    listener.async_search()
    location = await asyncio.wait_for(found, 10)
    listener.async_stop()
    device = await UpnpFactory(AiohttpRequester()).async_create_device(location)
    igd = IgdDevice(device, None)
    found_at = time.perf_counter()
    anywhere = IPv4Address("0.0.0.0")  # its way to say "any remote host"
    await igd.async_add_port_mapping(anywhere, 8048, "TCP", 8048, IPv4Address(own), True,
                                     "bench", timedelta(seconds=3600))  # fmt: skip
    done = time.perf_counter()
    print(json.dumps({"find": found_at - start, "add": done - found_at, "total": done - start}))


asyncio.run(main(sys.argv[1]))
