"""
A port to keep forwarded on the gateway, and the protocols there are: pure,
and light (the node's options are checked with it before any NAT code loads).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ConfigurationError

PROTOCOLS = ("TCP", "UDP")


def check_protocol(protocol: str) -> str:
    upper = protocol.upper()
    if upper not in PROTOCOLS:
        raise ConfigurationError(f"protocol {protocol!r} is not TCP or UDP")
    return upper


_FORWARD = re.compile(r"^(\d{1,5})(?::(\d{1,5}))?(?:/(tcp|udp))?$", re.IGNORECASE)


@dataclass(frozen=True)
class Forward:
    """A port to keep forwarded: external port → this host's internal port."""

    internal_port: int
    external_port: int
    protocol: str = "TCP"

    @classmethod
    def parse(cls, spec: str) -> Forward:
        """
        C{"8048"}, C{"8048:18048"} or C{"8048:18048/udp"} (INTERNAL[:EXTERNAL][/PROTO]).

        @raise ConfigurationError: for anything else.
        """
        match = _FORWARD.match(spec.strip())
        if match is None:
            raise ConfigurationError(f"forward {spec!r} is not INTERNAL[:EXTERNAL][/tcp|/udp]")
        internal = int(match[1])
        external = int(match[2]) if match[2] else internal
        for port in (internal, external):
            if not 1 <= port <= 65535:
                raise ConfigurationError(f"forward {spec!r}: port {port} is not in 1..65535")
        return cls(internal, external, check_protocol(match[3] or "TCP"))
