"""
Run inside a lab host: drive the gateway with ssdp_upnp's Deferred API and print
the result as one JSON line (errors too, as {"error": class, "code": UPnP code}).

argv: [--url DESCRIPTION_URL] [--families 4|6|46] COMMAND ARGS...
  status | external-ip | list
  add EXTERNAL INTERNAL PROTO [CLIENT] [LEASE] | add-any EXTERNAL INTERNAL PROTO
  get EXTERNAL PROTO | delete EXTERNAL PROTO
"""

import dataclasses
import json
import sys
import time

from twisted.internet.defer import Deferred
from twisted.internet.task import react

from ssdp_upnp.errors import SSDPUPnPError
from ssdp_upnp.gateway_discovery import find_gateway
from ssdp_upnp.lan import select_interfaces, system_interfaces


def peak_rss_kb():
    """VmHWM: this process image's peak resident set (ru_maxrss would carry the parent's)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def plain(value):
    if dataclasses.is_dataclass(value):
        return dataclasses.asdict(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


async def main(reactor, *argv):
    argv = list(argv)
    url = None
    if argv[:1] == ["--url"]:
        url = argv[1]
        argv = argv[2:]
    families = (4, 6)
    if argv[:1] == ["--families"]:
        families = tuple(int(f) for f in argv[1])
        argv = argv[2:]
    command, args = argv[0], argv[1:]
    started = time.perf_counter()
    try:
        gateway = await find_gateway(
            reactor,
            select_interfaces(system_interfaces(), families=families),
            description_url=url,
            timeout=8,
        )
        found = time.perf_counter()
        if command == "status":
            result = await gateway.get_status()
        elif command == "external-ip":
            result = await gateway.get_external_ip()
        elif command == "list":
            result = await gateway.list_mappings()
        elif command == "add":
            client = args[3] if len(args) > 3 else None
            lease = int(args[4]) if len(args) > 4 else 3600
            result = await gateway.add_mapping(
                int(args[0]), int(args[1]), args[2], client, lease, description="ssdp_upnp-test"
            )
        elif command == "add-any":
            result = await gateway.add_any_mapping(int(args[0]), int(args[1]), args[2])
        elif command == "get":
            result = await gateway.get_mapping(int(args[0]), args[1])
        elif command == "delete":
            result = await gateway.delete_mapping(int(args[0]), args[1])
        else:
            raise SystemExit(f"unknown command {command}")
        done = time.perf_counter()
        print(json.dumps({
            "result": plain(result), "igd2": gateway.is_igd2,
            "service": gateway.service.service_type, "local": gateway.local_address,
            "where": gateway.where,
            "find_seconds": found - started, "call_seconds": done - found,
            "maxrss_kb": peak_rss_kb(),
        }), flush=True)  # fmt: skip
    except SSDPUPnPError as e:
        print(json.dumps({
            "error": type(e).__name__, "code": getattr(e, "code", None), "message": str(e),
            "elapsed": time.perf_counter() - started,
            "maxrss_kb": peak_rss_kb(),
        }), flush=True)  # fmt: skip
        raise SystemExit(1) from None


react(lambda reactor: Deferred.fromCoroutine(main(reactor, *sys.argv[1:])))
