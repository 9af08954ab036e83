# Kept tiny: Twisted imports every plugin file when it scans for plugins.
from twisted.application.service import ServiceMaker

ssdp = ServiceMaker(
    "ssdp_upnp",
    "ssdp_upnp._twistd",
    "Advertise this node and discover its peers on the LAN by SSDP.",
    "ssdp",
)
