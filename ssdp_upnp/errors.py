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


class LegacyMessageError(MessageError):
    """A datagram that is not an ssdp-upnp 0.1.0 node's answer either."""


class ConfigurationError(SSDPUPnPError, ValueError):
    """An option given to a service (product, network, port, interface ...) is not usable."""


class NoInterfaceError(ConfigurationError):
    """No network interface matched what was asked for."""


class InvalidDescription(SSDPUPnPError):
    """A device description lacks what a node's description must hold."""


class UnsafeXML(SSDPUPnPError):
    """An XML document is not well-formed, too large, or uses a refused feature (DOCTYPE)."""


class FacadeError(SSDPUPnPError, RuntimeError):
    """The blocking API was used where it cannot work (inside the reactor thread)."""


class CallTimeout(SSDPUPnPError, TimeoutError):
    """A blocking call did not finish in its time."""


class StateFileError(SSDPUPnPError):
    """The node's state file (uuid, boot id) cannot be read or written."""


class GatewayError(SSDPUPnPError):
    """Talking to the Internet gateway device (the router) failed."""


class NoGatewayFound(GatewayError):
    """No usable UPnP IGD answered in time."""


class GatewayHTTPError(GatewayError):
    """An HTTP exchange with the gateway failed (connection, timeout, status, size, redirect)."""


class InvalidGatewayResponse(GatewayError):
    """The gateway sent a document we cannot use (bad XML, missing fields, refused features)."""


class UPnPError(GatewayError):
    """
    A SOAP fault with a UPnP error code. Known codes have their own subclass
    (see L{ssdp_upnp.soap.ERRORS}); others are raised as this class.
    """

    code = 0

    def __init__(self, code: int, description: str, action: str = "") -> None:
        super().__init__(f"{action or 'UPnP action'} failed: {code} {description}".strip())
        self.code = code
        self.description = description
        self.action = action


class InvalidArgs(UPnPError):
    code = 402


class ActionFailed(UPnPError):
    code = 501


class NotAuthorized(UPnPError):
    """606: in secure mode the internal client must be the requester itself."""

    code = 606


class SpecifiedArrayIndexInvalid(UPnPError):
    """713: the end of GetGenericPortMappingEntry's list."""

    code = 713


class NoSuchEntryInArray(UPnPError):
    code = 714


class WildCardNotPermitted(UPnPError):
    code = 715


class ConflictInMappingEntry(UPnPError):
    """718: the external port is mapped to another client (or forwarded by hand)."""

    code = 718


class SamePortValuesRequired(UPnPError):
    code = 724


class OnlyPermanentLeasesSupported(UPnPError):
    code = 725


class NoPortMapsAvailable(UPnPError):
    code = 728


class ConflictWithOtherMechanisms(UPnPError):
    code = 729


class NoSuchEntryInPortMappingList(UPnPError):
    """730 (IGD2): GetListOfPortMappings found nothing in the range asked."""

    code = 730


class InconsistentParameters(UPnPError):
    code = 733
