"""python -m ssdp_upnp: the ssdp-upnp command line."""

from .cli import console

console()
