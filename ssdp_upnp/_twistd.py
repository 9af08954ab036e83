"""
What C{twistd ssdp} loads (the plugin names this module): L{ssdp_upnp.tap}'s
options, and its node, or an error that cannot be found before the host is
read (an interface it has not, an unusable state file) said in one line.

twistd reports a usage error found while the options are parsed, but a
C{UsageError} raised by C{makeService} would reach the operator as a
traceback: here it ends the process with twistd's own status for a usage
error (1) and the message on stderr. twistd's process is the node's alone
and speaks no TLS: its reactor is told to load none (L{_types.without_tls}).
"""

from __future__ import annotations

import sys

from twisted.application.service import IService
from twisted.python import usage

from . import tap
from ._types import without_tls
from .tap import Options

__all__ = ["Options", "makeService"]


def makeService(config: Options) -> IService:
    """L{ssdp_upnp.tap.makeService} on the global reactor and the host's interfaces."""
    without_tls()  # before the node imports the reactor
    try:
        return tap.makeService(config)
    except usage.UsageError as e:
        print(f"twistd ssdp: error: {e}", file=sys.stderr)
        raise SystemExit(1) from None
