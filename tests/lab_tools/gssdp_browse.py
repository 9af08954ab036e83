"""
Run inside a lab namespace with Debian's python3 and gir1.2-gssdp-1.6: browse
for an SSDP target with GNOME's GSSDP (a third-party SSDP stack) and print
every resource it reports, one JSON object a line.
argv: INTERFACE TARGET SECONDS
"""

import json
import sys

import gi

gi.require_version("GSSDP", "1.6")
from gi.repository import GSSDP, GLib  # noqa: E402

iface, target, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
client = GSSDP.Client.new(iface)
browser = GSSDP.ResourceBrowser.new(client, target)


def available(browser, usn, locations):
    print(json.dumps({"event": "available", "usn": usn, "locations": list(locations)}), flush=True)


def unavailable(browser, usn):
    print(json.dumps({"event": "unavailable", "usn": usn}), flush=True)


browser.connect("resource-available", available)
browser.connect("resource-unavailable", unavailable)
browser.set_active(True)
loop = GLib.MainLoop()
GLib.timeout_add(int(seconds * 1000), loop.quit)
loop.run()
