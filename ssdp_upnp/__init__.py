"""
ssdp_upnp: SSDP advertisement and discovery for peer-to-peer nodes, and the
UPnP IGD client that opens their port on the router, on Twisted.

The public surface is re-exported here (a test pins it); the modules hold the
details. The seed's blocking API is in L{ssdp_upnp.ssdp}.
"""

from __future__ import annotations

from ._version import __version__ as __version__

#: what type checkers see below (typing itself is not imported: ``ssdp-upnp --help`` is quick)
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# The public surface loads on first use (PEP 562): importing the package, or a
# node that maps no port, does not load the HTTP client or the XML parser.
_WHERE = {
    "AdvertiserService": "advertiser",
    "ConfigurationError": "errors",
    "ConflictInMappingEntry": "errors",
    "ConnectionStatus": "gateway",
    "DiscoveryService": "discovery",
    "ExternalAddress": "mapping",
    "Forward": "forward",
    "Gateway": "gateway",
    "GatewayError": "errors",
    "GatewayHTTPError": "errors",
    "Interface": "lan",
    "InvalidGatewayResponse": "errors",
    "MessageError": "errors",
    "Nat": "portmapping",
    "NoGatewayFound": "errors",
    "NoInterfaceError": "errors",
    "NodeInfo": "node",
    "NodeState": "state",
    "NotAuthorized": "errors",
    "Peer": "peers",
    "PeerObserver": "discovery",
    "PortMapping": "mapping",
    "PortMappingService": "portmapping",
    "RemovalReason": "peers",
    "SSDPAdvertiser": "advertiser",
    "SSDPUPnPError": "errors",
    "StateFileError": "errors",
    "UPnPError": "errors",
    "discover": "discovery",
    "find_gateway": "gateway_discovery",
    "load_state": "state",
    "select_interfaces": "lan",
    "system_interfaces": "lan",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'ssdp_upnp' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])


if TYPE_CHECKING:  # what mypy and readers see: the same names, imported
    from .advertiser import AdvertiserService, SSDPAdvertiser
    from .discovery import DiscoveryService, PeerObserver, discover
    from .errors import (
        ConfigurationError,
        ConflictInMappingEntry,
        GatewayError,
        GatewayHTTPError,
        InvalidGatewayResponse,
        MessageError,
        NoGatewayFound,
        NoInterfaceError,
        NotAuthorized,
        SSDPUPnPError,
        StateFileError,
        UPnPError,
    )
    from .gateway import ConnectionStatus, Gateway
    from .gateway_discovery import find_gateway
    from .lan import Interface, select_interfaces, system_interfaces
    from .mapping import ExternalAddress, PortMapping
    from .node import NodeInfo
    from .peers import Peer, RemovalReason
    from .portmapping import Forward, Nat, PortMappingService
    from .state import NodeState, load_state

__all__ = [
    "AdvertiserService",
    "ConfigurationError",
    "ConflictInMappingEntry",
    "ConnectionStatus",
    "DiscoveryService",
    "ExternalAddress",
    "Forward",
    "Gateway",
    "GatewayError",
    "GatewayHTTPError",
    "Interface",
    "InvalidGatewayResponse",
    "MessageError",
    "Nat",
    "NoGatewayFound",
    "NoInterfaceError",
    "NodeInfo",
    "NodeState",
    "NotAuthorized",
    "Peer",
    "PeerObserver",
    "PortMapping",
    "PortMappingService",
    "RemovalReason",
    "SSDPAdvertiser",
    "SSDPUPnPError",
    "StateFileError",
    "UPnPError",
    "discover",
    "find_gateway",
    "load_state",
    "select_interfaces",
    "system_interfaces",
]
