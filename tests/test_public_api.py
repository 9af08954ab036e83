"""The public surface, pinned (a change here is a change for every user)."""

from __future__ import annotations

import ssdp_upnp
import ssdp_upnp.ssdp


def test_package_exports() -> None:
    assert sorted(ssdp_upnp.__all__) == [
        "AdvertiserService", "ConfigurationError", "ConflictInMappingEntry", "ConnectionStatus",
        "DiscoveryService", "ExternalAddress", "Forward", "Gateway", "GatewayError",
        "GatewayHTTPError", "Interface", "InvalidGatewayResponse", "MessageError", "Nat",
        "NoGatewayFound", "NoInterfaceError", "NodeInfo", "NodeState", "NotAuthorized", "Peer",
        "PeerObserver", "PortMapping", "PortMappingService", "RemovalReason", "SSDPAdvertiser",
        "SSDPUPnPError", "StateFileError", "UPnPError", "discover", "find_gateway",
        "load_state", "select_interfaces", "system_interfaces",
    ]  # fmt: skip
    for name in ssdp_upnp.__all__:
        assert getattr(ssdp_upnp, name) is not None


def test_seed_names() -> None:
    from ssdp_upnp.ssdp import Client, Nat, Server, gen_logger

    assert callable(gen_logger)
    for cls, methods in ((Server, ("start", "run", "stop")), (Client, ("start", "run", "stop")),
                         (Nat, ("addPortForward", "removePortForward"))):  # fmt: skip
        for method in methods:
            assert callable(getattr(cls, method))
    assert set(ssdp_upnp.ssdp.__all__) >= {"Server", "Client", "Nat", "gen_logger"}
