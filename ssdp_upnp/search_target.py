"""
Search target (ST) matching, as a device answering M-SEARCH does it (UDA 1.1 §1.3.2).

Pure code. A device advertises a set of notification types (NT); an M-SEARCH
names one search target; L{match_search_target} says which NTs answer it and
which ST each answer must carry.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

SSDP_ALL = "ssdp:all"
ROOT_DEVICE = "upnp:rootdevice"

_URN = re.compile(
    r"^urn:(?P<domain>[A-Za-z0-9.-]{1,128}):(?P<kind>device|service):"
    r"(?P<type>[A-Za-z0-9_-]{1,64}):(?P<version>[0-9]{1,9})$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class TypeURN:
    """A device or service type, C{urn:domain:device|service:type:version}."""

    domain: str
    kind: str
    type: str
    version: int

    def __str__(self) -> str:
        return f"urn:{self.domain}:{self.kind}:{self.type}:{self.version}"

    def with_version(self, version: int) -> TypeURN:
        return TypeURN(self.domain, self.kind, self.type, version)


def parse_type_urn(value: str) -> TypeURN | None:
    """Parse a device or service type URN; None if C{value} is not one."""
    match = _URN.match(value.strip())
    if match is None:
        return None
    return TypeURN(
        domain=match["domain"].lower(),
        kind=match["kind"].lower(),
        type=match["type"],
        version=int(match["version"]),
    )


@dataclass(frozen=True)
class Answer:
    """One answer to a search: the NT it comes from and the ST to put in the reply."""

    nt: str
    st: str


def match_search_target(st: str, advertised: Sequence[str]) -> list[Answer]:
    """
    The answers a device advertising C{advertised} owes to a search for C{st}:

      - C{ssdp:all}: one answer per advertised NT, each echoing its NT;
      - C{upnp:rootdevice} and C{uuid:...}: the NT itself (uuids compare without case);
      - a type URN: an advertised type of the same domain, kind and name whose
        version is at least the one searched for; the answer echoes the searched
        version (a C{:2} device answers C{:1}, never the reverse).
    """
    st = st.strip()
    if st.lower() == SSDP_ALL:
        return [Answer(nt, nt) for nt in advertised]
    if st.lower() == ROOT_DEVICE:
        return [Answer(nt, nt) for nt in advertised if nt == ROOT_DEVICE]
    if st[:5].lower() == "uuid:":
        return [Answer(nt, nt) for nt in advertised if nt.lower() == st.lower()]
    wanted = parse_type_urn(st)
    if wanted is None:
        return []
    answers = []
    for nt in advertised:
        have = parse_type_urn(nt)
        if (
            have is not None
            and (have.domain, have.kind, have.type) == (wanted.domain, wanted.kind, wanted.type)
            and have.version >= wanted.version
        ):
            answers.append(Answer(nt, st))
    return answers
