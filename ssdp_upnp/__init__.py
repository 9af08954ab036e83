"""
ssdp_upnp: SSDP advertisement and discovery for peer-to-peer nodes, and the
UPnP IGD client that opens their port on the router, on Twisted.

The public surface is re-exported here (a test pins it); the modules hold the
details. The seed's blocking API is in L{ssdp_upnp.ssdp}.
"""

from ._version import __version__ as __version__
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
from .gateway import ConnectionStatus, ExternalAddress, Gateway
from .gateway_discovery import find_gateway
from .igd import PortMapping
from .lan import Interface, select_interfaces, system_interfaces
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
