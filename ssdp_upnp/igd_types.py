"""
The type URNs of an Internet Gateway Device and its WAN connection services,
and what a gateway search asks for.

Names only (no XML parser): a gateway search sends these before the
description side (L{ssdp_upnp.igd}, lxml, the HTTP client) has loaded.
"""

WAN_IP_2 = "urn:schemas-upnp-org:service:WANIPConnection:2"
WAN_IP_1 = "urn:schemas-upnp-org:service:WANIPConnection:1"
WAN_PPP_1 = "urn:schemas-upnp-org:service:WANPPPConnection:1"
IGD_2 = "urn:schemas-upnp-org:device:InternetGatewayDevice:2"
IGD_1 = "urn:schemas-upnp-org:device:InternetGatewayDevice:1"
#: What a gateway search asks for, in order of preference (PROTOCOL.md: some
#: gateways answer only some of them).
GATEWAY_SEARCH_TARGETS = (IGD_2, IGD_1, WAN_IP_2, WAN_IP_1, WAN_PPP_1)
