"""
The helpers of ssdp-upnp 0.1.0, for programs written for it:
C{from ssdp_upnp.util import gen_logger, get_local_IP}.
"""

from __future__ import annotations

from .errors import NoInterfaceError
from .lan import default_gateways, interface_for, lan_interfaces
from .ssdp import gen_logger

__all__ = ["gen_logger", "get_local_IP"]


def get_local_IP() -> str:  # noqa: N802 - 0.1.0's name
    """
    This host's IPv4 address on the LAN: that of the interface that routes to
    the default gateway, else of the first LAN interface, else 127.0.0.1.
    (0.1.0 returned what the host name resolves to, often 127.0.1.1.)
    """
    try:
        interfaces = lan_interfaces(families=(4,))
    except NoInterfaceError:
        return "127.0.0.1"
    for gateway in default_gateways():
        interface = interface_for(interfaces, gateway)
        if interface is not None:
            return interface.ip
    lan = [i for i in interfaces if not i.is_loopback]
    return lan[0].ip if lan else "127.0.0.1"
