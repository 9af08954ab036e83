"""
Run inside a lab namespace with Debian's python3 and gir1.2-gssdp-1.6: browse
for an SSDP target with GNOME's GSSDP (a third-party SSDP stack) and print
every resource it reports, one JSON object a line.
argv: INTERFACE TARGET SECONDS [ADDRESS]
(ADDRESS: browse from this address: an IPv6 link-local one browses on ff02::c;
GSSDP 1.6 given a global address, or only the IPv6 family, sends no search in the lab)
"""

import json
import sys

import gi

gi.require_version("GSSDP", "1.6")
from gi.repository import GSSDP, Gio, GLib  # noqa: E402

iface, target, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
if sys.argv[4:]:
    address = Gio.InetAddress.new_from_string(sys.argv[4])
    client = GSSDP.Client.new_full(iface, address, 0, GSSDP.UDAVersion.VERSION_1_0)
else:
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
