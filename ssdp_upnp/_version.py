"""The package version, in one place (pyproject reads it; SERVER headers carry it)."""

__version__ = "1.0.0a1"

#: The SERVER of our SSDP messages and descriptions (UDA: OS/version UPnP/1.1 product/version).
SERVER = f"Linux/1 UPnP/1.1 ssdp_upnp/{__version__}"
