"""
The exceptions ssdp_upnp raises, in one tree.

Everything derives from L{SSDPUPnPError}, so a caller can catch the whole
library's failures with one clause, or a branch of the tree with another.
"""

from __future__ import annotations

from collections.abc import Iterable


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

    @classmethod
    def unknown(cls, wanted: str, families: Iterable[int], present: str) -> NoInterfaceError:
        """C{wanted} is no interface of C{families} here; C{present} lists what there is."""
        kinds = " or ".join(f"IPv{f}" for f in sorted(families))
        return cls(f"no {kinds} interface {wanted!r}; this host has: {present}")


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


class MappingRefused(GatewayError):
    """
    The gateway answered and refused (a UPnP SOAP fault, a PCP or NAT-PMP
    result code): it is still there and usable for other requests.
    """


class NoResponse(GatewayError):
    """The gateway did not answer a PCP or NAT-PMP request (after every retransmission)."""


class MappingNotHeld(MappingRefused):
    """
    PCP and NAT-PMP delete only what this client mapped (PCP needs the
    mapping's nonce): another's mapping ends with its lifetime.
    """


class UPnPError(MappingRefused):
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


class PinholeSpaceExhausted(UPnPError):
    """701: the firewall has no room for another pinhole."""

    code = 701


class FirewallDisabled(UPnPError):
    """702: the IPv6 firewall is off (then nothing needs a pinhole)."""

    code = 702


class InboundPinholeNotAllowed(UPnPError):
    """703: the firewall is on but lets no pinhole be opened."""

    code = 703


class NoSuchPinhole(UPnPError):
    """704: no pinhole of that UniqueID."""

    code = 704


class PinholeProtocolNotSupported(UPnPError):
    code = 705


class InternalPortWildcardingNotAllowed(UPnPError):
    code = 706


class ProtocolWildcardingNotAllowed(UPnPError):
    code = 707


class WildcardNotPermittedInSrcIP(UPnPError):
    code = 708


class NoPacketSent(UPnPError):
    """709: CheckPinholeWorking saw no packet through the pinhole yet."""

    code = 709


class InvalidPortControlMessage(InvalidGatewayResponse):
    """A PCP or NAT-PMP datagram that is not a well-formed message (length, version, opcode)."""


class PCPError(MappingRefused):
    """
    A PCP (RFC 6887) result code other than SUCCESS. Known codes have their
    own subclass (see L{ssdp_upnp.pcp.ERRORS}); others are raised as this class.

    @ivar lifetime: how long the server says the error holds (0 for long ones).
    """

    code = 0
    name = "UNKNOWN"

    def __init__(self, code: int, lifetime: int = 0, opcode: str = "MAP") -> None:
        known = type(self).name if type(self).code == code else f"result {code}"
        super().__init__(f"PCP {opcode} refused: {code} {known}")
        self.code = code
        self.lifetime = lifetime
        self.opcode = opcode


class PCPUnsupportedVersion(PCPError):
    """UNSUPP_VERSION: the server speaks another version (0: only NAT-PMP)."""

    code = 1
    name = "UNSUPP_VERSION"


class PCPNotAuthorized(PCPError):
    """NOT_AUTHORIZED: refused by policy, or another client's mapping (nonce)."""

    code = 2
    name = "NOT_AUTHORIZED"


class PCPMalformedRequest(PCPError):
    code = 3
    name = "MALFORMED_REQUEST"


class PCPUnsupportedOpcode(PCPError):
    code = 4
    name = "UNSUPP_OPCODE"


class PCPUnsupportedOption(PCPError):
    code = 5
    name = "UNSUPP_OPTION"


class PCPMalformedOption(PCPError):
    code = 6
    name = "MALFORMED_OPTION"


class PCPNetworkFailure(PCPError):
    """NETWORK_FAILURE: e.g. the gateway has no external address yet (short lifetime)."""

    code = 7
    name = "NETWORK_FAILURE"


class PCPNoResources(PCPError):
    code = 8
    name = "NO_RESOURCES"


class PCPUnsupportedProtocol(PCPError):
    code = 9
    name = "UNSUPP_PROTOCOL"


class PCPUserExceededQuota(PCPError):
    code = 10
    name = "USER_EX_QUOTA"


class PCPCannotProvideExternal(PCPError):
    """CANNOT_PROVIDE_EXTERNAL: the suggested port is taken and PREFER_FAILURE was asked."""

    code = 11
    name = "CANNOT_PROVIDE_EXTERNAL"


class PCPAddressMismatch(PCPError):
    """ADDRESS_MISMATCH: the source address is not the client address sent (a NAT between)."""

    code = 12
    name = "ADDRESS_MISMATCH"


class PCPExcessiveRemotePeers(PCPError):
    code = 13
    name = "EXCESSIVE_REMOTE_PEERS"


class NATPMPError(MappingRefused):
    """
    A NAT-PMP (RFC 6886) result code other than success. Known codes have
    their own subclass (see L{ssdp_upnp.natpmp.ERRORS}).
    """

    code = 0
    name = "UNKNOWN"

    def __init__(self, code: int, opcode: str = "MAP") -> None:
        known = type(self).name if type(self).code == code else f"result {code}"
        super().__init__(f"NAT-PMP {opcode} refused: {code} {known}")
        self.code = code
        self.opcode = opcode


class NATPMPUnsupportedVersion(NATPMPError):
    code = 1
    name = "Unsupported Version"


class NATPMPNotAuthorized(NATPMPError):
    """Not Authorized/Refused: the box supports mapping but the user turned it off."""

    code = 2
    name = "Not Authorized/Refused"


class NATPMPNetworkFailure(NATPMPError):
    code = 3
    name = "Network Failure"


class NATPMPOutOfResources(NATPMPError):
    code = 4
    name = "Out of resources"


class NATPMPUnsupportedOpcode(NATPMPError):
    code = 5
    name = "Unsupported opcode"
