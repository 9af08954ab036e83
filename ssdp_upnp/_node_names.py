"""
The checks of a node's names (product, network, node id, uuid, port): light
(only C{re}), so a command line can check its arguments before loading the rest.
L{ssdp_upnp.node} re-exports them.
"""

from __future__ import annotations

import re

from .errors import ConfigurationError

__all__ = ["check_network", "check_node_id", "check_port", "check_product", "check_uuid"]

_PRODUCT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_NETWORK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_NODE_ID = re.compile(r"^[\x21-\x7e]{1,128}$")


def check_product(product: str) -> str:
    """
    @return: C{product} if it can be a UPnP type name.
    @raise ConfigurationError: otherwise.
    """
    if not _PRODUCT.match(product):
        raise ConfigurationError(
            f"product {product[:80]!r} must be 1-64 letters, digits, '-' or '_'"
            " and start with a letter or digit"
        )
    return product


def check_network(network: str) -> str:
    if not _NETWORK.match(network):
        raise ConfigurationError(
            f"network {network[:80]!r} must be 1-64 letters, digits, '.', '-' or '_'"
        )
    return network


def check_port(port: int) -> int:
    if not 1 <= port <= 65535:
        raise ConfigurationError(f"port {port} is not in 1..65535")
    return port


def check_node_id(node_id: str) -> str:
    if not _NODE_ID.match(node_id):
        raise ConfigurationError("node id must be 1-128 printable ASCII characters, no spaces")
    return node_id


def check_uuid(value: str) -> str:
    """
    @return: the uuid in its canonical lower-case form, without C{uuid:}.
    @raise ConfigurationError: if C{value} is not a uuid.
    """
    import uuid as uuidlib

    text = value[5:] if value[:5].lower() == "uuid:" else value
    try:
        return str(uuidlib.UUID(text))
    except ValueError:
        raise ConfigurationError(f"{value[:80]!r} is not a uuid") from None
