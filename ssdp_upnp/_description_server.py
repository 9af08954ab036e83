"""
The description server: the HTTP side of a node's advertisement.

It serves the node's device description and SCPD (built by
L{ssdp_upnp.description}) for GET and HEAD and nothing else: any other path is
404, any other method 405 (no GENA eventing, so no CallStranger; no control).
"""

from __future__ import annotations

from twisted.web.iweb import IRequest
from twisted.web.pages import notFound
from twisted.web.resource import IResource, Resource
from twisted.web.server import Site

from ._version import SERVER
from .description import DESCRIPTION_PATH, SCPD_PATH, build_device_description, build_scpd
from .node import NodeInfo


class _Document(Resource):
    """One XML document, for GET and HEAD; any other method (SUBSCRIBE, POST) gets 405."""

    isLeaf = True

    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.body = body

    def render_GET(self, request: IRequest) -> bytes:
        request.setHeader(b"content-type", b'text/xml; charset="utf-8"')
        return self.body

    def render_HEAD(self, request: IRequest) -> bytes:
        return self.render_GET(request)

    def render(self, request: IRequest) -> bytes:
        if request.method in (b"GET", b"HEAD"):
            return super().render(request)  # type: ignore[no-any-return]
        # SUBSCRIBE, POST, ...: no eventing, no control (and no twisted.web error page)
        request.setResponseCode(405)
        request.setHeader(b"allow", b"GET, HEAD")
        request.setHeader(b"content-type", b"text/plain")
        return b"405 method not allowed\n"


class _Documents(Resource):
    def __init__(self, documents: dict[bytes, bytes]) -> None:
        super().__init__()
        self.documents = documents

    def getChild(self, path: bytes, request: IRequest) -> IResource:
        body = self.documents.get(path)
        if body is None or request.postpath:
            return notFound("Not Found", "")
        return _Document(body)


class DescriptionSite(Site):
    """Serves the description and SCPD; anything else is 404, any method but GET/HEAD 405."""

    def __init__(self, node: NodeInfo, server: str = SERVER) -> None:
        root = _Documents(
            {
                DESCRIPTION_PATH.lstrip("/").encode(): build_device_description(node, server),
                SCPD_PATH.lstrip("/").encode(): build_scpd(),
            }
        )
        super().__init__(root)
        self.noisy = False
        self.displayTracebacks = False
