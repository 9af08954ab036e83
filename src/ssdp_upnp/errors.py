"""
The exceptions ssdp_upnp raises, in one tree.

Everything derives from L{SSDPUPnPError}, so a caller can catch the whole
library's failures with one clause, or a branch of the tree with another.
"""

from __future__ import annotations


class SSDPUPnPError(Exception):
    """Base class of every error raised by ssdp_upnp."""


class MessageError(SSDPUPnPError):
    """An SSDP datagram could not be understood or built."""


class MalformedMessage(MessageError):
    """The bytes are not a well-formed SSDP message (bad start line or header)."""


class MessageTooLarge(MessageError):
    """A datagram, a line, or the header count is over the hard limits."""


class UnsupportedMessage(MessageError):
    """A well-formed HTTP-over-UDP message that is not SSDP (another method or status)."""


class MissingHeader(MessageError):
    """A header that this kind of SSDP message requires is absent."""

    def __init__(self, kind: str, header: str) -> None:
        super().__init__(f"{kind} without {header}")
        self.kind = kind
        self.header = header


class InvalidHeader(MessageError):
    """A header is present but its value is not acceptable."""

    def __init__(self, header: str, value: str, why: str) -> None:
        super().__init__(f"invalid {header} {value[:80]!r}: {why}")
        self.header = header
        self.value = value


class ConfigurationError(SSDPUPnPError, ValueError):
    """An option given to a service (product, network, port, interface ...) is not usable."""


class NoInterfaceError(ConfigurationError):
    """No network interface matched what was asked for."""


class StateFileError(SSDPUPnPError):
    """The node's state file (uuid, boot id) cannot be read or written."""
