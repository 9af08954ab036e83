"""
ssdp_upnp: SSDP advertisement and discovery for peer-to-peer nodes, on Twisted.

The public surface is re-exported here; the modules hold the details.
"""

from .advertiser import AdvertiserService, SSDPAdvertiser
from .discovery import DiscoveryService, PeerObserver, discover
from .errors import (
    ConfigurationError,
    MessageError,
    NoInterfaceError,
    SSDPUPnPError,
    StateFileError,
)
from .interfaces import Interface, select_interfaces, system_interfaces
from .node import NodeInfo
from .peers import Peer, RemovalReason
from .state import NodeState, load_state

__version__ = "0.1.0"

__all__ = [
    "AdvertiserService",
    "ConfigurationError",
    "DiscoveryService",
    "Interface",
    "MessageError",
    "NoInterfaceError",
    "NodeInfo",
    "NodeState",
    "Peer",
    "PeerObserver",
    "RemovalReason",
    "SSDPAdvertiser",
    "SSDPUPnPError",
    "StateFileError",
    "discover",
    "load_state",
    "select_interfaces",
    "system_interfaces",
]
